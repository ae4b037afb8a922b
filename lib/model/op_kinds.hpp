// The one table of op kinds (proofwork(7), THE TAPE). Every program's view of an op kind
// is generated from this list: the enum OpKind and op_name (model/tape.hpp), the CPU's
// dispatch (model/cpu_ops.hpp: cpu_op_<Name>, in tape.cpp and gpt.cpp) and the CUDA
// executor's (cuda/executor.cu: CudaExecutor::cuda_op_<Name>). Both dispatches are
// arrays of function pointers built from this list, so a row without its CPU or CUDA
// implementation fails to build (an undefined symbol), and neither needs a switch.
//
// X(Name, value, "name"): value is the kind's number in files (proof traces, disputes
// and tapes record kinds): append rows, never renumber (tape.hpp checks that the values
// run 0, 1, 2, ... in table order); "name" is op_name's, which disputes record.
// Shapes: N = B·T rows for the GPT's ops.
#pragma once

#define PW_OP_KINDS(X)                                                                                   \
  X(LoadBatch, 0, "load_batch")                         /* → x0 (B,in) = pixel·scale, labels (B) */      \
  X(LinearForward, 1, "linear_forward")                 /* x (R,in), W (out,in), b (out) → x·Wᵀ + b */  \
  X(ReluForward, 2, "relu_forward")                     /* z → a */                                      \
  X(CrossEntropyForward, 3, "cross_entropy_forward")    /* logits, labels → probs, loss (1) */           \
  X(CrossEntropyBackward, 4, "cross_entropy_backward")  /* probs, labels → dlogits */                    \
  X(LinearBackwardWeight, 5, "linear_backward_weight")  /* dz (R,out), x (R,in) → dW = dzᵀ·x */          \
  X(LinearBackwardBias, 6, "linear_backward_bias")      /* dz → db (out) */                              \
  X(LinearBackwardInput, 7, "linear_backward_input")    /* dz (R,out), W (out,in) → dx = dz·W */         \
  X(ReluBackward, 8, "relu_backward")                   /* da, a → dz */                                 \
  X(SgdUpdate, 9, "sgd_update")                         /* p, g, momentum → p, momentum */               \
  X(AdamwUpdate, 10, "adamw_update")                    /* p, g, m, v → p, m, v */                       \
  /* A pipeline cut (model/cut.hpp). */                                                                  \
  X(CutForward, 11, "cut_forward")   /* a (B,w), buffer (count,w), seen → â (B,w), buffer, seen */       \
  X(CutBackward, 12, "cut_backward") /* dâ (B,w) → da (B,w): direct quantization */                      \
  /* The GPT's (proofwork(7), THE GPT; model/gpt.cpp). */                                                \
  X(LoadWindows, 13, "load_windows")             /* → idx (B,T), targets (B,T): windows of T+1 bytes */  \
  X(EmbeddingForward, 14, "embedding_forward")   /* idx, wte (V,C), wpe (T,C) → x (N,C) */               \
  X(LayerNormForward, 15, "layernorm_forward")   /* x (N,C), w (C), b (C) → y (N,C), mean, rstd (N) */   \
  X(AttentionForward, 16, "attention_forward")   /* qkv (N,3C) → y (N,C), att (B,H,T,T) */               \
  X(GeluForward, 17, "gelu_forward")             /* x → y */                                             \
  X(Add, 18, "add")                              /* a, b → a + b (the residual, both ways) */            \
  X(GeluBackward, 19, "gelu_backward")           /* dy, x → dx */                                        \
  X(AttentionBackward, 20, "attention_backward") /* dy (N,C), qkv, att → dqkv (N,3C) */                  \
  X(LayerNormBackward, 21, "layernorm_backward") /* dy, x, w, mean, rstd → dx, dw, db */                 \
  X(EmbeddingBackward, 22, "embedding_backward") /* idx, dx, dwte (the LM head's) → dwte + own, dwpe */  \
  X(ClipGradients, 23, "clip_gradients")         /* every gradient → scaled to a norm <= clip */
