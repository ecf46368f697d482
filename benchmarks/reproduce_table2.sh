#!/usr/bin/env bash
# The paper's Table 2 protocol on real CIFAR-10: the five `cifar10_*` presets (relu, elu, prelu, rational,
# exponential) x N seeds, on whatever device is there, then the published page:
#   <docs>/runs/<name>/   every run's small files (config, metrics, summary, env, robustness, corruptions
#                         if evaluated, predicted classes; no checkpoints, no probabilities)
#   <page>                actbench report --paper cifar10 --format md --provenance --tests welch,paired,power
#   <page dir>/<name>-plots/  the report's plots, linked from the page
#
#   bash benchmarks/reproduce_table2.sh                                   # full protocol: 200 epochs, 5 seeds
#   bash benchmarks/reproduce_table2.sh --epochs 20 --seeds 0,1,2         # shortened (CPU)
#   bash benchmarks/reproduce_table2.sh --data DIR_OR_ARCHIVE --name cifar10-gpu --page docs/results/cifar10-gpu.md
#   bash benchmarks/reproduce_table2.sh ... -- --workers 5                # anything after -- goes to `sweep`
#   bash benchmarks/reproduce_table2.sh --epochs 200 --seeds 0 --name cifar10-200 --page docs/results/cifar10-200.md \
#     --reference docs/results/runs/cifar10-cpu   # the page also lines the runs up with another sweep's
#
# Seeds run one after another (each a sweep over the five activations), so an interrupted protocol leaves
# whole seeds behind; re-running the same command skips finished runs and resumes the others. Only the
# epoch count (and the number of seeds) may differ from the paper's protocol; everything else is the preset.
set -euo pipefail
cd "$(dirname "$0")/.."

EPOCHS=200 SEEDS=0,1,2,3,4 OUT=runs DOCS=docs/results NAME="" PAGE="" ROBUST="gaussian,uniform,salt_pepper" REF=()
DATA=../shared/data/cifar10-jpeg.tar.gz
[ -f "$DATA" ] || DATA=../shared/data/cifar10-jpeg
ACTS=relu,elu,prelu,rational,exponential
usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) EPOCHS=$2; shift 2 ;;
    --seeds) SEEDS=$2; shift 2 ;;
    --data) DATA=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --name) NAME=$2; shift 2 ;;
    --docs) DOCS=$2; shift 2 ;;
    --page) PAGE=$2; shift 2 ;;
    --noise) ROBUST=$2; shift 2 ;;
    --reference) REF=(--reference "$2"); shift 2 ;;
    -h|--help) usage ;;
    --) shift; break ;;
    *) echo "reproduce_table2.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
EXTRA=("$@")
ACTBENCH=${ACTBENCH:-actbench} PYTHON=${PYTHON:-python}
DEVICE=$("$PYTHON" -c "import torch; print('gpu' if torch.cuda.is_available() else 'cpu')")
NAME=${NAME:-cifar10-$DEVICE}
PAGE=${PAGE:-$DOCS/cifar10.md}
[ -e "$DATA" ] || { echo "reproduce_table2.sh: no CIFAR-10 at $DATA (use --data)" >&2; exit 2; }

start=$(date +%s)
for seed in ${SEEDS//,/ }; do
  echo "=== seed $seed: $ACTS, $EPOCHS epochs, data $DATA ($(date -u +%FT%TZ))"
  # `|| true`: a failed run is recorded in its folder and reported; the protocol goes on.
  "$ACTBENCH" sweep --config cifar10_relu --acts "$ACTS" --seeds "$seed" --name "$NAME" --out "$OUT" \
    --set train.epochs="$EPOCHS" --set data.name=folder --set data.root="$DATA" \
    --set "robustness.kinds=[$ROBUST]" --robustness "${EXTRA[@]}" || true
done
echo "=== sweep wall time: $(( $(date +%s) - start )) s"

# The published copy: small files only (checkpoints stay in $OUT), slim predictions (predicted classes, ~11 KB
# per run: the page's per-image comparisons). Copies over older ones of the same run.
"$PYTHON" benchmarks/publish_runs.py "$OUT/$NAME" "$DOCS/runs/$NAME"
# The documented report command (docs/results/README.md; tests/e2e/test_results_docs.py re-runs it):
# the page links the plots, relative to itself
"$ACTBENCH" report "$DOCS/runs/$NAME" --paper cifar10 --format md --provenance --tests welch,paired,power \
  "${REF[@]}" --plots "$(dirname "$PAGE")/$NAME-plots" --out "$PAGE"
echo "=== wrote $PAGE and $(dirname "$PAGE")/$NAME-plots/ ($(( $(date +%s) - start )) s in all)"
