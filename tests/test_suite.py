"""The asv suite itself: its regimes, a real run of the smoke subset, deterministic figures."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from asv import results as asv_results

from benchmarks import common, regimes
from birnn_bench.strategies import BASELINE, STRATEGIES
from tests.conftest import REPO, background_fixture, head_commit, run_asv

KINDS = {"time_extract", "time_forward", "time_train_step", "track_peak_bytes",
         "track_max_abs_error", "track_threads", "track_ops", "track_ops_extract",
         "track_time_ratio", "track_time_ratio_low", "track_time_ratio_high",
         "track_error_over_tolerance", "track_error_verdict", "track_slowed_ratio",
         "track_slowed_ratio_low", "track_slowed_ratio_high", "track_rounds",
         "track_conditions_failed", "track_conditions_checked"}
ID = re.compile(r"^(cpu|cuda)-(lstm|gru)-L\d+-B\d+-T\d+-H\d+-(equal|uniform|skewed)-\w+$")


def test_quick_regimes_span_what_users_run() -> None:
    cpu = regimes.regimes("quick", ("cpu",))
    assert len(cpu) == 16 and all(ID.match(r.id) for r in cpu)
    names = {r.name for r in cpu}
    assert names == {"latency", "batch_equal", "batch_skewed", "long_skewed"}
    # The regimes where packing decides are in: long, skewed lengths.
    assert any(r.max_len >= 128 and r.lengths == "skewed" for r in cpu)
    assert {(r.cell, r.layers) for r in cpu} == {("lstm", 1), ("lstm", 2), ("gru", 1),
                                                ("gru", 2)}
    cuda = regimes.regimes("quick", ("cuda",))
    assert {r.dtype for r in cuda} == {"float32", "bfloat16"}
    assert any(r.name == "wide" and r.batch == 256 for r in cuda)
    assert all(r.train for r in cuda)
    assert len({r.id for r in cpu + cuda}) == len(cpu + cuda)


def test_full_grid_and_smoke() -> None:
    full = regimes.regimes("full", ("cpu",))
    assert {r.dtype for r in full} == {"float32"}  # low precision is measured on CUDA only
    assert {r.batch for r in full} == {1, 16, 64, 256} and {r.max_len for r in full} == {
        32, 128, 512}
    assert [r.id for r in regimes.regimes("smoke", ("cpu",))] == [
        "cpu-lstm-L2-B4-T8-H16-skewed-float32"]


def test_devices_follow_the_build_and_the_override(monkeypatch) -> None:
    monkeypatch.delenv(regimes.DEVICES_ENV, raising=False)
    assert regimes.devices() == (("cpu", "cuda") if torch.version.cuda else ("cpu",))
    monkeypatch.setenv(regimes.DEVICES_ENV, "cuda")
    assert regimes.devices() == ("cuda",)
    monkeypatch.setenv(regimes.DEVICES_ENV, "tpu")
    with pytest.raises(ValueError, match="BIRNN_BENCH_DEVICES"):
        regimes.devices()
    monkeypatch.setenv(regimes.GRID_ENV, "huge")
    with pytest.raises(ValueError, match="BIRNN_BENCH_GRID: expected one of"):
        regimes.grid_name()


def test_suite_measures_every_strategy_of_the_registry() -> None:
    assert common.PARAMS[1] == list(STRATEGIES) and common.BASELINE == BASELINE


def test_points_a_regime_does_not_measure_are_not_applicable() -> None:
    quick = regimes.by_id("quick", ("cpu",))
    long_id = next(i for i, r in quick.items() if not r.train)
    saved = dict(common.REGIMES)
    common.REGIMES.update(quick)
    try:
        with pytest.raises(NotImplementedError, match="training step is not measured"):
            common.case_for(long_id, BASELINE, train=True)
        with pytest.raises(NotImplementedError, match="no strategy"):
            common.case_for(long_id, "nope")
    finally:
        common.REGIMES.clear()
        common.REGIMES.update(saved)


def test_smoke_run_results_parse(smoke_results) -> None:
    """CI runs a tiny subset of the suite for real and reads its results back."""
    found = list(asv_results.iter_results(str(smoke_results / "smoke-box")))
    assert len(found) == 1
    result = found[0]
    assert result.commit_hash == head_commit()
    # compiled: its own sub-list; instructions: one point (tests/test_instructions.py)
    names = [n for n in result.get_all_result_keys()
             if not n.startswith(("compiled.", "instructions."))]
    assert {name.rsplit(".", 1)[-1] for name in names} == KINDS  # no CUDA-only kinds on CPU
    for name in names:
        if name.endswith("track_threads"):
            continue
        params = result.get_result_params(name)
        # Per regime (the +5% copy, rounds), per strategy (the matrix), else both.
        shape = [1] if name.startswith("ratios.Resolution") else [len(STRATEGIES)] \
            if name.startswith("strategies.Correctness") else [1, len(STRATEGIES)]
        assert [len(p) for p in params] == shape, name
        values = result.get_result_value(name, params)
        if name.endswith("time_train_step") or "ratio" in name or "time_" in name:
            assert all(v is not None and v == v and v > 0 for v in values), name
        else:
            assert all(v is not None and v == v and v >= 0 for v in values), name


def _by_strategy(result, name: str) -> dict[str, float]:
    params = result.get_result_params(name)
    return {s.strip("'"): v for s, v in zip(params[1], result.get_result_value(name, params),
                                             strict=True)}


def test_smoke_run_error_benchmark_matches_the_check(smoke_results) -> None:
    result = next(asv_results.iter_results(str(smoke_results / "smoke-box")))
    errors = _by_strategy(result, "strategies.Error.track_max_abs_error")
    for strategy in ("hn_index", "packed_unpack", "chunk_view", "manual_two_rnn",
                     "hn_plain_if_full", "bucketed"):
        assert errors[strategy] < 1e-4, strategy
    for strategy in ("hn_first_layer", "last_step_naive", "padded_gather", "hn_padded"):
        assert errors[strategy] > 1e-2, strategy  # smoke regime: 2 layers, padded batch


def test_smoke_run_paired_ratios_have_intervals(smoke_results) -> None:
    result = next(asv_results.iter_results(str(smoke_results / "smoke-box")))
    for mode in ("PairedForward", "PairedTrainStep"):
        ratio, low, high = (_by_strategy(result, f"ratios.{mode}.track_time_ratio{s}")
                            for s in ("", "_low", "_high"))
        for name in STRATEGIES:
            assert 0 < low[name] <= ratio[name] <= high[name], (mode, name)
        # The baseline's own row is its A/A (present, with an interval like every row); where
        # it lies is a live measurement, asserted nowhere (test_compare fakes the clock).
        assert BASELINE in ratio


def test_smoke_run_records_threads_and_versions(smoke_results) -> None:
    result = next(asv_results.iter_results(str(smoke_results / "smoke-box")))
    name = next(n for n in result.get_all_result_keys() if n.endswith("track_threads"))
    params = result.get_result_params(name)
    assert result.get_result_value(name, params) == [1]
    flat = [p for values in params for p in values]
    assert repr(torch.__version__) in flat


PEAK_SCRIPT = """
import torch
from birnn_bench.bench import BenchCase
from birnn_bench.workload import WorkloadSpec
torch.set_num_threads(1)
spec = WorkloadSpec(cell="gru", num_layers=2, input_size=64, hidden_size=32, batch=16,
                    max_len=24, lengths="skewed")
for s in ("hn_index", "packed_unpack", "padded_gather", "manual_two_rnn"):
    print(s, BenchCase(spec, s).peak_bytes())
"""


FORKED_PEAK_SCRIPT = """
import os
import benchmarks.common  # warms the profiler, as in asv's forkserver before forking points
pid = os.fork()
if pid == 0:
    exec(compile(SCRIPT, "peak", "exec"))
    os._exit(0)
os.waitpid(pid, 0)
"""


def asv_check(_workdir: Path, environ: dict[str, str]) -> subprocess.CompletedProcess:
    """``asv check`` of the suite. Each process-level check of this file runs in the background
    from collection on, a fixture of its own."""
    return subprocess.run([sys.executable, "-m", "asv", "check", "--python=same"], cwd=REPO,
                          capture_output=True, text=True,
                          env={**environ, "ASV_PYTHONPATH": str(REPO)})


def fresh_benchmarks_json(workdir: Path, environ: dict[str, str]) -> Path:
    """``benchmarks.json`` as a run of one tiny benchmark of the quick CPU grid writes it."""
    return run_asv(workdir, "fresh", r"^strategies\.Environment\.",
                   {**environ, "BIRNN_BENCH_DEVICES": "cpu"}, grid="quick") / "benchmarks.json"


def peak_outputs(_workdir: Path, environ: dict[str, str]) -> list[str]:
    """``PEAK_SCRIPT``'s output in two fresh processes, then in a child forked from a process
    that imported the suite."""
    return [subprocess.run([sys.executable, "-c", code], cwd=REPO, env=environ, check=True,
                           capture_output=True, text=True).stdout
            for code in (PEAK_SCRIPT, PEAK_SCRIPT,
                         f"SCRIPT = {PEAK_SCRIPT!r}\n" + FORKED_PEAK_SCRIPT)]


checked = background_fixture("checked", asv_check)
written_benchmarks = background_fixture("written_benchmarks", fresh_benchmarks_json)
peaks = background_fixture("peaks", peak_outputs)


def test_peak_bytes_repeat_exactly_across_processes(peaks) -> None:
    runs = peaks[:2]
    lines = [line for line in runs[0].splitlines() if line.split()[0] in STRATEGIES]
    assert len(lines) == 4 and runs[0] == runs[1]
    peaks = {line.split()[0]: int(line.split()[1]) for line in lines}
    assert all(v > 0 for v in peaks.values())
    # Packing keeps only valid steps: on skewed lengths it allocates less than a padded run.
    assert peaks["hn_index"] < peaks["padded_gather"]


def test_the_committed_benchmarks_json_is_what_the_suite_writes(written_benchmarks) -> None:
    """asv rewrites ``results/benchmarks.json`` on every run: a stale committed copy shows up as
    a modified tracked file after the main job (and misleads the dashboard). A run of one tiny
    benchmark of the quick CPU grid writes it afresh; it must equal the committed one."""
    written = json.loads(written_benchmarks.read_text())
    committed = json.loads((REPO / "results" / "benchmarks.json").read_text())
    assert written == committed, "results/benchmarks.json is stale: commit the one asv writes " \
        "(python3 -m asv run --python=same ... rewrites it)"


def test_asv_check_passes(checked) -> None:
    done = checked
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No problems found" in done.stdout


def test_figures_in_children_of_a_warmed_forkserver_are_the_same(peaks) -> None:
    fresh, _, forked = peaks
    assert fresh.count("\n") >= 4 and forked == fresh


CUDA_BUILD_IMPORT = """
import torch
import torch.profiler

torch.version.cuda = "12.8"  # pretend this is a CUDA build on a GPU machine


def touched(*args, **kwargs):
    raise RuntimeError("CUDA touched in the process asv forks benchmark points from")


for name in ("is_available", "get_device_name", "init", "_lazy_init", "device_count",
             "synchronize", "is_initialized"):
    setattr(torch.cuda, name, touched)
torch.profiler.profile = touched
import benchmarks.compiled, benchmarks.profiles, benchmarks.ratios  # noqa: E401
import benchmarks.strategies

print(dict(zip(benchmarks.strategies.Environment.param_names,
               (p[0] for p in benchmarks.strategies.Environment.params))))
print(sorted({r.split("-")[0] for r in benchmarks.common.REGIMES}))
print(hasattr(benchmarks.profiles, "CudaCounts"))
"""


def test_importing_the_suite_leaves_cuda_alone_on_a_cuda_build() -> None:
    # asv's forkserver imports the suite once and forks every point from that process: had it
    # initialised CUDA (the GPU's name, say), every CUDA point would fail in its child.
    done = subprocess.run([sys.executable, "-c", CUDA_BUILD_IMPORT], cwd=REPO,
                          capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items()
                               if k != regimes.DEVICES_ENV})
    assert done.returncode == 0, done.stderr[-2000:]
    env_line, devices, kernels = done.stdout.strip().splitlines()[-3:]
    env = ast.literal_eval(env_line)
    # The environment still names versions and threads: a subprocess answered.
    assert env["torch"] == torch.__version__ and env["threads"] == "1"
    # A CUDA build lists CUDA regimes and the CUDA-only counters; a CPU build does not.
    assert ast.literal_eval(devices) == ["cpu", "cuda"] and kernels == "True"
