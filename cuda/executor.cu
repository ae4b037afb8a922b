// The CUDA executor: every tensor of a tape lives on device 0; a step launches one
// kernel (or a cuBLAS call) per op on one stream. Exact mode runs the kernels of
// gemm.cu / ops.cu, which give the CPU's bits; fast mode runs the GEMMs on cuBLAS
// (TF32 tensor cores allowed) and fuses element-wise work: bias + ReLU after each
// forward GEMM, softmax-CE forward + backward, all optimizer updates in one launch;
// bias gradients are a cuBLAS gemv against a vector of ones. A fast step is captured
// once into a CUDA graph and replayed (a step of small GEMMs is bound by launch
// latency otherwise); what changes between steps -- the batch indices and the
// optimizer's scalars -- is copied to fixed device buffers before each replay.
// PW_CUDA_GRAPHS=0 launches op by op instead (same kernels, same bits).
#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "common.cuh"
#include "kernels.cuh"
#include "model/device.hpp"
#include "model/gpt.hpp"
#include "transformer.cuh"
#include "tensor/gemm.hpp"

namespace pw {
namespace {

using cuda::DevMat;

using cuda::DeviceMemory;

class CudaExecutor final : public Executor {
 public:
  CudaExecutor(const Tape& tape, bool fast) : tape_(tape), fast_(fast) {
    check_cuda_model(tape_.kind, fast_);
    PW_CU(cudaSetDevice(0));
    cudaDeviceProp prop;
    PW_CU(cudaGetDeviceProperties(&prop, 0));
    name_ = std::string("cuda:0 ") + prop.name + (fast ? " (fast)" : " (exact)");
    PW_CU(cudaStreamCreate(&s_));
    if (fast_) {
      PW_CU(cublasCreate(&blas_));
      PW_CU(cublasSetStream(blas_, s_));
      PW_CU(cublasSetMathMode(blas_, CUBLAS_TF32_TENSOR_OP_MATH));
      // A workspace of our own, so that cuBLAS allocates nothing while a graph is captured.
      blas_ws_ = DeviceMemory(kBlasWorkspace);
      PW_CU(cublasSetWorkspace(blas_, blas_ws_.p, kBlasWorkspace));
      const char* g = std::getenv("PW_CUDA_GRAPHS");
      graphs_ = !(g && std::strcmp(g, "0") == 0);
      const std::vector<float> ones(size_t(tape_.batch), 1.0f);
      ones_ = DeviceMemory(ones.size() * sizeof(float));
      PW_CU(cudaMemcpy(ones_.p, ones.data(), ones.size() * sizeof(float), cudaMemcpyHostToDevice));
    }
    for (const TensorSpec& t : tape_.tensors) d_.emplace_back(size_t(t.size()) * sizeof(float));
    // The loss's rows: the batch (MLP), B·T (GPT).
    const int64_t loss_rows = tape_.logits >= 0 ? std::max<int64_t>(spec(tape_.logits).rows, tape_.batch) : tape_.batch;
    row_loss_ = DeviceMemory(size_t(loss_rows) * sizeof(float));
    if (tape_.kind == ModelKind::Gpt) {  // the GPT kernels' scratch (cuda/transformer.cuh)
      const GptSpec& g = tape_.gpt;
      const int64_t N = int64_t(tape_.batch) * g.context;
      ln_scratch_ = DeviceMemory(size_t(2 * N) * sizeof(float));
      att_scratch_ = DeviceMemory(size_t(cuda::attention_backward_scratch(tape_.batch, g.context, g.heads)) * sizeof(float));
      int64_t parts = 1;
      for (int id : tape_.grads) parts = std::max(parts, cuda::sum_squares_partials(spec(id).size()));
      ss_partials_ = DeviceMemory(size_t(parts) * sizeof(float));
      ss_out_ = DeviceMemory(tape_.grads.size() * sizeof(float));
    }
    idx_ = DeviceMemory(size_t(tape_.batch) * sizeof(uint32_t));
    scalars_ = DeviceMemory(sizeof(Scalars));
    for (int r = 0; r < kRing; r++) {
      PW_CU(cudaMallocHost(&pinned_[r], size_t(tape_.batch) * sizeof(uint32_t)));
      PW_CU(cudaMallocHost(&pinned_scalars_[r], sizeof(Scalars)));
      PW_CU(cudaEventCreateWithFlags(&copied_[r], cudaEventDisableTiming));
    }
  }
  ~CudaExecutor() override {
    if (s_) cudaStreamSynchronize(s_);
    if (exec_) cudaGraphExecDestroy(exec_);
    for (int r = 0; r < kRing; r++) {
      if (pinned_[r]) cudaFreeHost(pinned_[r]);
      if (pinned_scalars_[r]) cudaFreeHost(pinned_scalars_[r]);
      if (copied_[r]) cudaEventDestroy(copied_[r]);
    }
    if (blas_) cublasDestroy(blas_);
    d_.clear();
    if (s_) cudaStreamDestroy(s_);
  }

  std::string describe() const override { return name_; }
  bool fast() const override { return fast_; }

  void set_dataset(const uint8_t* images, const uint8_t* labels, int64_t count, int features) override {
    images_ = DeviceMemory(size_t(count) * size_t(features));
    labels_ = DeviceMemory(size_t(count));
    PW_CU(cudaMemcpy(images_.p, images, size_t(count) * size_t(features), cudaMemcpyHostToDevice));
    PW_CU(cudaMemcpy(labels_.p, labels, size_t(count), cudaMemcpyHostToDevice));
  }

  void set_text(const uint8_t* text, int64_t n) override {
    text_ = DeviceMemory(size_t(n));
    text_bytes_ = n;
    if (n > 0) PW_CU(cudaMemcpy(text_.p, text, size_t(n), cudaMemcpyHostToDevice));
  }

  void upload(const Workspace& host, const std::vector<int>& ids) override {
    for (int id : ids)
      PW_CU(cudaMemcpyAsync(dev(id), host[id], bytes(id), cudaMemcpyHostToDevice, s_));
    PW_CU(cudaStreamSynchronize(s_));
  }

  void download(Workspace& host, const std::vector<int>& ids) override {
    for (int id : ids)
      PW_CU(cudaMemcpyAsync(host[id], dev(id), bytes(id), cudaMemcpyDeviceToHost, s_));
    PW_CU(cudaStreamSynchronize(s_));
  }

  // One op (tape index): the table's CUDA function for its kind (kOps, below).
  void run_op(int op_index, const StepContext& ctx) override;

  // One function per row of model/op_kinds.hpp (proofwork(7), THE TAPE), defined below the
  // class; kOps is built from the same table, so a row without its function does not link.
#define PW_CUDA_OP_DECLARE(Name, value, str) void cuda_op_##Name(const Op& op, const StepContext& ctx);
  PW_OP_KINDS(PW_CUDA_OP_DECLARE)
#undef PW_CUDA_OP_DECLARE
  using OpFn = void (CudaExecutor::*)(const Op& op, const StepContext& ctx);
  static const OpFn kOps[];

  void run_step(const StepContext& ctx, Workspace& host, const OpHook& hook) override {
    const int nops = int(tape_.ops.size());
    if (hook) {  // op by op, with host copies of what the op read and wrote
      for (int i = 0; i < nops; i++) {
        run_op(i, ctx);
        const Op& op = tape_.ops[size_t(i)];
        std::vector<int> touched(op.in);
        touched.insert(touched.end(), op.out.begin(), op.out.end());
        download(host, touched);
        hook(i, host);
        upload(host, op.out);
      }
      return;
    }
    if (!fast_) {
      for (int i = 0; i < nops; i++) run_op(i, ctx);
      return;
    }
    stage(ctx);
    // The first step runs eagerly (cuBLAS settles its kernels and loads its modules), the
    // second is captured, and every later one replays the capture.
    if (graphs_ && fast_steps_++ > 0 && (!exec_ || graph_scale_ != ctx.input_scale)) capture(ctx);
    if (exec_) {
      PW_CU(cudaGraphLaunch(exec_, s_));
      return;
    }
    for (int i = 0; i < nops;) i = run_fused(i, ctx);
  }

  float loss() override {
    float v = 0;
    PW_CU(cudaMemcpyAsync(&v, dev(tape_.loss), sizeof v, cudaMemcpyDeviceToHost, s_));
    PW_CU(cudaStreamSynchronize(s_));
    return v;
  }

  void forward_logits(const uint8_t* images, int64_t n, float input_scale, std::vector<float>& logits) override {
    if (tape_.kind != ModelKind::Mlp) internal_error("cuda executor: forward_logits is the MLP's");
    const int L = int(tape_.widths.size()) - 1, F = tape_.widths[0], C = tape_.widths.back();
    int widest = F;
    for (int w : tape_.widths) widest = w > widest ? w : widest;
    const int chunk = 8192;
    logits.assign(size_t(n) * size_t(C), 0.0f);
    DeviceMemory img(size_t(chunk) * size_t(F)), x(size_t(chunk) * size_t(widest) * sizeof(float)),
        z(size_t(chunk) * size_t(widest) * sizeof(float));
    for (int64_t r0 = 0; r0 < n; r0 += chunk) {
      const int rows = int(n - r0 < chunk ? n - r0 : chunk);
      PW_CU(cudaMemcpyAsync(img.p, images + r0 * F, size_t(rows) * size_t(F), cudaMemcpyHostToDevice, s_));
      cuda::load_rows(img.as<uint8_t>(), rows, F, input_scale, x.as<float>(), s_);
      float *in = x.as<float>(), *out = z.as<float>();
      for (int l = 0; l < L; l++) {
        const bool relu = l + 1 < L;
        linear_forward(in, rows, tape_.widths[size_t(l)], tape_.widths[size_t(l) + 1], dev(tape_.params[2 * size_t(l)]),
                       dev(tape_.params[2 * size_t(l) + 1]), out, relu ? out : nullptr);
        std::swap(in, out);
      }
      PW_CU(cudaMemcpyAsync(logits.data() + r0 * C, in, size_t(rows) * size_t(C) * sizeof(float),
                            cudaMemcpyDeviceToHost, s_));
      PW_CU(cudaStreamSynchronize(s_));
    }
  }

  void synchronize() override { PW_CU(cudaStreamSynchronize(s_)); }

 private:
  const TensorSpec& spec(int id) const { return tape_.tensors[size_t(id)]; }

  // What a step reads besides the tensors, at fixed device addresses (a graph replays them).
  struct Scalars {
    SgdScalars sgd;
    AdamwScalars adamw;
  };

  // Copies step `ctx`'s batch indices and scalars to the device, through a ring of pinned
  // buffers so the host does not wait for the device: a slot is reused only after its
  // copies of kRing steps ago are done.
  void stage(const StepContext& ctx) {
    if (!images_.p && !text_.p) internal_error("cuda executor: a step before set_dataset or set_text");
    const int r = ring_++ % kRing;
    PW_CU(cudaEventSynchronize(copied_[r]));
    std::memcpy(pinned_[r], ctx.batch_indices, size_t(tape_.batch) * sizeof(uint32_t));
    *pinned_scalars_[r] = Scalars{ctx.sgd, ctx.adamw};
    PW_CU(cudaMemcpyAsync(idx_.p, pinned_[r], size_t(tape_.batch) * sizeof(uint32_t), cudaMemcpyHostToDevice, s_));
    PW_CU(cudaMemcpyAsync(scalars_.p, pinned_scalars_[r], sizeof(Scalars), cudaMemcpyHostToDevice, s_));
    PW_CU(cudaEventRecord(copied_[r], s_));
  }

  void load_batch(const Op& op, float input_scale) {
    cuda::load_batch(images_.as<uint8_t>(), labels_.as<uint8_t>(), idx_.as<uint32_t>(), tape_.batch, tape_.widths[0],
                     input_scale, dev(op.out[0]), dev(op.out[1]), s_);
  }

  // Records one fast step (after stage) into exec_. On any failure the step runs op by
  // op from then on: graphs are a speed-up, never a requirement.
  void capture(const StepContext& ctx) {
    if (exec_) cudaGraphExecDestroy(exec_), exec_ = nullptr;
    cudaGraph_t g = nullptr;
    bool ok = cudaStreamBeginCapture(s_, cudaStreamCaptureModeThreadLocal) == cudaSuccess;
    if (ok) {
      try {
        for (int i = 0; i < int(tape_.ops.size());) i = run_fused(i, ctx);
      } catch (const Error&) {
        ok = false;
      }
      ok = cudaStreamEndCapture(s_, &g) == cudaSuccess && ok;
      ok = ok && cudaGraphInstantiate(&exec_, g, 0) == cudaSuccess;
    }
    if (g) cudaGraphDestroy(g);
    if (!ok) {
      if (exec_) cudaGraphExecDestroy(exec_), exec_ = nullptr;
      cudaGetLastError();  // clear what the failed capture left
      graphs_ = false;
      return;
    }
    graph_scale_ = ctx.input_scale;
  }
  float* dev(int id) const { return d_[size_t(id)].as<float>(); }
  size_t bytes(int id) const { return size_t(spec(id).size()) * sizeof(float); }

  // Row-major C (M×N) from column-major cuBLAS: alpha 1, beta 0.
  void gemm_blas(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float* A, int lda,
                 const float* B, int ldb, float* C, int ldc) {
    const float one = 1.0f, zero = 0.0f;
    PW_CU(cublasSgemm(blas_, ta, tb, m, n, k, &one, A, lda, B, ldb, &zero, C, ldc));
  }

  // z (rows,out) = x (rows,in)·Wᵀ + b; then a = relu(z) when `a` is set (a may be z).
  void linear_forward(const float* x, int rows, int in, int out, const float* W, const float* b, float* z, float* a) {
    if (fast_) {  // column-major: zᵀ (out×rows) = W (out×in, i.e. (Wᵀ)ᵀ) · xᵀ (in×rows)
      gemm_blas(CUBLAS_OP_T, CUBLAS_OP_N, out, rows, in, W, in, x, in, z, out);
      cuda::bias_relu(z, b, a, rows, out, s_);
      return;
    }
    cuda::gemm_exact(rows, out, in, DevMat{x, in, 1}, DevMat{W, 1, in}, b, z, out, s_);
    if (a) cuda::relu_forward(z, a, int64_t(rows) * out, s_);
  }

  // Fast mode without a hook: op i and the ops fused with it; returns the next op.
  int run_fused(int i, const StepContext& ctx) {
    const int nops = int(tape_.ops.size()), B = tape_.batch;
    const Op& op = tape_.ops[size_t(i)];
    const Op* next = i + 1 < nops ? &tape_.ops[size_t(i) + 1] : nullptr;
    if (op.kind == OpKind::LoadBatch) {  // run_step staged the indices
      load_batch(op, ctx.input_scale);
      return i + 1;
    }
    if (op.kind == OpKind::LinearForward && next && next->kind == OpKind::ReluForward && next->in[0] == op.out[0]) {
      const TensorSpec& w = spec(op.in[1]);
      linear_forward(dev(op.in[0]), B, w.cols, w.rows, dev(op.in[1]), dev(op.in[2]), dev(op.out[0]), dev(next->out[0]));
      return i + 2;
    }
    if (op.kind == OpKind::CrossEntropyForward && next && next->kind == OpKind::CrossEntropyBackward &&
        next->in[0] == op.out[0]) {
      cuda::softmax_ce_fused(dev(op.in[0]), dev(op.in[1]), dev(op.out[0]), dev(next->out[0]), row_loss_.as<float>(),
                             dev(op.out[1]), B, spec(op.in[0]).cols, s_);
      return i + 2;
    }
    if (op.kind == OpKind::SgdUpdate || op.kind == OpKind::AdamwUpdate) {
      cuda::UpdateList l{};
      int j = i;
      for (; j < nops && tape_.ops[size_t(j)].kind == op.kind && l.count < cuda::kMaxFusedTensors; j++) {
        const Op& u = tape_.ops[size_t(j)];
        l.p[l.count] = dev(u.in[0]);
        l.g[l.count] = dev(u.in[1]);
        l.m[l.count] = dev(u.in[2]);
        l.v[l.count] = op.kind == OpKind::AdamwUpdate ? dev(u.in[3]) : nullptr;
        l.n[l.count] = spec(u.in[0]).size();
        l.count++;
      }
      const Scalars* sc = scalars_.as<Scalars>();
      if (op.kind == OpKind::SgdUpdate)
        cuda::sgd_update_fused(l, &sc->sgd, s_);
      else
        cuda::adamw_update_fused(l, &sc->adamw, s_);
      return j;
    }
    run_op(i, ctx);
    return i + 1;
  }

  Tape tape_;
  bool fast_;
  std::string name_;
  cudaStream_t s_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  std::vector<DeviceMemory> d_;  // one buffer per tensor id
  DeviceMemory row_loss_, idx_, images_, labels_, ones_, scalars_, blas_ws_;
  DeviceMemory text_, ln_scratch_, att_scratch_, ss_partials_, ss_out_;  // the GPT's
  int64_t text_bytes_ = 0;
  static constexpr size_t kBlasWorkspace = size_t(32) << 20;  // cuBLAS's advice for Hopper
  bool graphs_ = false;
  cudaGraphExec_t exec_ = nullptr;
  float graph_scale_ = 0;  // the input scale the graph was captured with
  int64_t fast_steps_ = 0;
  static constexpr int kRing = 4;
  uint32_t* pinned_[kRing] = {};
  Scalars* pinned_scalars_[kRing] = {};
  cudaEvent_t copied_[kRing] = {};
  int ring_ = 0;
};

// ---- The ops (model/op_kinds.hpp), in exact mode as the CPU's cpu_op_<Name> and with its
// bits; fast mode differs where noted (the GPT has no fast mode here: check_cuda_model).
// R: the rows of a Linear op's input, the batch (MLP) or B·T (GPT).

void CudaExecutor::cuda_op_LoadBatch(const Op& op, const StepContext& ctx) {
  stage(ctx);
  load_batch(op, ctx.input_scale);
}

void CudaExecutor::cuda_op_LinearForward(const Op& op, const StepContext&) {
  const TensorSpec& w = spec(op.in[1]);  // (out, in); no bias: the GPT's tied LM head
  linear_forward(dev(op.in[0]), spec(op.in[0]).rows, w.cols, w.rows, dev(op.in[1]),
                 op.in.size() > 2 ? dev(op.in[2]) : nullptr, dev(op.out[0]), nullptr);
}

void CudaExecutor::cuda_op_ReluForward(const Op& op, const StepContext&) {
  cuda::relu_forward(dev(op.in[0]), dev(op.out[0]), spec(op.in[0]).size(), s_);
}

void CudaExecutor::cuda_op_CrossEntropyForward(const Op& op, const StepContext&) {
  cuda::softmax_ce_forward(dev(op.in[0]), dev(op.in[1]), dev(op.out[0]), row_loss_.as<float>(), dev(op.out[1]),
                           spec(op.in[0]).rows, spec(op.in[0]).cols, s_);
}

void CudaExecutor::cuda_op_CrossEntropyBackward(const Op& op, const StepContext&) {
  cuda::softmax_ce_backward(dev(op.in[0]), dev(op.in[1]), dev(op.out[0]), spec(op.in[0]).rows, spec(op.in[0]).cols,
                            s_);
}

void CudaExecutor::cuda_op_LinearBackwardWeight(const Op& op, const StepContext&) {
  const int O = spec(op.in[0]).cols, I = spec(op.in[1]).cols, R = spec(op.in[0]).rows;
  if (fast_) {  // column-major: dWᵀ (I×O) = xᵀ (I×R) · dz (R×O)
    gemm_blas(CUBLAS_OP_N, CUBLAS_OP_T, I, O, R, dev(op.in[1]), I, dev(op.in[0]), O, dev(op.out[0]), I);
  } else {  // dW(o,i) = Σ_r dz(r,o)·x(r,i)
    cuda::gemm_exact(O, I, R, DevMat{dev(op.in[0]), 1, O}, DevMat{dev(op.in[1]), I, 1}, nullptr, dev(op.out[0]), I,
                     s_);
  }
}

void CudaExecutor::cuda_op_LinearBackwardBias(const Op& op, const StepContext&) {
  const int O = spec(op.in[0]).cols, R = spec(op.in[0]).rows;
  if (fast_) {  // db = dzᵀ·1: cuBLAS splits the batch sum across threads (another order)
    const float one = 1.0f, zero = 0.0f;
    PW_CU(cublasSgemv(blas_, CUBLAS_OP_N, O, R, &one, dev(op.in[0]), O, ones_.as<float>(), 1, &zero, dev(op.out[0]),
                      1));
  } else {  // one thread per column, rows ascending: the CPU's order
    cuda::column_sums(dev(op.in[0]), dev(op.out[0]), R, O, s_);
  }
}

void CudaExecutor::cuda_op_LinearBackwardInput(const Op& op, const StepContext&) {
  const TensorSpec& w = spec(op.in[1]);  // (out, in)
  const int R = spec(op.in[0]).rows;
  if (fast_) {  // column-major: dxᵀ (I×R) = Wᵀ (I×O) · dzᵀ (O×R)
    gemm_blas(CUBLAS_OP_N, CUBLAS_OP_N, w.cols, R, w.rows, dev(op.in[1]), w.cols, dev(op.in[0]), w.rows,
              dev(op.out[0]), w.cols);
  } else {
    cuda::gemm_exact(R, w.cols, w.rows, DevMat{dev(op.in[0]), w.rows, 1}, DevMat{dev(op.in[1]), w.cols, 1}, nullptr,
                     dev(op.out[0]), w.cols, s_);
  }
}

void CudaExecutor::cuda_op_ReluBackward(const Op& op, const StepContext&) {
  cuda::relu_backward(dev(op.in[0]), dev(op.in[1]), dev(op.out[0]), spec(op.in[0]).size(), s_);
}

void CudaExecutor::cuda_op_SgdUpdate(const Op& op, const StepContext& ctx) {
  cuda::sgd_update(dev(op.in[0]), dev(op.in[1]), dev(op.in[2]), spec(op.in[0]).size(), sgd_scalars_of(tape_, op, ctx),
                   s_);
}

void CudaExecutor::cuda_op_AdamwUpdate(const Op& op, const StepContext& ctx) {
  cuda::adamw_update(dev(op.in[0]), dev(op.in[1]), dev(op.in[2]), dev(op.in[3]), spec(op.in[0]).size(),
                     adamw_scalars_of(tape_, op, ctx), s_);
}

// check_cut_device (train/trainer.hpp) refuses cut tasks before an executor exists.
void CudaExecutor::cuda_op_CutForward(const Op& op, const StepContext&) {
  internal_error(std::string("cuda executor: no kernel for ") + op_name(op.kind));
}
void CudaExecutor::cuda_op_CutBackward(const Op& op, const StepContext&) {
  internal_error(std::string("cuda executor: no kernel for ") + op_name(op.kind));
}

// The windows' offsets go to the device with the step's other staged values; the text is
// there already (set_text).
void CudaExecutor::cuda_op_LoadWindows(const Op& op, const StepContext& ctx) {
  const int B = tape_.batch, T = tape_.gpt.context;
  if (!text_.p) internal_error("cuda executor: load_windows before set_text");
  for (int b = 0; b < B; b++)
    if (int64_t(ctx.batch_indices[b]) + T >= text_bytes_)
      internal_error("cuda executor: window " + std::to_string(ctx.batch_indices[b]) + " runs past the text");
  stage(ctx);
  cuda::load_windows(text_.as<uint8_t>(), idx_.as<uint32_t>(), B, T, dev(op.out[0]), dev(op.out[1]), s_);
}

void CudaExecutor::cuda_op_EmbeddingForward(const Op& op, const StepContext&) {
  cuda::embedding_forward(dev(op.in[0]), dev(op.in[1]), dev(op.in[2]), dev(op.out[0]), tape_.batch, tape_.gpt.context,
                          tape_.gpt.channels, s_);
}

void CudaExecutor::cuda_op_LayerNormForward(const Op& op, const StepContext&) {
  cuda::layernorm_forward(dev(op.in[0]), dev(op.in[1]), dev(op.in[2]), dev(op.out[0]), dev(op.out[1]), dev(op.out[2]),
                          int64_t(tape_.batch) * tape_.gpt.context, tape_.gpt.channels, kLayerNormEps, s_);
}

void CudaExecutor::cuda_op_AttentionForward(const Op& op, const StepContext&) {
  const GptSpec& g = tape_.gpt;
  cuda::attention_forward(dev(op.in[0]), dev(op.out[0]), dev(op.out[1]), tape_.batch, g.context, g.channels, g.heads,
                          s_);
}

void CudaExecutor::cuda_op_GeluForward(const Op& op, const StepContext&) {
  cuda::gelu_forward(dev(op.in[0]), dev(op.out[0]), spec(op.in[0]).size(), s_);
}

void CudaExecutor::cuda_op_Add(const Op& op, const StepContext&) {
  cuda::add_forward(dev(op.in[0]), dev(op.in[1]), dev(op.out[0]), spec(op.in[0]).size(), s_);
}

void CudaExecutor::cuda_op_GeluBackward(const Op& op, const StepContext&) {
  cuda::gelu_backward(dev(op.in[0]), dev(op.in[1]), dev(op.out[0]), spec(op.in[0]).size(), s_);
}

void CudaExecutor::cuda_op_AttentionBackward(const Op& op, const StepContext&) {
  const GptSpec& g = tape_.gpt;
  cuda::attention_backward(dev(op.in[0]), dev(op.in[1]), dev(op.in[2]), dev(op.out[0]), tape_.batch, g.context,
                           g.channels, g.heads, att_scratch_.as<float>(), s_);
}

void CudaExecutor::cuda_op_LayerNormBackward(const Op& op, const StepContext&) {
  cuda::layernorm_backward(dev(op.in[0]), dev(op.in[1]), dev(op.in[2]), dev(op.in[3]), dev(op.in[4]), dev(op.out[0]),
                           dev(op.out[1]), dev(op.out[2]), int64_t(tape_.batch) * tape_.gpt.context,
                           tape_.gpt.channels, ln_scratch_.as<float>(), s_);
}

void CudaExecutor::cuda_op_EmbeddingBackward(const Op& op, const StepContext&) {
  const GptSpec& g = tape_.gpt;  // out[0] is in[2]: the LM head's wte gradient, added to
  if (op.in.size() != 3)  // a chunked task's form: trainer.cpp refuses reduceChunk on a device
    internal_error("cuda executor: the chunked batch reduction's embedding backward runs on the CPU only");
  cuda::embedding_backward(dev(op.in[0]), dev(op.in[1]), dev(op.out[0]), dev(op.out[1]), tape_.batch, g.context,
                           g.channels, g.vocab, g.context, s_);
}

// Each gradient's sum of squares on the device (the CPU's order), then the coefficient on
// the host by the CPU's own rule (clip_coefficient: a handful of floats, one wait), then
// the scaling on the device.
void CudaExecutor::cuda_op_ClipGradients(const Op& op, const StepContext&) {
  const size_t k = op.out.size();
  if (k > tape_.grads.size()) internal_error("cuda executor: clip_gradients over more tensors than the gradients");
  for (size_t i = 0; i < k; i++)
    cuda::sum_squares(dev(op.out[i]), spec(op.out[i]).size(), ss_partials_.as<float>(), ss_out_.as<float>() + i, s_);
  std::vector<float> ss(k);
  if (k > 0) PW_CU(cudaMemcpyAsync(ss.data(), ss_out_.p, k * sizeof(float), cudaMemcpyDeviceToHost, s_));
  PW_CU(cudaStreamSynchronize(s_));
  const float coef = clip_coefficient(ss, tape_.clip);
  if (coef < 1.0f)
    for (int id : op.out) cuda::scale_inplace(dev(id), spec(id).size(), coef, s_);
}

#define PW_CUDA_OP_ENTRY(Name, value, str) &CudaExecutor::cuda_op_##Name,
const CudaExecutor::OpFn CudaExecutor::kOps[] = {PW_OP_KINDS(PW_CUDA_OP_ENTRY)};
#undef PW_CUDA_OP_ENTRY
static_assert(sizeof(CudaExecutor::kOps) / sizeof(CudaExecutor::kOps[0]) == size_t(kOpKindCount),
              "model/op_kinds.hpp: one CUDA op per kind");

void CudaExecutor::run_op(int op_index, const StepContext& ctx) {
  if (op_index < 0 || size_t(op_index) >= tape_.ops.size()) internal_error("run_op: no op " + std::to_string(op_index));
  const Op& op = tape_.ops[size_t(op_index)];
  if (int(op.kind) >= kOpKindCount) internal_error("cuda executor: op kind " + std::to_string(int(op.kind)));
  (this->*kOps[size_t(op.kind)])(op, ctx);
}

}  // namespace

CudaProbe cuda_probe() {
  CudaProbe p;
  p.built = true;
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    p.error = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(e);
    cudaGetLastError();  // clear the sticky error
    return p;
  }
  if (n < 1) {
    p.error = "cudaGetDeviceCount found 0 devices";
    return p;
  }
  p.devices = n;
  cudaDeviceProp prop;
  if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) {
    p.name = prop.name;
    p.major = prop.major;
    p.minor = prop.minor;
    p.memory = int64_t(prop.totalGlobalMem);
  }
  return p;
}

std::shared_ptr<Executor> make_cuda_executor(const Tape& tape, bool fast) {
  require_cuda("--device cuda");
  return std::make_shared<CudaExecutor>(tape, fast);
}

void cuda_gemm_exact_host(int M, int N, int K, const float* A, ptrdiff_t a_rs, ptrdiff_t a_cs, const float* B,
                          ptrdiff_t b_rs, ptrdiff_t b_cs, const float* bias, float* C, ptrdiff_t ldc, int slab) {
  require_cuda("gemm");
  if (M <= 0 || N <= 0) return;
  auto span = [](int r, int c, ptrdiff_t rs, ptrdiff_t cs) -> size_t {
    return (r <= 0 || c <= 0) ? 1 : size_t((r - 1) * rs + (c - 1) * cs + 1);
  };
  const size_t na = span(M, K, a_rs, a_cs), nb = span(K, N, b_rs, b_cs), nc = span(M, N, ldc, 1);
  DeviceMemory dA(na * 4), dB(nb * 4), dC(nc * 4), dbias(size_t(N) * 4);
  if (K > 0) {
    PW_CU(cudaMemcpy(dA.p, A, na * 4, cudaMemcpyHostToDevice));
    PW_CU(cudaMemcpy(dB.p, B, nb * 4, cudaMemcpyHostToDevice));
  }
  PW_CU(cudaMemcpy(dC.p, C, nc * 4, cudaMemcpyHostToDevice));
  if (bias) PW_CU(cudaMemcpy(dbias.p, bias, size_t(N) * 4, cudaMemcpyHostToDevice));
  cuda::gemm_exact(M, N, K, DevMat{dA.as<float>(), a_rs, a_cs}, DevMat{dB.as<float>(), b_rs, b_cs},
                   bias ? dbias.as<float>() : nullptr, dC.as<float>(), ldc, nullptr, slab);
  PW_CU(cudaDeviceSynchronize());
  PW_CU(cudaMemcpy(C, dC.p, nc * 4, cudaMemcpyDeviceToHost));
}

}  // namespace pw
