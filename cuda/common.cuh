// What every file in cuda/ shares: error checks that become pw::Error (exit 4), device
// memory, grid-stride loops and grid sizes. Built with -fmad=false (cuda/CMakeLists.txt): no contraction, fma only
// where written (__fmaf_rn / fmaf_exact), IEEE division and sqrt (proofwork(7), EXACT MODE).
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <utility>

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

// One device allocation, zeroed, freed with its owner.
struct DeviceMemory {
  void* p = nullptr;
  DeviceMemory() = default;
  explicit DeviceMemory(size_t bytes) {
    PW_CU(cudaMalloc(&p, bytes ? bytes : 4));
    PW_CU(cudaMemset(p, 0, bytes ? bytes : 4));
  }
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
  DeviceMemory(DeviceMemory&& o) noexcept : p(o.p) { o.p = nullptr; }
  DeviceMemory& operator=(DeviceMemory&& o) noexcept {
    std::swap(p, o.p);
    return *this;
  }
  ~DeviceMemory() {
    if (p) cudaFree(p);
  }
  template <class T>
  T* as() const {
    return static_cast<T*>(p);
  }
};

// A grid-stride loop: i runs over [0, n) across the whole grid.
#define PW_GRID_STRIDE(i, n) \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

inline unsigned blocks_for(int64_t n, int threads) {
  int64_t b = (n + threads - 1) / threads;
  return unsigned(b < 1 ? 1 : (b > 65535 * 8 ? 65535 * 8 : b));  // grid-stride loops cover the rest
}

}  // namespace pw::cuda
