# --device cuda (proofwork(7), EXACT MODE). Without a usable GPU (no device, or a build without CUDA)
# every program that computes on the tape exits 4 with a message that says why and
# writes nothing. With a GPU, an exact-mode proof trained there has the CPU's
# checkpoint hashes and verifies on the CPU (and the reverse). A GPT (proofwork(7),
# THE GPT) likewise: exit 4 without a GPU, the CPU's bits on one in exact mode, and
# fast mode refused there (exit 2).
head -c 3000 "$HERE/../../man/proofwork.7" > train.txt
gpt_task() {  # gpt_task OUT [extra flags]
  local out=$1; shift
  pol-task --model gpt:2-2-32-16 --text train.txt --optimizer adamw --lr 0.001 --weight-decay 0.1 --clip 1.0 \
    --batch 4 --steps 8 --checkpoint-every 4 --seed 3 -q -o "$out" "$@"
}
gpt_task gpt.pwt
gpt_task gptfast.pwt --mode fast
make_tiny_task task.pwt

expect_exit 2 pol-train task.pwt -o x --device tpu
expect_err "device"
[ ! -e x ]

set +e
pol-train task.pwt -o gpu -q --device cuda 2>err
rc=$?
set -e
if [ "$rc" = 4 ]; then
  grep -Eq "^pol-train: --device cuda: (no CUDA device: .+|built without CUDA)" err || { cat err >&2; false; }
  [ ! -e gpu ]                                   # refused before anything was written
  expect_exit 4 pol-forge task.pwt -o gpu --device cuda --inject-fault 12:3:0
  expect_err "^pol-forge: --device cuda: (no CUDA device: .+|built without CUDA)"
  [ ! -e gpu ]
  expect_exit 4 pol-verify task.pwt gpu --device cuda
  expect_err "^pol-verify: --device cuda: (no CUDA device|built without CUDA)"
  expect_exit 4 pol-bisect task.pwt gpu gpu --device cuda
  expect_err "^pol-bisect: --device cuda: (no CUDA device|built without CUDA)"
  make_tiny_task fast.pwt --mode fast
  pol-train fast.pwt -o fastcpu -q
  expect_exit 4 pol-profile fast.pwt fastcpu -o fast.pwp --device cuda
  expect_err "^pol-profile: --device cuda: (no CUDA device|built without CUDA)"
  [ ! -e fast.pwp ]
  # A GPT is refused as the MLP is, exact or fast, before anything is written.
  expect_exit 4 pol-train gpt.pwt -o gptgpu --device cuda
  expect_err "^pol-train: --device cuda: (no CUDA device: .+|built without CUDA)"
  [ ! -e gptgpu ]
  expect_exit 4 pol-train gptfast.pwt -o gptgpu --device cuda
  [ ! -e gptgpu ]
  pol-train gpt.pwt -o gptcpu -q
  expect_exit 4 pol-verify gpt.pwt gptcpu --device cuda
  expect_err "(no CUDA device|built without CUDA)"
  # The CPU still works, and a CPU proof is not touched by the refused runs.
  pol-train task.pwt -o cpu -q
  expect_exit 4 pol-verify task.pwt cpu --device cuda
  [ ! -e verdict ]
  pol-verify task.pwt cpu -q
else
  [ "$rc" = 0 ] || { cat err >&2; false; }
  pol-train task.pwt -o cpu -q
  pol-show cpu/manifest.pwm | grep -E '"(stateHash|root)"' > h_cpu
  pol-show gpu/manifest.pwm | grep -E '"(stateHash|root)"' > h_gpu
  test "$(wc -l < h_cpu)" -eq 6
  cmp h_cpu h_gpu                                # the same bits on the GPU
  pol-show gpu/manifest.pwm | grep -q '"device": "cuda"'
  expect_exit 0 pol-verify task.pwt gpu          # a GPU proof verifies on the CPU
  expect_exit 0 pol-verify task.pwt cpu --device cuda
  # A dishonest proof (fault at step 12) is rejected on the GPU too.
  pol-forge task.pwt -o bad -q --inject-fault 12:3:0
  expect_exit 1 pol-verify task.pwt bad --device cuda
  expect_err "segment 1"
  # Fast mode on the GPU (cuBLAS, TF32): profiled with GPU and CPU sources, the GPU
  # proof verifies on the CPU and on the GPU; a CPU fast proof verifies on the GPU.
  make_tiny_task fast.pwt --mode fast
  pol-train fast.pwt -o fastgpu -q --device cuda
  pol-train fast.pwt -o fastcpu -q
  pol-profile fast.pwt fastgpu -o fast.pwp --device cuda -q
  pol-show fast.pwp > fast.json
  grep -q '"cuda fast"' fast.json
  expect_exit 0 pol-verify fast.pwt fastgpu --profile fast.pwp
  expect_exit 0 pol-verify fast.pwt fastgpu --profile fast.pwp --device cuda
  expect_exit 0 pol-verify fast.pwt fastcpu --profile fast.pwp --device cuda
  pol-forge fast.pwt -o fastbad -q --device cuda --inject-fault 12:12:0   # op 12: the 0.weight update
  expect_exit 1 pol-verify fast.pwt fastbad --profile fast.pwp
  # A GPT in exact mode: the CPU's checkpoints, verified on either; fast mode refused (exit 2).
  pol-train gpt.pwt -o gptgpu -q --device cuda
  pol-train gpt.pwt -o gptcpu -q
  for f in gptcpu/ckpt-*.pwc; do cmp "$f" "gptgpu/$(basename "$f")"; done
  expect_exit 0 pol-verify gpt.pwt gptgpu -q --segments all
  expect_exit 0 pol-verify gpt.pwt gptcpu -q --segments all --device cuda
  expect_exit 2 pol-train gptfast.pwt -o gptfastgpu --device cuda
  expect_err "exact mode only"
  [ ! -e gptfastgpu ]
fi
