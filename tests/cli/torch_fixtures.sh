# The committed PyTorch GPT fixtures (tests/fixtures/torch/gpt_*.bin) read back with the
# standard-library reader of tests/torch/pwtr.py and agree with themselves: every record
# with its shape, windows of bytes, gradient norms, every step's update by the
# optimizer's rule, the first and last losses by a plain forward pass
# (proofwork(7), TESTS AND BENCHMARKS). A damaged copy is refused.
GEN=$HERE/../torch/make_gpt_fixtures.py
FIX=$HERE/../fixtures/torch
python3 "$GEN" --check "$FIX/gpt_adamw.bin" "$FIX/gpt_sgd.bin" >out
grep -q 'gpt_adamw.bin: 341 records, ok' out
grep -q 'gpt_sgd.bin: 339 records, ok' out

# Damaged copies: truncated, trailing bytes, another magic, a parameter after step 0
# that is not the optimizer's update, a gradient norm that is not the gradients' norm.
cp "$FIX/gpt_adamw.bin" good.bin
head -c 1000000 good.bin >gpt_adamw_truncated.bin
expect_exit 1 python3 "$GEN" --check gpt_adamw_truncated.bin
expect_err 'truncated at byte'
{ cat good.bin; printf 'x'; } >gpt_adamw_trailing.bin
expect_exit 1 python3 "$GEN" --check gpt_adamw_trailing.bin
expect_err '1 bytes after the last record'
{ printf 'XXXX'; tail -c +5 good.bin; } >gpt_adamw_magic.bin
expect_exit 1 python3 "$GEN" --check gpt_adamw_magic.bin
expect_err 'bad magic'
# set_first NAME VALUE OUT [SRC]: SRC (default good.bin) with the first element of record
# NAME (f32) set to VALUE.
set_first() {
  python3 - "$1" "$2" "$3" "${4:-good.bin}" <<'PY'
import struct, sys
name, value, out = sys.argv[1].encode(), float(sys.argv[2]), sys.argv[3]
b = bytearray(open(sys.argv[4], "rb").read())
at = b.index(struct.pack("<I", len(name)) + name) + 4 + len(name)
ndim = struct.unpack_from("<I", b, at + 4)[0]
struct.pack_into("<f", b, at + 8 + 4 * ndim, value)
open(out, "wb").write(b)
PY
}
set_first step0.param.transformer.ln_f.bias 0.5 gpt_adamw_param.bin
expect_exit 1 python3 "$GEN" --check gpt_adamw_param.bin
expect_err "step 0's update is not adamw's rule"
set_first step3.grad_norm 0.5 gpt_adamw_norm.bin
expect_exit 1 python3 "$GEN" --check gpt_adamw_norm.bin
expect_err 'step 3: grad_norm 0.5'
# A later step, and the SGD file: a parameter off by 1e-4 relative is caught.
set_first step3.param.transformer.h.1.mlp.c_fc.weight 0.5 gpt_adamw_step3.bin
expect_exit 1 python3 "$GEN" --check gpt_adamw_step3.bin
expect_err "step 3's update is not adamw's rule"
v=$(PYTHONPATH="$HERE/../torch" python3 -c '
import sys, pwtr
_, rec = pwtr.read(sys.argv[1])
print(repr(rec["step2.param.transformer.wpe.weight"].values[0] * (1 + 1e-4)))' "$FIX/gpt_sgd.bin")
set_first step2.param.transformer.wpe.weight "$v" gpt_sgd_step2.bin "$FIX/gpt_sgd.bin"
expect_exit 1 python3 "$GEN" --check gpt_sgd_step2.bin
expect_err "step 2's update is not sgd's rule"
# A loss that is not its parameters' (a plain-Python forward pass recomputes it).
set_first step4.loss 5.4 gpt_adamw_loss.bin
expect_exit 1 python3 "$GEN" --check gpt_adamw_loss.bin
expect_err 'step 4: loss 5.4'
