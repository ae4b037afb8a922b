// What every file in cuda/ shares: error checks that become pw::Error (exit 4), and
// grid sizes. Built with -fmad=false (cuda/CMakeLists.txt): no contraction, fma only
// where written (__fmaf_rn / fmaf_exact), IEEE division and sqrt (proofwork(7), EXACT MODE).
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "core/error.hpp"

namespace pw::cuda {

[[noreturn]] inline void fail(const char* what, const char* why) {
  internal_error(std::string("CUDA: ") + what + ": " + why);
}

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail(what, cudaGetErrorString(e));
}

inline void check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) fail(what, cublasGetStatusString(s));
}

#define PW_CU(call) ::pw::cuda::check((call), #call)
// After a kernel launch: launch errors (bad configuration) surface here.
#define PW_CU_LAUNCHED(name) ::pw::cuda::check(cudaGetLastError(), name)

inline unsigned blocks_for(int64_t n, int threads) {
  int64_t b = (n + threads - 1) / threads;
  return unsigned(b < 1 ? 1 : (b > 65535 * 8 ? 65535 * 8 : b));  // grid-stride loops cover the rest
}

}  // namespace pw::cuda
