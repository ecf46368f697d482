#!/usr/bin/env bash
# Issue 38 GPU check in one call (at most ~9 minutes on one H100/H200): the Triton kernel tests on the GPU
# (compiled, not interpreted), then benchmarks/gpu_speed.py in its time box. Writes
# benchmarks/results/<device>-speed.json and <device>-speed.log (copied to $OUT when set, e.g. a lent machine's
# output folder). Without CUDA: `--tiny` sizes (a smoke test).
#
#   bash benchmarks/gpu_speed.sh [gpu_speed.py options]      # e.g. --budget-s 300
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
LIMIT=${LIMIT:-450}  # hard stop for gpu_speed.py (its own --budget-s is 420 s)
DEV=$($PY -c "import sys; sys.argv=['x']; from benchmarks.gpu_speed import device_name; import torch; \
print(device_name(torch.device('cuda' if torch.cuda.is_available() else 'cpu')))")
LOG=benchmarks/results/$DEV-speed.log
ARGS=("$@")
{
  echo "# bash benchmarks/gpu_speed.sh ${ARGS[*]:-}  ($(date -u +%FT%TZ), $(git rev-parse --short HEAD 2>/dev/null))"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
  if [ "$DEV" != cpu ]; then
    echo "== Triton kernel tests on $DEV"
    timeout 90 $PY -m pytest -q -p no:cacheprovider tests/activations/test_triton.py 2>&1 | tail -5
  else
    ARGS+=(--tiny)
  fi
  timeout -k 10 "$LIMIT" $PY benchmarks/gpu_speed.py "${ARGS[@]}" 2>&1 | grep -v "No CUDA runtime is found"
  echo "rc=${PIPESTATUS[0]}"
} 2>&1 | tee "$LOG"
if [ -n "${OUT:-}" ]; then
  cp "$LOG" "benchmarks/results/$DEV-speed.json" "$OUT"/ 2>/dev/null || true
fi
