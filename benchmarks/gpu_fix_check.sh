#!/usr/bin/env bash
# After issue 21's GPU sweep (Rational/Exponential learned nothing when compiled on CUDA): does the fix hold
# on a GPU? (1) benchmarks/grad_check.py --old: gradients eager vs compiled now vs the Function traced as
# before; (2) beside it, short synthetic trains with the device defaults and eagerly, and a pack of the two
# units: the learned a must move and the compiled runs must match the eager ones.
#   bash benchmarks/gpu_fix_check.sh OUT_DIR [EPOCHS]
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3} OUT_DIR=${1:?OUT_DIR} EPOCHS=${2:-3} RUNS=${RUNS:-/tmp/fix-runs}
mkdir -p "$OUT_DIR" "$RUNS"
T=(--config quickstart --set train.epochs="$EPOCHS" --out "$RUNS" --log-format text)
for act in rational exponential; do
  $PY -m actbench train "${T[@]}" --set activation.name=$act --name $act-auto > "$OUT_DIR/train-$act-auto.log" 2>&1 &
  $PY -m actbench train "${T[@]}" --set activation.name=$act --set train.compile=false --name $act-eager \
    > "$OUT_DIR/train-$act-eager.log" 2>&1 &
done
$PY -m actbench sweep "${T[@]}" --acts rational,exponential --pack 2 --name pack > "$OUT_DIR/sweep-pack.log" 2>&1 &
$PY benchmarks/grad_check.py --old 2>&1 | grep -v -i warn
wait
grep -h "completed\|failed\|error\|no gradient" "$OUT_DIR"/*.log | cut -c 22-
for f in "$OUT_DIR"/train-*.log "$OUT_DIR"/sweep-pack.log; do grep -h "epoch $EPOCHS/" "$f" | cut -c 22-; done
