// The stand-ins for cuda/transformer.cu's host entry points in a build without CUDA.
#include "model/transformer_cuda.hpp"

#ifndef PW_HAVE_CUDA
#include "model/device.hpp"

namespace pw::cuda_host {
namespace {
void no_cuda() { require_cuda("transformer kernels"); }  // throws: this build has no CUDA
}  // namespace

void gelu_forward(const float*, float*, int64_t) { no_cuda(); }
void gelu_backward(const float*, const float*, float*, int64_t) { no_cuda(); }
void add_forward(const float*, const float*, float*, int64_t) { no_cuda(); }
void scale_inplace(float*, int64_t, float) { no_cuda(); }
void embedding_forward(const float*, const float*, const float*, float*, int, int, int) { no_cuda(); }
void embedding_backward(const float*, const float*, float*, float*, int, int, int, int, int) { no_cuda(); }
void layernorm_forward(const float*, const float*, const float*, float*, float*, float*, int64_t, int, float) {
  no_cuda();
}
void layernorm_backward(const float*, const float*, const float*, const float*, const float*, float*, float*, float*,
                        int64_t, int) {
  no_cuda();
}
void attention_forward(const float*, float*, float*, int, int, int, int) { no_cuda(); }
void attention_backward(const float*, const float*, const float*, float*, int, int, int, int) { no_cuda(); }
float sum_squares(const float*, int64_t) {
  no_cuda();
  return 0.0f;
}

}  // namespace pw::cuda_host
#endif
