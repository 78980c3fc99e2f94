"""Shared fixtures: a REAL asv run of the smoke grid (no hand-written results anywhere)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
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
    from analysis.model.history import Limits

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


def asv_config(workdir: Path) -> Path:
    """``workdir/asv.conf.json``: the repository's asv.conf.json on this tree, with results,
    html and environments under ``workdir``."""
    conf = load_asv_conf(REPO / "asv.conf.json")
    conf.update(repo=str(REPO), benchmark_dir=str(REPO / "benchmarks"),
                results_dir=str(workdir / "results"), html_dir=str(workdir / "html"),
                env_dir=str(workdir / "env"))
    path = workdir / "asv.conf.json"
    path.write_text(json.dumps(conf, indent=2))
    return path


def run_asv(workdir: Path, machine: str, bench: str | None = None,
            environ: dict[str, str] | None = None, grid: str = "smoke") -> Path:
    """``asv run --python=same`` of ``grid`` (default the smoke grid) into ``workdir/results``;
    returns that dir. ``environ``: the environment to start from (default: this process's, read
    now)."""
    conf_path = asv_config(workdir)
    # A short paired budget: the smoke regime is tiny, and the tests read the figures' shape,
    # never their width (the suite's default, 30 s per regime and mode, is for real runs).
    env = {**(os.environ if environ is None else environ), "HOME": str(workdir),
           "BIRNN_BENCH_GRID": grid, "BIRNN_BENCH_PAIRED_BUDGET": "2",
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


def smoke_run(workdir: Path, environ: dict[str, str]) -> Path:
    """A results tree from a real asv run of every benchmark on the smoke grid (CPU); the
    instruction counts count one point (the baseline), under valgrind, for real."""
    return run_asv(workdir, "smoke-box", environ=environ)


def recount_instructions(workdir: Path, environ: dict[str, str]) -> Path:
    """A second asv run of the instruction counts alone, in a process of its own:
    tests/test_instructions.py compares it with the smoke run's (a slow test: 70 s of valgrind
    starting Python and torch)."""
    return run_asv(workdir, "smoke-box", bench=r"^instructions\.", environ=environ)


def committed_report(workdir: Path, environ: dict[str, str]) -> tuple[Path, str] | None:
    """(folder, stderr) of ``analysis report`` of the committed results with the committed
    check and deploy files, in a process of its own; None when this checkout has no results."""
    if not (REPO / "results" / "benchmarks.json").is_file():
        return None
    out = workdir / "report"
    deploy = sorted(str(p) for p in (REPO / "docs").glob("deploy-*.json"))
    done = subprocess.run(
        [sys.executable, "-m", "analysis", "report", "--quiet", "--results", str(REPO / "results"),
         "--check", str(REPO / "docs" / "check.json"), "--out", str(out),
         *(["--deploy", *deploy] if deploy else [])],
        cwd=workdir, env={**environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out, done.stderr


class Background:
    """``work(workdir, environ)`` in a thread; ``value()`` waits for it and returns its result or
    raises its error. Its work is in subprocesses, so the tests go on on the other core.

    A work whose ``after`` names other background works of this file (a tuple of names) waits
    for their values, passed as keyword arguments, and starts them if no test did;
    ``smoke_results`` is the smoke run's results tree."""

    def __init__(self, work: Callable[[Path, dict[str, str]], object], workdir: Path) -> None:
        self.found: list[object] = []
        self.failed: list[BaseException] = []
        environ = dict(os.environ)  # read now: tests may change os.environ meanwhile
        self.thread = threading.Thread(target=self._run, args=(work, workdir, environ))
        self.thread.start()

    def _run(self, work, workdir: Path, environ: dict[str, str]) -> None:
        try:
            earlier = {name: _earlier_value(name, environ) for name in getattr(work, "after", ())}
            self.found.append(work(workdir, environ, **earlier))
        except BaseException as err:  # raised in the test that reads it
            self.failed.append(err)

    def value(self) -> object:
        self.thread.join()
        if self.failed:
            raise self.failed[0]
        return self.found[0]


#: Session work started in the background as soon as the tests are collected, for the tests
#: that need it: fixture name -> work. Here the works whose fixtures do more than return the
#: value; every other one is a fixture made by ``background_fixture``. The tests that wait for
#: one run last, so that the others run meanwhile.
BACKGROUND: dict[str, Callable[[Path, dict[str, str]], object]] = {
    "smoke_results": smoke_run, "committed_report": committed_report}
_STARTED: dict[str, Background] = {}


def background_fixture(name: str, work: Callable[..., object], scope: str = "module"):
    """The fixture ``name`` (assign it to a module-level name of a test module or of this file):
    ``work``'s value, the work started in the background at collection when a test that runs
    uses it (``pytest_collection_modifyitems`` finds it by its ``birnn_background``)."""
    def value(background):
        return background(name, work)
    fixture = pytest.fixture(scope=scope, name=name)(value)
    fixture.birnn_background = (name, work)
    return fixture


def _works(namespace: dict[str, object]) -> dict[str, Callable]:
    """The background works of the ``background_fixture`` fixtures among ``namespace``'s values."""
    found = [getattr(value, "birnn_background", None) for value in namespace.values()]
    return dict(named for named in found if isinstance(named, tuple))


def _earlier_value(name: str, environ: dict[str, str]) -> object:
    """The value of the background work ``name`` (waited for); the smoke run's may be
    ``$BIRNN_BENCH_SMOKE_RESULTS``'s tree instead (read only)."""
    cached = environ.get("BIRNN_BENCH_SMOKE_RESULTS")
    if name == "smoke_results" and cached:
        return Path(cached) / "results"
    return _STARTED[name].value()


@pytest.hookimpl(trylast=True)  # after -m / -k deselected what does not run
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = {**BACKGROUND, **_works(globals())}
    by_module: dict[object, dict[str, Callable]] = {}
    wanted: dict[str, Callable] = {}
    waits = []
    # the smoke run copied from an earlier one instead
    copied = {"smoke_results"} if os.environ.get("BIRNN_BENCH_SMOKE_RESULTS") else set()
    for item in items:
        module = getattr(item, "module", None)
        if module not in by_module:
            by_module[module] = {**here, **_works(vars(module) if module else {})}
        work = by_module[module]
        names = set(getattr(item, "fixturenames", ())) & set(work) - copied
        wanted.update({name: work[name] for name in names})
        waits.append(bool(names))
    for work in list(wanted.values()):  # what a work waits for (``Background``) starts too
        wanted.update({name: here[name] for name in set(getattr(work, "after", ())) - copied})
    order = sorted(range(len(items)), key=lambda i: waits[i])  # stable: file order otherwise
    items[:] = [items[i] for i in order]
    # work that waits for others after them
    for name, work in sorted(wanted.items(), key=lambda item: bool(getattr(item[1], "after", ()))):
        # pytest's own tmp_path_factory (the tmp_path fixtures'): kept as pytest keeps them
        _STARTED[name] = Background(work, config._tmp_path_factory.mktemp(name))


def pytest_sessionfinish(session: pytest.Session) -> None:
    for started in _STARTED.values():  # no process outlives the session
        started.thread.join()


@pytest.fixture(scope="session")
def background(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, Callable], object]:
    """``background(name, work)``: the value of the work started at collection under ``name``
    (started now when it was not)."""
    def value(name: str, work: Callable[[Path, dict[str, str]], object]) -> object:
        if name not in _STARTED:
            _STARTED[name] = Background(work, tmp_path_factory.mktemp(name))
        return _STARTED[name].value()
    return value


@pytest.fixture(scope="session")
def smoke_results(background, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smoke run's results tree (``smoke_run``); ``$BIRNN_BENCH_SMOKE_RESULTS``: a workdir
    kept from an earlier run, copied instead."""
    cached = os.environ.get("BIRNN_BENCH_SMOKE_RESULTS")
    if cached:
        workdir = tmp_path_factory.mktemp("asv-smoke")
        shutil.copytree(cached, workdir, dirs_exist_ok=True)
        return workdir / "results"
    return background("smoke_results", smoke_run)


#: The results tree of ``recount_instructions``.
instruction_recount = background_fixture("instruction_recount", recount_instructions, "session")


@pytest.fixture(scope="session", name="committed_report")
def committed_report_fixture(background) -> tuple[Path, str]:
    """``committed_report``'s (folder, stderr), built once in the background for the tests that
    read it (none keeps a file in it)."""
    built = background("committed_report", committed_report)
    if built is None:
        pytest.skip("no committed results in this checkout")
    return built
