#!/usr/bin/env bash
# THE one command that rebuilds the findings from the committed results (results/):
#
#   docs/check.json              birnn-bench check (the correctness matrix, ~10 s)
#   docs/deploy-cpu.json         birnn-bench deploy, only with DEPLOY=1 (slow: compiles, exports)
#   docs/FINDINGS.md             the thread's claims settled, headline per device, training step,
#   docs/figures/*.png           memory, op counts, deployability, measurement integrity
#   birnn_bench/auto_policy.json what last_states(..., strategy="auto") follows
#   README.md                    only the block between <!-- findings:start/end --> markers
#   docs/report/                 the full analysis report (HTML, Markdown, CSV, figures)
#
# Device-specific inputs are picked up by glob: docs/crosscheck-*.json (scripts/crosscheck.py)
# and docs/deploy-*.json. The GPU rerun: commit the H100's asv results under results/, write
#   python scripts/crosscheck.py --device cuda --json docs/crosscheck-cuda.json
#   DEPLOY=1 DEPLOY_DEVICE=cuda bash scripts/findings.sh     (or plain bash scripts/findings.sh)
# and every generated file gains the CUDA rows.
#
# Environment: PYTHON (default python3), DEPLOY=1 to (re)write docs/deploy-$DEPLOY_DEVICE.json,
# DEPLOY_DEVICE (default cpu), RESULTS (default: results_dir of asv.conf.json).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
say() { printf '[findings %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
bb() { "$PY" -m birnn_bench.cli "$@"; }
results=()
if [ -n "${RESULTS:-}" ]; then results=(--results "$RESULTS"); fi

say "1/4 correctness matrix: birnn-bench check -> docs/check.json"
bb check --quiet --json docs/check.json

if [ "${DEPLOY:-0}" = 1 ]; then
  if bb deploy --help >/dev/null 2>&1; then
    device=${DEPLOY_DEVICE:-cpu}
    say "2/4 deployability: birnn-bench deploy --device $device -> docs/deploy-$device.json"
    bb deploy --device "$device" --json "docs/deploy-$device.json"
  else
    say "2/4 deployability: this birnn-bench has no deploy subcommand; skipped"
  fi
else
  say "2/4 deployability: skipped (DEPLOY=1 runs birnn-bench deploy; existing" \
      "docs/deploy-*.json files are used as they are)"
fi

shopt -s nullglob
crosscheck=(docs/crosscheck-*.json)
deploy=(docs/deploy-*.json)
shopt -u nullglob
say "inputs: ${#crosscheck[@]} crosscheck file(s) ${crosscheck[*]:-}; ${#deploy[@]} deploy" \
    "file(s) ${deploy[*]:-}"

say "3/4 findings: docs/FINDINGS.md, docs/figures/, birnn_bench/auto_policy.json, README.md block"
"$PY" -m analysis findings "${results[@]}" --check docs/check.json \
  --crosscheck "${crosscheck[@]}" --deploy "${deploy[@]}" \
  --out docs/FINDINGS.md --figures docs/figures --policy birnn_bench/auto_policy.json \
  --readme README.md

say "4/4 report: docs/report/"
report_deploy=()
if [ ${#deploy[@]} -gt 0 ]; then report_deploy=(--deploy "${deploy[@]}"); fi
"$PY" -m analysis report "${results[@]}" --out docs/report "${report_deploy[@]}"

say "done: docs/FINDINGS.md, README.md (findings block), birnn_bench/auto_policy.json," \
    "docs/report/index.html"
