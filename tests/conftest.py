"""Shared fixtures: a REAL asv run of the smoke grid (no hand-written results anywhere)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def load_script(path: Path, name: str):
    """Imports a script from scripts/ as a module (it is not part of the package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while creating classes
    spec.loader.exec_module(module)
    return module


def load_asv_conf(path: Path) -> dict:
    from asv import util

    return util.load_json(str(path), js_comments=True)


def repo_limits():
    """The regression thresholds of the repository's asv.conf.json (``history.Limits``)."""
    from analysis.history import Limits

    return Limits.from_conf(load_asv_conf(REPO / "asv.conf.json"))


def make_case(device: str, cell: str, batch: int, max_len: int, lengths: str, hidden: int,
              layers: int, dtype: str, strategy: str):
    """A BenchCase from the suite's regime fields (input size as in benchmarks/regimes.py)."""
    from benchmarks.regimes import INPUT_SIZE
    from birnn_bench.bench import BenchCase
    from birnn_bench.workload import WorkloadSpec

    spec = WorkloadSpec(cell=cell, num_layers=layers, input_size=INPUT_SIZE, hidden_size=hidden,
                        batch=batch, max_len=max_len, lengths=lengths, dtype=dtype,
                        device=device)
    return BenchCase(spec, strategy)


def head_commit() -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, check=True,
                          capture_output=True, text=True).stdout.strip()


def run_asv_smoke(workdir: Path, machine: str, bench: str | None = None,
                  environ: dict[str, str] | None = None) -> Path:
    """``asv run --python=same`` of the smoke grid into ``workdir/results``; returns that dir.
    ``environ``: the environment to start from (default: this process's, read now)."""
    conf = load_asv_conf(REPO / "asv.conf.json")
    conf.update(repo=str(REPO), benchmark_dir=str(REPO / "benchmarks"),
                results_dir=str(workdir / "results"), html_dir=str(workdir / "html"),
                env_dir=str(workdir / "env"))
    conf_path = workdir / "asv.conf.json"
    conf_path.write_text(json.dumps(conf, indent=2))
    # A short paired budget: the smoke regime is tiny, and the tests read the figures' shape,
    # never their width (the suite's default, 30 s per regime and mode, is for real runs).
    env = {**(os.environ if environ is None else environ), "HOME": str(workdir),
           "BIRNN_BENCH_GRID": "smoke", "BIRNN_BENCH_PAIRED_BUDGET": "2",
           "ASV_PYTHONPATH": str(REPO)}
    asv = [sys.executable, "-m", "asv"]
    subprocess.run([*asv, "machine", "--yes", "--machine", machine], cwd=workdir, env=env,
                   check=True, capture_output=True, text=True)
    command = [*asv, "run", "--python=same", f"--set-commit-hash={head_commit()}",
               "--config", str(conf_path), "--machine", machine]
    if bench:
        command += ["--bench", bench]
    done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return workdir / "results"


class SmokeRun:
    """The session's smoke run, started in the background as soon as the tests are collected
    (``pytest_collection_modifyitems``) so that the tests that do not read it run on the other
    core meanwhile; those that do run last. A results tree from a real asv run of every
    benchmark on the smoke grid (CPU); the instruction counts count one point (the baseline),
    under valgrind, for real. Beside it, a second asv run of the instruction counts alone writes
    ``../recount/``: tests/test_instructions.py compares the two runs."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.failed: list[BaseException] = []
        self.result: Path | None = None
        environ = dict(os.environ)  # read now: tests may change os.environ meanwhile
        (workdir / "recount").mkdir(parents=True)
        self.threads = [threading.Thread(target=self._run, args=(
                            lambda: run_asv_smoke(workdir, "smoke-box", environ=environ), True)),
                        threading.Thread(target=self._run, args=(
                            lambda: run_asv_smoke(workdir / "recount", "smoke-box",
                                                  bench=r"^instructions\.", environ=environ),
                            False))]
        for thread in self.threads:
            thread.start()

    def _run(self, run, main: bool) -> None:
        try:
            found = run()
            if main:
                self.result = found
        except BaseException as err:  # reported by the tests that read it
            self.failed.append(err)
            if not main:
                (self.workdir / "recount" / "failed.txt").write_text(repr(err))

    def results(self) -> Path:
        for thread in self.threads:
            thread.join()
        if self.result is None:
            pytest.fail(f"the smoke asv run failed: {self.failed[0]!r}"[:5000])
        return self.result


_SMOKE: list[SmokeRun] = []


@pytest.hookimpl(trylast=True)  # after -m / -k deselected what does not run
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reads = ["smoke_results" in getattr(item, "fixturenames", ()) for item in items]
    if not any(reads) or os.environ.get("BIRNN_BENCH_SMOKE_RESULTS"):
        return
    order = sorted(range(len(items)), key=lambda i: reads[i])  # stable: file order otherwise
    items[:] = [items[i] for i in order]
    # pytest's own tmp_path_factory (what the tmp_path fixtures use): kept as pytest keeps them
    _SMOKE.append(SmokeRun(config._tmp_path_factory.mktemp("asv-smoke")))


def pytest_sessionfinish(session: pytest.Session) -> None:
    for run in _SMOKE:  # no asv process outlives the session
        for thread in run.threads:
            thread.join()


@pytest.fixture(scope="session")
def smoke_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smoke run's results tree (``SmokeRun``); ``$BIRNN_BENCH_SMOKE_RESULTS``: a workdir
    kept from an earlier run, copied instead."""
    cached = os.environ.get("BIRNN_BENCH_SMOKE_RESULTS")
    if cached:
        workdir = tmp_path_factory.mktemp("asv-smoke")
        shutil.copytree(cached, workdir, dirs_exist_ok=True)
        return workdir / "results"
    if not _SMOKE:  # collected by other means than this conftest's hook
        _SMOKE.append(SmokeRun(tmp_path_factory.mktemp("asv-smoke")))
    return _SMOKE[0].results()
