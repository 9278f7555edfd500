#!/usr/bin/env bash
# The first GPU run, in one call of a few minutes: every CUDA path of training, evaluation and
# bench once, and the GPU figures beside timm (issues #23 and #24).
#
#   benchmarks/gpu_smoke.sh                  # cuda: Inception-ResNet-v2 at 299 px, batch 32
#   benchmarks/gpu_smoke.sh --device cpu     # the dry run: tiny sizes (the test suite's)
#   benchmarks/gpu_smoke.sh --out DIR        # where runs, logs and bench JSON go
#   benchmarks/gpu_smoke.sh --list           # print the steps and their commands only
#
# Steps (each prints "ok <step> <seconds>" or stops the script with "FAILED <step>"):
#   normalize_exact uint8 batches normalised on the device equal the CPU's: bit for bit for
#                   mean/std (training colour steps included), within one float32 ulp for
#                   FaceNet's per-image standardisation (its float64 sums run in another order)
#   train_bf16      train --amp bf16 --channels-last, checkpoint every step
#   resume_bf16     the same command, longer: resumes from its last checkpoint
#   resume_exact    an uninterrupted run of the same length: weights equal bit for bit
#   train_fp16      --amp fp16 with TF-RMSProp and gradient clipping (the gradient scaler)
#   compile         --compile; compile_recompute: --compile --grad-checkpointing
#   eval_bf16       evaluate --dtype bfloat16 of the bf16 run
#   eval_144        evaluate --crops 144 (two images)
#   bench_infer     bench inference against timm (float32, eager)
#   bench_infer_bf16  ours (bf16, channels-last, compiled) against timm the same
#   bench_train     a training step against timm, float32 and bf16 autocast, compiled
#   speed_1gpu      train --amp bf16 --channels-last --compile: images/s from metrics.csv
#   ddp, ddp_resume with 2+ GPUs: torchrun --sync-bn, then its resume
#   speed_ddp       with 2+ GPUs: the speed_1gpu run on 2 processes (DDP), its images/s
#   figures         the speed ratios of the bench runs and the DDP scaling, in figures.md
# The dry run skips the compile steps (inductor needs minutes on a small CPU; the compiled
# recompute is tested in tests/test_cuda_paths.py) unless SMOKE_COMPILE=1, and the DDP steps
# unless SMOKE_DDP=1 (SMOKE_GPUS overrides the GPU count); compiling also leaves the bench
# and speed steps then. PYTHON picks the interpreter (default: python).
set -euo pipefail

DEVICE=cuda
OUT=${TMPDIR:-/tmp}/inception-v4-gpu-smoke
LIST=0
while [ $# -gt 0 ]; do
    case "$1" in
        --device) DEVICE=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --list) LIST=1; shift ;;
        *) echo "gpu_smoke.sh: unknown argument $1 (use --device cpu|cuda[:N], --out DIR," \
                "--list)" >&2
           exit 2 ;;
    esac
done
PY=${PYTHON:-python}
CLI=("$PY" -m inception_v4)

if [ "${DEVICE%%:*}" = cpu ]; then
    SIZE=(--width 0.25 --depth 0.2 --image-size 75)
    BATCH=4; STEPS=2
    BENCH=(--batch-size 2 --image-size 75 --repeats 1 --warmup 0 --matmul-size 256)
    GPUS=0; COMPILE=${SMOKE_COMPILE:-0}; DDP=${SMOKE_DDP:-0}
else
    SIZE=(--image-size 299)
    BATCH=32; STEPS=4; BENCH=(--batch-size 32 --repeats 10 --warmup 3)
    GPUS=${SMOKE_GPUS:-$("$PY" -c "import torch; print(torch.cuda.device_count())")}
    COMPILE=${SMOKE_COMPILE:-1}; DDP=${SMOKE_DDP:-$([ "$GPUS" -ge 2 ] && echo 1 || echo 0)}
fi
LOG=$OUT/smoke.log
TRAIN=(train --preset small --model inception_resnet_v2 --data embedded "${SIZE[@]}"
       --batch-size "$BATCH" --device "$DEVICE" --workers 2 --log-every 1 --checkpoint-every 1
       --set eval_max_images=64)
if [ "$LIST" = 0 ]; then
    rm -rf "$OUT"; mkdir -p "$OUT"
    "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda,
        [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())])" | tee "$LOG"
fi

step() {  # step NAME COMMAND...: run it, log it, time it; stop the script on failure
    local name=$1 start=$SECONDS; shift
    if [ "$LIST" = 1 ]; then echo "$name: $*"; return; fi
    echo "== $name: $*" >>"$LOG"
    if ! "$@" >>"$LOG" 2>&1; then
        echo "FAILED $name (exit status; the end of $LOG follows)"; tail -30 "$LOG"; exit 1
    fi
    echo "ok $name $((SECONDS - start)) s" | tee -a "$LOG"
}

same_weights() {  # same_weights RUN_A RUN_B: last.pt model and average equal bit for bit
    "$PY" - "$1" "$2" <<'EOF'
import sys, torch
a, b = (torch.load(f"{run}/checkpoints/last.pt", weights_only=True) for run in sys.argv[1:])
assert a["progress"]["step"] == b["progress"]["step"], "different steps"
for part in ("model", "ema"):
    sa = a[part] if part == "model" else a[part]["module"]
    sb = b[part] if part == "model" else b[part]["module"]
    bad = [k for k in sa if not torch.equal(sa[k], sb[k])]
    assert not bad, f"{part}: {len(bad)} tensors differ, e.g. {bad[:3]}"
print("resumed run equals the uninterrupted one bit for bit at step", a["progress"]["step"])
EOF
}

device_normalize() {  # device_normalize DEVICE: the normalisers there against the CPU
    "$PY" - "$1" <<'EOF'
import sys, numpy as np, torch
from PIL import Image
from torch.utils.data import default_collate
from inception_v4.data import eval_transform, train_transform
rng, device = np.random.default_rng(0), torch.device(sys.argv[1])
images = [Image.fromarray(rng.integers(0, 256, (90, 120, 3), np.uint8)) for _ in range(16)]
for normalize, kw in (("mean_std", {}), ("per_image", {"mean": None, "std": None})):
    kw["normalize"] = normalize
    for t in (train_transform(64, **kw), eval_transform(64, **kw)):
        torch.manual_seed(0)
        batch = default_collate([t.geometry(image) for image in images])
        want = t.normalizer(batch)
        got = t.normalizer.to(device)(batch.to(device), channels_last=True).cpu()
        if normalize == "mean_std":
            assert torch.equal(got, want), f"{t}: {(got != want).sum()} values differ"
        else:  # float64 sums in another order, rounded to float32: one ulp at most
            assert ((got == want) | (got == torch.nextafter(want, got))).all(), f"{t}"
print("normalised on", device, "as on the CPU")
EOF
}

BF16=(--amp bf16 --channels-last)
step normalize_exact device_normalize "$DEVICE"
step train_bf16 "${CLI[@]}" "${TRAIN[@]}" "${BF16[@]}" --out "$OUT/bf16" --max-steps "$STEPS"
step resume_bf16 "${CLI[@]}" "${TRAIN[@]}" "${BF16[@]}" --out "$OUT/bf16" \
    --max-steps $((2 * STEPS))
step resume_bf16_resumed grep -q "^resuming from .*bf16/checkpoints" "$LOG"
step resume_exact "${CLI[@]}" "${TRAIN[@]}" "${BF16[@]}" --out "$OUT/bf16_straight" \
    --max-steps $((2 * STEPS))
step resume_exact_compare same_weights "$OUT/bf16" "$OUT/bf16_straight"
step train_fp16 "${CLI[@]}" "${TRAIN[@]}" --amp fp16 --out "$OUT/fp16" --max-steps "$STEPS" \
    --set optimizer=rmsprop_tf --set clip_grad_norm=2.0 --set lr=0.01
if [ "$COMPILE" = 1 ]; then
    step compile "${CLI[@]}" "${TRAIN[@]}" --compile --out "$OUT/compile" --max-steps "$STEPS"
    step compile_recompute "${CLI[@]}" "${TRAIN[@]}" --compile --grad-checkpointing \
        --out "$OUT/compile_recompute" --max-steps "$STEPS"
fi
EVAL=(evaluate --weights "$OUT/bf16" --data embedded --device "$DEVICE" --workers 2)
step eval_bf16 "${CLI[@]}" "${EVAL[@]}" --dtype bfloat16 --limit 64 --json "$OUT/eval_bf16.json"
step eval_144 "${CLI[@]}" "${EVAL[@]}" --crops 144 --limit 2 --json "$OUT/eval_144.json"
BENCH_ALL=(bench --model inception_v4 --device "$DEVICE" --compare timm --no-runtimes
           "${BENCH[@]}")
[ "${DEVICE%%:*}" = cpu ] && BENCH_ALL+=(--no-memory)
FAST=(); [ "$COMPILE" = 1 ] && FAST=(--compile)  # "${FAST[@]+...}": set -u and bash < 4.4
step bench_infer "${CLI[@]}" "${BENCH_ALL[@]}" --mode infer --json "$OUT/bench_infer.json"
step bench_infer_bf16 "${CLI[@]}" "${BENCH_ALL[@]}" --mode infer --dtype bfloat16 \
    ${FAST[@]+"${FAST[@]}"} --json "$OUT/bench_infer_bf16.json"
step bench_train "${CLI[@]}" "${BENCH_ALL[@]}" --mode train ${FAST[@]+"${FAST[@]}"} \
    --json "$OUT/bench_train.json"
SPEED=("${TRAIN[@]}" "${BF16[@]}" ${FAST[@]+"${FAST[@]}"} --checkpoint-every 0
       --max-steps $((3 * STEPS)))
step speed_1gpu "${CLI[@]}" "${SPEED[@]}" --out "$OUT/speed_1gpu"
if [ "$DDP" = 1 ]; then
    NPROC=$([ "$GPUS" -ge 2 ] && echo "$GPUS" || echo 2)
    RUN=("$PY" -m torch.distributed.run --standalone --nproc-per-node "$NPROC" -m inception_v4)
    step ddp "${RUN[@]}" "${TRAIN[@]}" --sync-bn --out "$OUT/ddp" --max-steps "$STEPS" \
        --batch-size $((BATCH * NPROC))
    step ddp_resume "${RUN[@]}" "${TRAIN[@]}" --sync-bn --out "$OUT/ddp" \
        --max-steps $((2 * STEPS)) --batch-size $((BATCH * NPROC))
    step speed_ddp "${RUN[@]}" "${SPEED[@]}" --out "$OUT/speed_ddp" \
        --batch-size $((BATCH * NPROC))
fi
step figures "$PY" "$(dirname "$0")/gpu_figures.py" "$OUT"
[ "$LIST" = 1 ] || { cat "$OUT/figures.md"; echo "all steps passed; log: $LOG" | tee -a "$LOG"; }
