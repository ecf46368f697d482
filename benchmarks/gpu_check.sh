#!/usr/bin/env bash
# One command that prints everything needed to judge actbench's GPU performance targets:
#   * one paper_cnn CIFAR-10-sized epoch (50,000 images, batch 100) <= 1.0 s steady state, every activation
#   * the paper's Table 2 protocol (5 activations x 200 epochs) <= 15 min wall on one GPU with workers
# Synthetic data only (a GPU box may have no network); under 8 minutes on one H100/H200.
# Without CUDA it runs the same steps with tiny sizes (a smoke test; the numbers mean nothing).
#
#   bash benchmarks/gpu_check.sh [OUT_DIR]        # JSON results go to OUT_DIR (default /tmp/actbench-gpu)
#   ONLY=protocol bash benchmarks/gpu_check.sh    # one part: acts | train | protocol
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
OUT_DIR=${1:-/tmp/actbench-gpu}
mkdir -p "$OUT_DIR"

if $PY -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  DEV=cuda; IMAGES=50000; EPOCHS=2; PROTO_EPOCHS=4; WORKERS=5; TIMEOUT=150
  DATA=(--set data.test_size=10000)
else
  DEV=cpu; IMAGES=300; EPOCHS=1; PROTO_EPOCHS=1; WORKERS=2; TIMEOUT=300
  DATA=(--set data.test_size=100 --set model.channels=[4,4,4])
fi
ONLY=${ONLY:-acts,train,protocol}
want() { [[ ",$ONLY," == *",$1,"* ]]; }
step() { printf '\n=== %s ===\n' "$*"; }
run() { timeout "$TIMEOUT" "$@" || echo "!!! step failed or timed out (rc=$?): $*"; }

step "environment"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"
$PY -c "import torch, platform; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'python', \
platform.python_version(), 'device', torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu')"

if want acts; then
  step "activation forward+backward vs ReLU, (100,32,32,32) float32 [$DEV]"
  QUICK=(); [ "$DEV" = cpu ] && QUICK=(--quick)
  run $PY benchmarks/bench_activations.py --device "$DEV" "${QUICK[@]}" --json "$OUT_DIR/acts.json"
fi

bench() {  # bench NAME ACTS [overrides...]: steady epoch time per activation
  local name=$1 acts=$2; shift 2
  step "epoch time, $IMAGES images, batch 100: $name [$DEV]"
  run $PY benchmarks/bench_train_acts.py --device "$DEV" --images "$IMAGES" --epochs "$EPOCHS" --acts "$acts" \
    "${DATA[@]}" "$@" --json "$OUT_DIR/train_$name.json"
}
ALL=relu,elu,prelu,rational,exponential
if want train; then
  bench auto "$ALL"  # actbench's per-device defaults (CUDA: compile + CUDA graphs)
  bench eager "$ALL" --set train.compile=false
  bench bf16_channels_last relu,exponential --set train.amp=bf16 --set train.channels_last=true
fi
want protocol || exit 0

step "Table 2 protocol: 5 activations in $WORKERS concurrent workers on one device, $PROTO_EPOCHS epochs each"
SWEEP_DIR=$(mktemp -d)
T0=$(date +%s.%N)
run $PY -m actbench sweep --acts "$ALL" --workers "$WORKERS" --out "$SWEEP_DIR" --name proto \
  --set data.train_size=$((IMAGES + 5000)) --set train.epochs="$PROTO_EPOCHS" --set train.device="$DEV" "${DATA[@]}" \
  > "$OUT_DIR/sweep.log" 2>&1
T1=$(date +%s.%N)
grep -h -i -B2 -A8 "error\|traceback" "$SWEEP_DIR"/proto/*/train.log | head -40
$PY - "$SWEEP_DIR/proto" "$T0" "$T1" "$OUT_DIR/protocol.json" <<'EOF'
import json, sys
from pathlib import Path
sweep, t0, t1, out = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), Path(sys.argv[4])
rows = []
for s in sorted(sweep.glob("*/summary.json")):
    d = json.loads(s.read_text())
    t = d.get("timing") or {}
    rows.append({"run": s.parent.name, "status": d["status"], "epochs": d.get("epochs_done"),
                 "first_epoch_s": t.get("first_epoch_s"), "steady_epoch_s": t.get("steady_epoch_s"),
                 "wall_s": d.get("wall_time_s"), "peak_memory": (d.get("peak_memory") or {}).get("bytes")})
    print(f"{s.parent.name:<16} {d['status']:<10} first epoch {t.get('first_epoch_s') or 0:7.2f}s  median steady "
          f"{t.get('steady_epoch_s') or 0:7.3f}s (incl. val)  peak {((d.get('peak_memory') or {}).get('bytes') or 0) / 2**20:7.0f} MiB")
wall = t1 - t0
steady = max((r["steady_epoch_s"] or 0) for r in rows) if rows else 0
epochs = max((r["epochs"] or 0) for r in rows) if rows else 0
overhead = wall - steady * epochs
estimate = overhead + steady * 200
print(f"sweep wall {wall:.1f}s for {epochs} epochs; slowest concurrent steady epoch {steady:.3f}s; "
      f"fixed overhead ~{overhead:.1f}s")
print(f"ESTIMATE: Table 2 protocol (5 x 200 epochs, these workers) = {estimate / 60:.1f} min (target <= 15)")
out.write_text(json.dumps({"wall_s": wall, "rows": rows, "estimate_200_epochs_s": estimate}, indent=2))
EOF
rm -rf "$SWEEP_DIR"
step "done: JSON in $OUT_DIR"
ls "$OUT_DIR"
