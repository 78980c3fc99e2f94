#!/bin/sh
# One machine of the fleet (the main workflow's matrix): the quick suite of this commit
# (scripts/main_job.py) under an asv machine name made of the runner KIND and its hardware
# (scripts/ci/machine_name.py), the instruction counts too when BENCH_INSTRUCTIONS=1, then this
# machine's results tree (results/<machine>/ + benchmarks.json) and its report copied into OUT.
#   sh scripts/ci/fleet_run.sh KIND OUT
# Exit status: main_job's (the results of the groups that finished are copied either way).
set -eu
cd "$(dirname "$0")/../.."
if [ "$#" -ne 2 ]; then
    echo "usage: fleet_run.sh KIND OUT" >&2
    exit 2
fi
kind="$1"
out="$2"
MACHINE="$(python scripts/ci/machine_name.py "$kind")"
export MACHINE
export REPORT_DIR="$out/report"
echo "fleet_run: machine $MACHINE" >&2
status=0
python scripts/main_job.py || status=$?
if [ "${BENCH_INSTRUCTIONS:-0}" = 1 ]; then
    python scripts/main_job.py --instructions || status=$?
fi
mkdir -p "$out/results"
if [ -d "results/$MACHINE" ]; then
    cp -R "results/$MACHINE" "$out/results/"
fi
cp results/benchmarks.json "$out/results/"
exit "$status"
