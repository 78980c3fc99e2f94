#!/usr/bin/env bash
# The main job (README "Quick start"): correctness matrix, a quick CPU asv run of this commit,
# and the analysis report. Results land in the repo's results tree under this machine's name.
#   MACHINE   asv machine name (default: hostname)
#   BIRNN_BENCH_GRID   quick (default) | full | smoke
#   REPORT_DIR   where the report goes (default: report/)
set -euo pipefail
cd "$(dirname "$0")/.."
machine="${MACHINE:-$(hostname)}"
export BIRNN_BENCH_GRID="${BIRNN_BENCH_GRID:-quick}"
export ASV_PYTHONPATH="$PWD"
commit="$(git rev-parse HEAD)"

echo "== 1/3 correctness matrix (birnn-bench check)" >&2
birnn-bench check --quiet --json "${REPORT_DIR:-report}/check.json"

echo "== 2/3 asv: ${BIRNN_BENCH_GRID} grid on this machine ($machine), commit ${commit:0:8}" >&2
python3 scripts/asv_machine.py "$machine"
python3 -m asv run --python=same --set-commit-hash="$commit" --machine "$machine" \
    --record-samples --show-stderr ${ASV_ARGS:-}

echo "== 3/3 analysis report -> ${REPORT_DIR:-report}/" >&2
birnn-bench report --out "${REPORT_DIR:-report}"
