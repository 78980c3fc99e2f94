#!/usr/bin/env bash
# THE one command that rebuilds the findings from the committed results (results/):
#
#   docs/check.json              birnn-bench check (the correctness matrix, ~10 s): the safe set
#   docs/deploy-cpu.json         birnn-bench deploy, only with DEPLOY=1 (slow: compiles, exports)
#   docs/FINDINGS.md             the Compare grid per device and mode (paired ratios), resolution,
#                                reproducibility, the thread's claims settled, memory per regime,
#                                op counts, deployability, measurement integrity, which kernels
#                                run with oneDNN on and off
#   birnn_bench/auto_policy.json what last_states(..., strategy="auto") follows
#   docs/resolution.json         the grid run's own resolution (A/A, a known 5% slowdown per
#                                regime and mode) and the reproducibility between two runs
#   README.md                    only the block between <!-- findings:start/end --> markers
#   docs/report/                 the full analysis report
#
# Inputs picked up as they are: docs/crosscheck-*.json (scripts/crosscheck.py),
# docs/deploy-*.json and docs/kernels-*.json (scripts/kernels.py, one per machine).
# The GPU run (scripts/gpu_run.sh) commits its asv results under results/ and its
# docs/crosscheck-cuda.json / docs/deploy-cuda.json; rerunning this adds the CUDA sections.
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
kernels=(docs/kernels-*.json)
shopt -u nullglob
say "inputs: ${#crosscheck[@]} crosscheck file(s) ${crosscheck[*]:-}; ${#deploy[@]} deploy" \
    "file(s) ${deploy[*]:-}; ${#kernels[@]} kernels file(s) ${kernels[*]:-}"

say "3/4 findings: docs/FINDINGS.md, birnn_bench/auto_policy.json, docs/resolution.json," \
    "README.md block"
"$PY" -m analysis findings "${results[@]}" --check docs/check.json \
  --resolution docs/resolution.json \
  --crosscheck "${crosscheck[@]}" --deploy "${deploy[@]}" --kernels "${kernels[@]}" \
  --out docs/FINDINGS.md --policy birnn_bench/auto_policy.json --readme README.md

say "4/4 report: docs/report/"
report_args=(--check docs/check.json)  # only safe strategies recommended there too
if [ ${#deploy[@]} -gt 0 ]; then report_args+=(--deploy "${deploy[@]}"); fi
"$PY" -m analysis report "${results[@]}" --out docs/report "${report_args[@]}"

say "done: docs/FINDINGS.md, README.md (findings block), birnn_bench/auto_policy.json," \
    "docs/report/index.html"
