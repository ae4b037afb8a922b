// Running the tape on a device (proofwork(7), EXACT MODE). Pure C++: nothing here includes a CUDA
// header; cuda/ implements the CUDA side and lib/model/device.cpp stands in for it in
// a build without CUDA. Exact mode on the GPU keeps the exact-mode contract, so a step
// gives the same bits as run_step on the CPU; fast mode uses cuBLAS (TF32 allowed).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/tape.hpp"

namespace pw {

enum class DeviceKind : uint8_t { Cpu, Cuda };

// "cpu" or "cuda"; anything else is a usage error (exit 2).
DeviceKind parse_device(const std::string& name);
const char* device_name(DeviceKind d);  // "cpu", "cuda"

// What this build and this machine offer. cuda_probe never throws: `error` says why
// there is no usable device ("built without CUDA", the driver's message, "0 devices").
struct CudaProbe {
  bool built = false;    // compiled with PW_HAVE_CUDA
  int devices = 0;       // cudaGetDeviceCount
  std::string name;      // device 0
  int major = 0, minor = 0;
  int64_t memory = 0;    // bytes
  std::string error;     // empty when devices > 0
};
CudaProbe cuda_probe();
bool cuda_built();

// Throws exit 4 ("no CUDA device: ..." / "built without CUDA ...") unless a CUDA
// device is usable; `context` starts the message ("--device cuda").
void require_cuda(const std::string& context);

// Runs one tape on a device. The device holds every tensor of the tape; parameters
// and optimizer state are uploaded once and downloaded only when asked (checkpoints).
// With a hook, each op's outputs are downloaded into the host workspace before the
// hook runs and uploaded again after it (a hook may change them: fault injection).
class Executor {
 public:
  virtual ~Executor() = default;
  virtual std::string describe() const = 0;   // "cuda:0 NVIDIA H200 (exact)"
  virtual bool fast() const = 0;
  // The training set (and labels), kept on the device for LoadBatch: (count, features) bytes.
  virtual void set_dataset(const uint8_t* images, const uint8_t* labels, int64_t count, int features) = 0;
  // A text task's training text (n bytes), kept on the device for LoadWindows: each step
  // sends only its B window offsets (proofwork(7), THE GPT).
  virtual void set_text(const uint8_t* text, int64_t n) = 0;
  virtual void upload(const Workspace& host, const std::vector<int>& ids) = 0;
  virtual void download(Workspace& host, const std::vector<int>& ids) = 0;
  // One op (tape index) on the device, as pw::run_op on the CPU.
  virtual void run_op(int op_index, const StepContext& ctx) = 0;
  // A whole step; `host` receives op outputs only when `hook` is set.
  virtual void run_step(const StepContext& ctx, Workspace& host, const OpHook& hook = nullptr) = 0;
  virtual float loss() = 0;  // of the last step (downloads one float)
  // As pw::forward_logits with the parameters held on the device.
  virtual void forward_logits(const uint8_t* images, int64_t n, float input_scale, std::vector<float>& logits) = 0;
  virtual void synchronize() = 0;
};

// A CUDA executor on device 0 for `tape`; fast = cuBLAS/TF32 instead of the exact
// kernels. Throws exit 4 when there is no device or the build has no CUDA, and
// check_cuda_model's usage error.
std::shared_ptr<Executor> make_cuda_executor(const Tape& tape, bool fast);

// What the CUDA executor runs (proofwork(7), THE TAPE): the MLP in exact and fast mode,
// the GPT in exact mode only. A GPT in fast mode is a usage error (exit 2) that says
// to use --device cpu or an exact task.
void check_cuda_model(ModelKind kind, bool fast);

// Exact GEMM on the device from host buffers (tests): the same contract and views as
// gemm_exact, C (M×N, row stride ldc); A spans (M-1)·rs + (K-1)·cs + 1 floats, etc.
// slab: the kernel's K slab (8 or 16; 0 for the default), which must not change the bits.
void cuda_gemm_exact_host(int M, int N, int K, const float* A, ptrdiff_t a_rs, ptrdiff_t a_cs, const float* B,
                          ptrdiff_t b_rs, ptrdiff_t b_cs, const float* bias, float* C, ptrdiff_t ldc, int slab = 0);

}  // namespace pw
