"""Instructions per call under callgrind: deterministic, one valgrind process, n/a without it.

The smoke asv run (conftest) counts one tiny point under valgrind for real; a slow test counts
it again in a second asv run alongside and compares; the rest run without valgrind.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

import benchmarks.common  # noqa: F401  (warms the profiler, as asv's forkserver does)
from benchmarks import instructions as suite
from benchmarks import regimes
from birnn_bench import instructions
from birnn_bench.strategies import BASELINE


def _asv_counts(results: Path, regime_id: str) -> dict[str, float]:
    """{step: instructions per call} of the baseline in an asv results tree of the smoke grid;
    the other strategies are n/a there (NaN)."""
    data = json.loads(next(p for p in (results / "smoke-box").glob("*.json")
                           if p.name != "machine.json").read_text())
    found = {}
    for step, name in (("forward", "track_instructions"), ("extract",
                                                          "track_instructions_extract")):
        row = dict(zip(data["result_columns"],
                       data["results"][f"instructions.Instructions.{name}"], strict=False))
        values = dict(zip(itertools.product(*row["params"]), row["result"], strict=True))
        found[step] = values[(repr(regime_id), repr(BASELINE))]
        assert sum(v is not None and v == v for v in values.values()) == 1  # NaN: n/a
    return found


def test_the_smoke_run_counts_the_baseline_under_valgrind(smoke_results: Path) -> None:
    assert instructions.unavailable() is None, (
        "valgrind is needed here: bash scripts/install_test_deps.sh installs it")
    (regime_id,) = regimes.instruction_regimes("smoke")
    counted = _asv_counts(smoke_results, regime_id)
    assert 0 < counted["extract"] < counted["forward"]  # the extract step is part of it


@pytest.mark.slow  # a second valgrind start-up: 70 s of CPU the 5-minute budget has not
def test_two_runs_count_the_same_instructions(smoke_results: Path,
                                              instruction_recount: Path) -> None:
    """Two asv runs of the instruction counts on this commit, in two processes (the smoke run,
    and a second one alongside it, conftest) agree within 0.5% on the smoke point; the asv
    class serves them."""
    assert instructions.unavailable() is None, (
        "valgrind is needed here: bash scripts/install_test_deps.sh installs it")
    (regime_id,) = regimes.instruction_regimes("smoke")
    first = _asv_counts(smoke_results, regime_id)
    again = _asv_counts(instruction_recount, regime_id)
    cache = {(regime_id, BASELINE): again}
    bench = suite.Instructions()
    bench.setup(cache, regime_id, BASELINE)
    assert bench.track_instructions(cache, regime_id, BASELINE) == again["forward"]
    assert bench.track_instructions_extract(cache, regime_id, BASELINE) == again["extract"]
    for step in instructions.STEPS:
        assert first[step] > 0
        assert abs(first[step] - again[step]) <= 0.005 * again[step], (step, first, again)
    # The extract step is a part of the forward.
    assert again["extract"] < again["forward"]
    with pytest.raises(NotImplementedError, match="not counted on this machine"):
        bench.setup(cache, regime_id, "manual_two_rnn")


def test_without_valgrind_every_point_is_na_with_the_reason(monkeypatch) -> None:
    monkeypatch.setattr(instructions.shutil, "which", lambda name: None)
    reason = suite.count_all("smoke")
    assert isinstance(reason, str) and "valgrind is not installed" in reason
    bench = suite.Instructions()
    with pytest.raises(NotImplementedError, match="valgrind is not installed"):
        bench.setup(reason, *[p[0] for p in suite.PARAMS])
    with pytest.raises(RuntimeError, match="valgrind is not installed"):
        instructions.count([instructions.Point({}, BASELINE)])


@pytest.mark.parametrize(("points", "calls", "message"), [
    ([instructions.Point({}, "no_such_strategy")], 3, "strategy: expected one of"),
    ([instructions.Point({"hidden_size": 0}, BASELINE)], 3, "hidden_size: expected"),
    ([instructions.Point({"cell": "transformer"}, BASELINE)], 3, "cell"),
    ([instructions.Point({}, BASELINE)], 0, "calls: expected an integer >= 1"),
])
def test_bad_points_fail_before_valgrind_starts(monkeypatch, points, calls, message) -> None:
    monkeypatch.setattr(instructions.shutil, "which", lambda name: "/usr/bin/valgrind")

    def no_valgrind(*args, **kwargs):
        raise AssertionError("valgrind started for bad input")

    monkeypatch.setattr(subprocess, "Popen", no_valgrind)
    with pytest.raises(ValueError, match=message):
        instructions.count(points, calls=calls)


def test_the_worker_starts_the_same_whoever_calls(monkeypatch, tmp_path: Path) -> None:
    """What the worker's memory looks like moves its count: bytecode compiled first (a worker
    that compiled the package itself counted 1.1% fewer extract instructions), cwd ``/``, the
    plan on stdin, the caller's environment, cwd and temp dir left out."""
    monkeypatch.setattr(instructions.shutil, "which", lambda name: "/usr/bin/valgrind")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setenv("SOME_CALLER_VARIABLE", "x")
    monkeypatch.chdir(tmp_path)
    events: list[tuple] = []
    monkeypatch.setattr(instructions.compileall, "compile_dir",
                        lambda path, **kwargs: events.append(("compiled", Path(path))))

    class WorkerStartedError(Exception):
        pass

    def started(command, **kwargs):
        events.append(("started", command, kwargs))
        raise WorkerStartedError

    monkeypatch.setattr(subprocess, "Popen", started)
    with pytest.raises(WorkerStartedError):
        instructions.count([instructions.Point({}, BASELINE)])
    assert events[0] == ("compiled", Path(instructions.__file__).resolve().parent)
    _, command, kwargs = events[1]
    assert command[-3:] == [sys.executable, "-m", "birnn_bench.instructions"]
    assert kwargs["cwd"] == "/" and kwargs["stdin"] == subprocess.PIPE
    assert set(kwargs["env"]) == {"PATH", "PYTHONHASHSEED", "OMP_WAIT_POLICY", "PYTHONPATH"}
    assert all(str(tmp_path) not in part for part in command[-3:])


def test_a_dump_is_read_from_its_totals_line(tmp_path: Path) -> None:
    dump = tmp_path / "cg.out.1"
    dump.write_text("version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nsummary: 1234\n"
                    "fn=(1) main\n3 1234\ntotals: 1234\n")
    assert instructions._instructions(dump) == 1234
    dump.write_text("version: 1\nevents: Ir\n")
    with pytest.raises(RuntimeError, match="no totals"):
        instructions._instructions(dump)


# ---------------------------------------------------------------------------------------------
# scripts/branch_check.py: the maintainer's verdict on a branch

def test_branch_check_reads_instructions_first_and_exits_by_the_rules() -> None:
    import pandas as pd

    from analysis.model import history
    from tests.conftest import REPO, load_script, repo_limits

    check = load_script(REPO / "scripts" / "branch_check.py", "branch_check")
    regime = "cpu-lstm-L2-B16-T32-H32-skewed-float32"
    rows = []
    for commit, day, extract, ratio in (("a" * 40, 1, 1.0e5, (1.0, 0.9, 1.1)),
                                        ("b" * 40, 2, 1.1e5, (1.02, 0.92, 1.12))):
        base = {"machine": "box", "hardware": "Test CPU", "env": "e", "device_name": "CPU",
                "regime": regime,
                "strategy": "padded_gather", "commit": commit, "compile": float("nan"),
                "date": pd.Timestamp(f"2026-11-0{day}", tz="UTC"), "dtype": "float32"}
        rows.append({**base, "benchmark": "instructions.Instructions.track_instructions_extract",
                     "metric": "track_instructions_extract", "kind": "track",
                     "unit": "instructions", "value": extract})
        for suffix, value in zip(("", "_low", "_high"), ratio, strict=True):
            rows.append({**base, "benchmark": f"ratios.PairedForward.track_time_ratio{suffix}",
                         "metric": f"track_time_ratio{suffix}", "kind": "ratio",
                         "unit": "x hn_index", "value": value})
    h = history.changes(history.series(pd.DataFrame(rows)), limits=repo_limits())
    judged = h[(h["commit"] == "b" * 40) & h["judged"]]
    text = check.report(judged)
    assert text[0] == "instructions (extract): 1 series, 1 worse, 0 better"
    assert "REGRESSION  padded_gather" in text[1] and "(+10.00%)" in text[1]
    assert text[2] == "paired ratio (forward): 1 series, 0 worse, 0 better"


def test_branch_check_refuses_a_bad_commit_before_running_anything() -> None:
    from tests.conftest import REPO

    done = subprocess.run([sys.executable, str(REPO / "scripts" / "branch_check.py"),
                           "no-such-branch-here"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 2
    assert "'no-such-branch-here' is not a commit here" in done.stderr
