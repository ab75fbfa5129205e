#!/usr/bin/env bash
# One command for a GPU check (issue 24): the device's own ceilings, then the step, evaluation,
# extraction, data-path and epoch benchmarks on one GPU, each beside the code path it replaced,
# then ONE table of them all (benchmarks/gpu_table.py). Needs nothing from the internet nor from
# ../shared: every model and data set is built here (random weights, synthetic data).
#
#   bash benchmarks/gpu.sh                          # on a GPU node, from the repository root
#   DEVICE=cpu QUICK=1 bash benchmarks/gpu.sh       # a smoke run of the script itself, tiny sizes
#   DEVICE=cpu QUICK=1 ELEMENTWISE=fused TRITON_INTERPRET=1 bash benchmarks/gpu.sh   # with the Triton kernels
#
# Each part runs under its own time limit (the sum stays under 8 minutes); a part that fails
# or runs out of time is marked so in the table and the others go on. With $OUT set, the table,
# every part's log and the merged results are also written there (gpu_table.md, gpu_log.txt,
# gpu_results.json). PYTHON (default python3) is the interpreter.
set -u
cd "$(dirname "$0")/.."
DEVICE=${DEVICE:-cuda}
QUICK=${QUICK:-0}
ELEMENTWISE=${ELEMENTWISE:-auto}  # the objective's passes in the step benchmark (auto: fused on a GPU)
SCALE=${SCALE:-$([ "$QUICK" = 1 ] && echo 10 || echo 1)}  # time limits x SCALE (a smoke run on a slow CPU)
PYTHON=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export TOKENIZERS_PARALLELISM=true OMP_WAIT_POLICY=PASSIVE
WORK=$(mktemp -d "${TMPDIR:-/tmp}/flip-gpu-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
STARTED=$SECONDS

if [ "$QUICK" = 1 ]; then
  STEP=(--dim 64 --rank 32 --batch 200 --vocab 1000 --repeats 2 --peak-size 512 --acc-epochs 1 --acc-sentences 2000)
  EVAL=(--sentences 500 --vocab 5000 --rank 64 --dim 128 --depth 20 --repeats 1)
  EXTRACT=(--short 64 --long-tail 32 --batch-sizes 16 --words 2000 --repeats 1)
  DATA=(--rows 12000 --dims 256 --repeats 1)
  EPOCH=(--train 3000 --dim 128 --vocab 500 --rank 16 --batch 500 --repeats 1)
  CEIL=(--size 512 --copy-gib 0.05 --repeats 2)
else
  STEP=(--vocab 100000 --rank 512 --batch 6000 --dim 1024 --repeats 3)
  EVAL=(--sentences 16000 --vocab 100000 --rank 512 --dim 1024 --depth 100 --repeats 3)
  EXTRACT=(--short 4000 --long-tail 2000 --batch-sizes 64 512 --repeats 3)
  DATA=(--rows 120000 --dims 1024 --repeats 2)
  EPOCH=(--train 60000 --dim 1024 --vocab 20000 --rank 512 --batch 6000 --repeats 2 --bf16-repeats 2)
  CEIL=(--repeats 10)
fi

# part, seconds allowed, script, its arguments
part() {
  local name=$1 limit=$(($2 * SCALE)) script=$3
  shift 3
  echo "=== $name ($script, at most ${limit} s, started at ${SECONDS}s) ==="
  timeout --kill-after=5 "$limit" "$PYTHON" "benchmarks/$script" --device "$DEVICE" --json "$WORK/$name.json" "$@" \
    > "$WORK/$name.log" 2>&1
  local status=$?
  echo "$status" > "$WORK/$name.status"
  cat "$WORK/$name.log"
  echo "=== $name: exit $status after $((SECONDS - STARTED)) s in all ==="
}

part ceilings 40 ceilings.py "${CEIL[@]}"
part step 110 train_step.py --elementwise "$ELEMENTWISE" "${STEP[@]}"
part evaluate 45 evaluate.py "${EVAL[@]}"
part extraction 90 extraction.py "${EXTRACT[@]}"
part data_path 70 data_path.py --workdir "$WORK/data" "${DATA[@]}"
part epoch 90 train_epoch.py --workdir "$WORK/epoch" "${EPOCH[@]}"

for name in ceilings step evaluate extraction data_path epoch; do
  { echo "=== $name (exit $(cat "$WORK/$name.status")) ==="; cat "$WORK/$name.log"; } >> "$WORK/gpu_log.txt"
done
[ -n "${OUT:-}" ] && mkdir -p "$OUT" && cp "$WORK/gpu_log.txt" "$OUT"/
"$PYTHON" benchmarks/gpu_table.py "$WORK" --seconds $((SECONDS - STARTED)) | tee "$WORK/gpu_table.md"
[ -n "${OUT:-}" ] && cp "$WORK/gpu_table.md" "$WORK/gpu_results.json" "$OUT"/
exit 0
