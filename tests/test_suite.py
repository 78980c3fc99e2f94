"""The asv suite itself: its grid, a real run of the smoke subset, deterministic figures."""

from __future__ import annotations

import ast
import itertools
import math
import os
import subprocess
import sys

import pytest
import torch
from asv import results as asv_results

from birnn_bench import grid
from birnn_bench.bench import BenchCase, NotApplicable
from birnn_bench.strategies import STRATEGIES
from tests.conftest import REPO, head_commit

KINDS = {"time_extract", "time_forward", "time_train_step", "track_peak_bytes",
         "track_max_abs_error", "track_threads", "track_ops", "track_ops_extract",
         "track_kernels", "track_host_syncs"}
CUDA_ONLY_KINDS = {"track_kernels", "track_host_syncs"}


def test_bench_strategies_are_every_strategy() -> None:
    assert list(grid.BENCH_STRATEGIES) == list(STRATEGIES)


def test_grids_use_the_documented_parameter_names() -> None:
    assert grid.BENCH_PARAM_NAMES == ("device", "cell", "batch", "max_len", "lengths", "hidden",
                                      "layers", "dtype", "strategy")
    for name in grid.GRIDS:
        assert tuple(grid.bench_grid(name)) == grid.BENCH_PARAM_NAMES
    full = grid.bench_grid("full")
    assert full["batch"] == (1, 16, 64, 256) and full["max_len"] == (32, 128, 512)
    assert set(full["dtype"]) == {"float32", "float16", "bfloat16"}


def test_grid_env_var_is_checked(monkeypatch) -> None:
    monkeypatch.setenv(grid.GRID_ENV, "huge")
    with pytest.raises(ValueError, match="BIRNN_BENCH_GRID: expected one of"):
        grid.bench_grid()


def test_points_without_hardware_are_not_applicable() -> None:
    with pytest.raises(NotImplementedError, match="measured on CUDA only"):
        BenchCase.from_params("cpu", "lstm", 4, 8, "equal", 16, 1, "bfloat16", "hn_index")
    if not torch.cuda.is_available():
        with pytest.raises(NotApplicable, match="no CUDA device"):
            BenchCase.from_params("cuda", "lstm", 4, 8, "equal", 16, 1, "float32", "hn_index")


def test_smoke_run_results_parse(smoke_results) -> None:
    """CI runs a tiny subset of the suite for real and reads its results back."""
    found = list(asv_results.iter_results(str(smoke_results / "smoke-box")))
    assert len(found) == 1
    result = found[0]
    assert result.commit_hash == head_commit()
    names = {n for n in result.get_all_result_keys() if not n.startswith("deploy.")}
    assert {name.rsplit(".", 1)[-1] for name in names} == KINDS
    assert {n for n in result.get_all_result_keys() if n.startswith("deploy.")} == {
        "deploy.Compiled.time_forward_compiled", "deploy.Compiled.track_compile_seconds",
        "deploy.Compiled.track_compiled_error"}
    smoke = grid.bench_grid("smoke")
    for name in names:
        if name.endswith("track_threads"):
            continue
        params = result.get_result_params(name)
        values = result.get_result_value(name, params)
        assert len(values) == math.prod(len(v) for v in smoke.values())
        # CPU points measured, CUDA points n/a (NaN/None) on a machine without a GPU.
        cpu = [v for v, combo in zip(values, _combos(params), strict=True) if combo[0] == "'cpu'"]
        if name.rsplit(".", 1)[-1] in CUDA_ONLY_KINDS:
            assert all(v is None or v != v for v in cpu), name  # n/a on CPU, never 0
        else:
            assert all(v is not None and v == v and v >= 0 for v in cpu), name
        if not torch.cuda.is_available():
            cuda = [v for v, c in zip(values, _combos(params), strict=True) if c[0] == "'cuda'"]
            assert all(v is None or v != v for v in cuda), name


def _combos(params):
    return list(itertools.product(*params))


def test_smoke_run_error_benchmark_matches_the_check(smoke_results) -> None:
    result = next(asv_results.iter_results(str(smoke_results / "smoke-box")))
    name = next(n for n in result.get_all_result_keys() if n.endswith("track_max_abs_error"))
    params = result.get_result_params(name)
    errors = {combo[-1].strip("'"): value for combo, value in
              zip(_combos(params), result.get_result_value(name, params), strict=True)
              if combo[0] == "'cpu'"}
    for strategy in ("hn_index", "packed_unpack", "chunk_view", "manual_two_rnn"):
        assert errors[strategy] < 1e-4, strategy
    for strategy in ("hn_first_layer", "last_step_naive", "padded_gather", "hn_padded"):
        assert errors[strategy] > 1e-2, strategy  # smoke grid: 2 layers, padded batch


def test_smoke_run_records_threads_and_versions(smoke_results) -> None:
    result = next(asv_results.iter_results(str(smoke_results / "smoke-box")))
    name = next(n for n in result.get_all_result_keys() if n.endswith("track_threads"))
    params = result.get_result_params(name)
    assert result.get_result_value(name, params) == [1]
    flat = [p for values in params for p in values]
    assert repr(torch.__version__) in flat


PEAK_SCRIPT = """
from birnn_bench.bench import BenchCase
for s in ("hn_index", "packed_unpack", "padded_gather", "manual_two_rnn"):
    case = BenchCase.from_params("cpu", "gru", 16, 24, "skewed", 32, 2, "float32", s)
    print(s, case.peak_bytes())
"""


def test_peak_bytes_repeat_exactly_across_processes() -> None:
    runs = [subprocess.run([sys.executable, "-c", PEAK_SCRIPT], cwd=REPO, check=True,
                           capture_output=True, text=True).stdout for _ in range(2)]
    lines = [line for line in runs[0].splitlines() if line.split()[0] in STRATEGIES]
    assert len(lines) == 4 and runs[0] == runs[1]
    peaks = {line.split()[0]: int(line.split()[1]) for line in lines}
    assert all(v > 0 for v in peaks.values())
    # Packing keeps only valid steps: on skewed lengths it allocates less than a padded run.
    assert peaks["hn_index"] < peaks["padded_gather"]


def test_asv_check_passes() -> None:
    done = subprocess.run([sys.executable, "-m", "asv", "check", "--python=same"], cwd=REPO,
                          capture_output=True, text=True,
                          env={**os.environ, "ASV_PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No problems found" in done.stdout


FORKED_PEAK_SCRIPT = """
import os
from birnn_bench import measure
measure.warm_profiler()  # what the suite does in asv's forkserver before forking each point
pid = os.fork()
if pid == 0:
    exec(compile(SCRIPT, "peak", "exec"))
    os._exit(0)
os.waitpid(pid, 0)
"""


def test_figures_in_children_of_a_warmed_forkserver_are_the_same() -> None:
    fresh, forked = (subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True,
                                    capture_output=True, text=True).stdout
                     for code in (PEAK_SCRIPT, f"SCRIPT = {PEAK_SCRIPT!r}\n" + FORKED_PEAK_SCRIPT))
    assert fresh.count("\n") >= 4 and forked == fresh


CUDA_BUILD_IMPORT = """
import sys
import torch
from birnn_bench import measure

torch.version.cuda = "12.8"  # pretend this is a CUDA build on a GPU machine


def touched(*args, **kwargs):
    raise RuntimeError("CUDA touched in the process asv forks benchmark points from")


for name in ("is_available", "get_device_name", "init", "_lazy_init", "device_count",
             "synchronize", "is_initialized"):
    setattr(torch.cuda, name, touched)
measure.profile = touched
measure.warm_profiler()  # skipped on a CUDA build
import benchmarks.deploy, benchmarks.profiles, benchmarks.strategies  # noqa: E401

print(dict(zip(benchmarks.strategies.Environment.param_names,
               (p[0] for p in benchmarks.strategies.Environment.params))))
"""


def test_importing_the_suite_leaves_cuda_alone_on_a_cuda_build() -> None:
    # asv's forkserver imports the suite once and forks every point from that process: had it
    # initialised CUDA (the GPU's name, say), every CUDA point would fail in its child.
    done = subprocess.run([sys.executable, "-c", CUDA_BUILD_IMPORT], cwd=REPO,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    env = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    # The environment still names versions and threads: a subprocess answered.
    assert env["torch"] == torch.__version__ and env["threads"] == "1"
