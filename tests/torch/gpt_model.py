"""The GPT of proofwork's gpt tasks (proofwork(7), THE PROGRAMS: pol-task --model gpt:...),
written in PyTorch the way nanoGPT's model.py writes it: the outside reference of the
fixtures (make_gpt_fixtures.py) and the competitor of the benchmark (tests/bench/torch_gpt.py).

A byte-level language model: vocabulary 256; token and position embeddings; LAYERS pre-LN
blocks (LayerNorm eps 1e-5 with bias, causal self-attention with one fused q,k,v
projection `c_attn` and an output projection `c_proj`, a residual; LayerNorm, an MLP
C -> 4C -> C with GELU's tanh approximation as GPT-2, a residual); a final LayerNorm; an
LM head tied to the token embedding; biases on every Linear; no dropout. Attention
scores are scaled by 1/sqrt(C/HEADS). Parameter names and nn.Linear's [out, in] layout
are nanoGPT's, which are what pol-export writes.

Checked line by line against nanoGPT's model.py (bias=True, dropout 0): the same
modules in the same order (so the same parameter names and named_parameters order, and the
same initialisation calls in the same order), the same q,k,v split and head layout, scaling,
masking, residuals and weight tying, and configure_optimizers' grouping. Differences, on
purpose:
- GELU approximate='tanh', as GPT-2's own code; nanoGPT's nn.GELU() is the exact erf form.
- No dropout modules (nanoGPT's transformer.drop, attn_dropout, resid_dropout and
  mlp.dropout are the identity at dropout 0).
- The causal mask is a non-persistent buffer `mask`; nanoGPT's slow-attention path
  (PyTorch < 2.0) keeps a persistent buffer `attn.bias` in its state_dict, so loading
  exported weights into it needs load_state_dict(..., strict=False) (its from_pretrained
  drops those keys the same way).
- The loss always over all B*T positions, without ignore_index (nanoGPT's -1 never
  occurs in byte targets); nanoGPT's inference-time shortcut of computing only the last
  position's logits is left out.
- No fused or foreach AdamW: one summation order (fused=True is a CUDA-only option).
"""
import math

import torch
import torch.nn.functional as F

VOCAB = 256
LN_EPS = 1e-5


def parse_config(text):
    """'gpt:L-H-C-T' or 'L-H-C-T' -> (layers, heads, channels, context)."""
    spec = text[4:] if text.startswith("gpt:") else text
    parts = spec.split("-")
    if len(parts) != 4 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ValueError("model %r: want gpt:LAYERS-HEADS-CHANNELS-CONTEXT, positive integers" % text)
    layers, heads, channels, context = (int(p) for p in parts)
    if channels % heads:
        raise ValueError("model %r: CHANNELS %d is not a multiple of HEADS %d" % (text, channels, heads))
    return layers, heads, channels, context


class CausalSelfAttention(torch.nn.Module):
    def __init__(self, heads, channels, context):
        super().__init__()
        self.heads = heads
        self.c_attn = torch.nn.Linear(channels, 3 * channels, bias=True)
        self.c_proj = torch.nn.Linear(channels, channels, bias=True)
        self.register_buffer("mask", torch.tril(torch.ones(context, context, dtype=torch.bool))
                             .view(1, 1, context, context), persistent=False)

    def forward(self, x):
        B, T, C = x.size()  # x is (B, T, C)
        q, k, v = self.c_attn(x).split(C, dim=2)
        hs = C // self.heads
        q = q.view(B, T, self.heads, hs).transpose(1, 2)  # (B, H, T, hs)
        k = k.view(B, T, self.heads, hs).transpose(1, 2)
        v = v.view(B, T, self.heads, hs).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))  # (B, H, T, T)
        att = att.masked_fill(~self.mask[:, :, :T, :T], float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class MLP(torch.nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.c_fc = torch.nn.Linear(channels, 4 * channels, bias=True)
        self.c_proj = torch.nn.Linear(4 * channels, channels, bias=True)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Block(torch.nn.Module):
    def __init__(self, heads, channels, context):
        super().__init__()
        self.ln_1 = torch.nn.LayerNorm(channels, eps=LN_EPS)
        self.attn = CausalSelfAttention(heads, channels, context)
        self.ln_2 = torch.nn.LayerNorm(channels, eps=LN_EPS)
        self.mlp = MLP(channels)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(torch.nn.Module):
    def __init__(self, layers, heads, channels, context):
        super().__init__()
        self.layers, self.heads, self.channels, self.context = layers, heads, channels, context
        self.transformer = torch.nn.ModuleDict(dict(
            wte=torch.nn.Embedding(VOCAB, channels),
            wpe=torch.nn.Embedding(context, channels),
            h=torch.nn.ModuleList([Block(heads, channels, context) for _ in range(layers)]),
            ln_f=torch.nn.LayerNorm(channels, eps=LN_EPS),
        ))
        self.lm_head = torch.nn.Linear(channels, VOCAB, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # tied, as nanoGPT
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):  # the residual projections, GPT-2's scaled init
                torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * layers))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, torch.nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, torch.nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx, targets=None):
        """idx (B, T) int64 bytes -> logits (B, T, 256); with targets also the mean
        cross-entropy over the B*T positions."""
        B, T = idx.size()
        if T > self.context:
            raise ValueError("sequence of %d bytes, context is %d" % (T, self.context))
        pos = torch.arange(0, T, dtype=torch.long, device=idx.device)
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)  # (B, T, C)
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.view(-1, VOCAB), targets.reshape(-1))


def param_groups(model, weight_decay):
    """nanoGPT's grouping: weight decay on parameters of dim >= 2 (Linear weights, wte,
    wpe), none on biases and LayerNorm parameters."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]


def make_optimizer(model, kind, hp):
    """kind 'adamw' (hp: lr, beta1, beta2, eps, weight_decay) or 'sgd' (hp: lr, momentum,
    weight_decay); one summation order (foreach off), as the MLP fixtures."""
    groups = param_groups(model, hp["weight_decay"])
    if kind == "adamw":
        return torch.optim.AdamW(groups, lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"],
                                 amsgrad=False, foreach=False)
    if kind == "sgd":
        return torch.optim.SGD(groups, lr=hp["lr"], momentum=hp["momentum"], dampening=0, nesterov=False,
                               foreach=False)
    raise ValueError("optimizer %r: want adamw or sgd" % kind)


def grad_norm(model):
    """The total L2 norm of all gradients, as torch.nn.utils.clip_grad_norm_ computes it."""
    norms = [torch.norm(p.grad.detach(), 2.0) for p in model.parameters() if p.grad is not None]
    return torch.norm(torch.stack(norms), 2.0)


def backward(model, opt, idx, targets):
    """Zeroes the gradients, runs forward and backward; returns the loss."""
    opt.zero_grad(set_to_none=True)
    _, loss = model(idx, targets)
    loss.backward()
    return loss


def clip_and_step(model, opt, clip):
    """Clips the gradients to total norm clip (0 = no clipping; torch's rule: scale by
    min(1, clip / (norm + 1e-6))), then steps; returns the norm before clipping."""
    if clip > 0:
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    else:
        norm = grad_norm(model)
    opt.step()
    return norm
