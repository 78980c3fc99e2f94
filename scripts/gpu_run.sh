#!/usr/bin/env bash
# The GPU run (issue "The CUDA half"): ONE script for the lent GPU machine, which has torch with
# CUDA but no network and no git checkout. Three steps:
#
#   bash scripts/gpu_run.sh prepare     here: the offline bundle in .gpu/ (a shallow bare clone
#                                       of HEAD for the real commit hash, asv wheels for the
#                                       device's Python, the offline asv config); needs a clean
#                                       working tree. Carry ".gpu" to the device.
#   bash scripts/gpu_run.sh run         on the device, in the repository root: the quick regimes
#                                       on CUDA, one asv invocation per benchmark group (each
#                                       saved as it ends, most decisive first), then the
#                                       correctness check, the crosscheck and the deploy matrix
#                                       on CUDA, all under $OUT (default .gpu/out), within
#                                       $GPU_BUDGET seconds (default 480): a group that would
#                                       start past the budget is skipped and listed.
#   bash scripts/gpu_run.sh merge DIR   here: DIR/results into results/, DIR/*-cuda.json into
#                                       docs/; then `bash scripts/findings.sh` rebuilds FINDINGS.
#
# Rehearse on a CPU machine: GPU_DEVICES=cpu BIRNN_BENCH_GRID=smoke bash scripts/gpu_run.sh run
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[gpu_run %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
PY=${PYTHON:-python3}
step=${1:-}

case "$step" in
prepare)
    rm -rf .gpu
    "$PY" scripts/offline_bundle.py make --out .gpu --python-version "${GPU_PYTHON:-3.12}"
    say "bundle in .gpu/ ($(du -sh .gpu | cut -f1)); on the device: bash scripts/gpu_run.sh run"
    ;;
run)
    [ -f .gpu/run.sh ] || { say "no .gpu/run.sh: run 'prepare' here and carry .gpu"; exit 2; }
    OUT=${OUT:-.gpu/out}
    mkdir -p "$OUT"
    budget=${GPU_BUDGET:-480}
    devices=${GPU_DEVICES:-cuda}
    device=${devices%%,*}
    started=$SECONDS
    export BIRNN_BENCH_DEVICES=$devices BIRNN_BENCH_GRID=${BIRNN_BENCH_GRID:-quick}
    {
        nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null || true
        "$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version(), "tf32 cudnn default", torch.backends.cudnn.allow_tf32)'
    } > "$OUT/versions.txt"
    say "machine ${MACHINE:-named from the hardware}, devices $devices, grid $BIRNN_BENCH_GRID, budget ${budget}s: $(tr '\n' ' ' < "$OUT/versions.txt")"
    skipped=()
    for group in "ratios.(Paired|Resolution)Forward" "ratios.(Paired|Resolution)TrainStep" strategies.Error strategies.Correctness \
                 strategies.PeakMemory profiles.CudaCounts profiles.Profiles \
                 strategies.Forward strategies.TrainStep strategies.Extract "compiled.Compiled(Figures)?" \
                 strategies.Environment; do
        if (( SECONDS - started > budget )); then skipped+=("$group"); continue; fi
        say "asv group $group ($((SECONDS - started))s so far)"
        ASV_ARGS="--bench ^${group}\\. --record-samples" bash .gpu/run.sh || say "group $group: asv exit $?"
    done
    cp -r .gpu/results "$OUT/" 2>/dev/null || true
    for extra in check crosscheck deploy; do
        if (( SECONDS - started > budget )); then skipped+=("$extra"); continue; fi
        say "$extra on $device ($((SECONDS - started))s so far)"
        case $extra in
        check) "$PY" -m birnn_bench.cli check --device "$device" --quiet --json "$OUT/check-$device.json" || true ;;
        crosscheck) "$PY" scripts/crosscheck.py --device "$device" --json "$OUT/crosscheck-$device.json" || true ;;
        deploy) "$PY" -m birnn_bench.cli deploy --device "$device" --json "$OUT/deploy-$device.json" || true ;;
        esac
    done
    say "done in $((SECONDS - started))s; results in $OUT/${skipped:+; skipped past the budget: ${skipped[*]}}"
    ;;
merge)
    from=${2:?usage: gpu_run.sh merge DIR}
    "$PY" scripts/offline_bundle.py merge --from "$from/results" --into results
    for f in "$from"/crosscheck-*.json "$from"/deploy-*.json; do
        [ -f "$f" ] && cp "$f" docs/ && say "docs/$(basename "$f")"
    done
    say "now: bash scripts/findings.sh"
    ;;
*)
    sed -n '2,20p' "$0" >&2
    exit 2
    ;;
esac
