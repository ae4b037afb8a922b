// Device selection, and the stand-ins for cuda/ in a build without CUDA.
#include "model/device.hpp"

#include "core/error.hpp"

namespace pw {

DeviceKind parse_device(const std::string& name) {
  if (name == "cpu") return DeviceKind::Cpu;
  if (name == "cuda") return DeviceKind::Cuda;
  usage_error("--device: '" + name + "' is not a device (cpu or cuda)");
}

const char* device_name(DeviceKind d) { return d == DeviceKind::Cuda ? "cuda" : "cpu"; }

bool cuda_built() {
#ifdef PW_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

void require_cuda(const std::string& context) {
  const CudaProbe p = cuda_probe();
  if (!p.built)
    internal_error(context + ": built without CUDA (nvcc was not found, or -DPW_CUDA=OFF); rebuild with the CUDA "
                   "Toolkit, or use --device cpu");
  if (p.devices < 1) internal_error(context + ": no CUDA device: " + p.error);
}

void check_cuda_model(ModelKind kind, bool fast) {
  if (kind == ModelKind::Gpt && fast)
    usage_error("--device cuda: the CUDA executor runs a GPT in exact mode only (this task or profile asks for fast "
                "mode); use --device cpu, or an exact task");
}

#ifndef PW_HAVE_CUDA
namespace {
[[noreturn]] void no_cuda() { internal_error("built without CUDA (nvcc was not found, or -DPW_CUDA=OFF)"); }
}  // namespace

CudaProbe cuda_probe() {
  CudaProbe p;
  p.error = "built without CUDA";
  return p;
}

std::shared_ptr<Executor> make_cuda_executor(const Tape&, bool) { no_cuda(); }

void cuda_gemm_exact_host(int, int, int, const float*, ptrdiff_t, ptrdiff_t, const float*, ptrdiff_t, ptrdiff_t,
                          const float*, float*, ptrdiff_t, int) {
  no_cuda();
}
#endif

}  // namespace pw
