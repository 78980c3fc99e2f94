"""Housekeeping: what a real install ships, the declared Python floor, figure labels.

* the wheel carries ``birnn_bench/auto_policy.json`` and ``strategy="auto"`` reads it there, and
  the analysis imports from it (with ``benchmarks.regimes``, its regime vocabulary) and renders
  from the templates it carries (a wheel built from a copy of the checkout, installed into a
  fresh venv, imported in isolation);
* ``analysis.render.report`` imports on a Python without ``datetime.UTC`` (3.10, which
  ``requires-python`` admits);
* the speed-up and memory figures name the baseline the data was computed against;
* no module of ``birnn_bench`` imports ``analysis``; the ``birnn-bench`` command
  (``analysis.command``) offers ``report`` beside the library's subcommands.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from birnn_bench import policy
from tests.conftest import REPO

# ---------------------------------------------------------------------------------------------
# 1. the shipped auto policy

#: What the wheel is built from (``[tool.setuptools.packages.find]`` and the readme).
WHEEL_SOURCES = ("pyproject.toml", "README.md", "birnn_bench", "analysis", "benchmarks")

INSTALLED_PROBE = """
import json, sys, warnings
warnings.simplefilter("error")  # a fallback that only warns must fail here
import torch
from importlib import resources
import birnn_bench
from birnn_bench import last_states, policy

entries = policy.read_policy()
torch.manual_seed(0)
rnn = torch.nn.LSTM(4, 3, num_layers=1, bidirectional=True, batch_first=True).eval()
x = torch.randn(2, 5, 4)
lengths = torch.tensor([5, 2])
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "no policy measured on this hardware": expected elsewhere
    with torch.no_grad():
        fwd, bwd = last_states(rnn, x, lengths, strategy="auto")
    chosen = policy.choose(rnn, x, lengths, 5)
    import analysis.load.results  # reads regime ids with benchmarks.regimes, shipped beside it
    import pandas as pd
    from analysis.render import templates  # the pages' templates, package data of the wheel
print(json.dumps({
    "analysis": analysis.load.results.__file__, "regime": analysis.load.results.Regime.__module__,
    "module": birnn_bench.__file__,
    "policy_file": str(resources.files("birnn_bench").joinpath("auto_policy.json")),
    "is_file": resources.files("birnn_bench").joinpath("auto_policy.json").is_file(),
    "rules": sum(len(e.rules) for e in entries), "allowed": sorted(entries[0].allowed),
    "chosen": chosen,
    "templates": templates.environment().loader.get_source(templates.environment(),
                                                             "report.html")[1],
    "table": templates.markdown_table(pd.DataFrame({"a": [1]})),
    "shape": list(fwd.shape),
}))
"""


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-2000:])
    return done


def test_the_wheel_ships_the_auto_policy_and_auto_reads_it(tmp_path: Path) -> None:
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    for name in WHEEL_SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=ignore)
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "--no-index", "-q", "-w", str(wheels), "."], cwd=src)
    (wheel,) = wheels.glob("birnn_bench-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert "birnn_bench/auto_policy.json" in archive.namelist()
        assert "analysis/render/templates/report.html" in archive.namelist()

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    python = venv / ("Scripts" if sys.platform == "win32" else "bin") / "python"
    # torch and pip come from THIS interpreter's site-packages, whether it is a venv or the
    # system's (--system-site-packages would expose the base interpreter's, which may lack
    # torch). A plain path in a .pth runs none of that folder's own .pth files, so an editable
    # install of the checkout there stays invisible; pip installs into the new venv.
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                cwd=tmp_path).stdout.strip()
    ours = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (Path(site) / "_parent_env.pth").write_text("".join(f"{path}\n" for path in ours))
    _run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
          "--ignore-installed", str(wheel)], cwd=tmp_path)
    # -I: no PYTHONPATH, no user site, not the script's or the current directory.
    done = _run([str(python), "-I", "-c", INSTALLED_PROBE], cwd=tmp_path)
    found = json.loads(done.stdout.strip().splitlines()[-1])

    assert Path(found["module"]).resolve().is_relative_to(venv.resolve()), found["module"]
    assert Path(found["policy_file"]).resolve().is_relative_to(venv.resolve())
    assert Path(found["analysis"]).resolve().is_relative_to(venv.resolve())
    assert found["regime"] == "benchmarks.regimes"
    assert Path(found["templates"]).resolve().is_relative_to(venv.resolve())
    assert found["table"] == "| a |\n|---|\n| 1 |"
    assert found["is_file"]
    shipped = json.loads((REPO / "birnn_bench" / "auto_policy.json").read_text())
    assert found["rules"] == sum(len(m["rules"]) for m in shipped["machines"]) > 0
    assert found["allowed"] == sorted(shipped["correct_everywhere"])
    assert found["chosen"] in shipped["correct_everywhere"] and found["shape"] == [2, 3]


def test_a_missing_shipped_policy_is_loud_not_a_silent_fallback(monkeypatch,
                                                                  tmp_path: Path) -> None:
    """A broken install (no auto_policy.json in the package) must not quietly act as if the
    findings had recommended hn_index everywhere."""
    monkeypatch.setattr(policy, "_shipped_policy", lambda: tmp_path / "not-shipped.json")
    policy.clear_caches()
    try:
        with pytest.raises(FileNotFoundError, match=r"auto_policy\.json"):
            policy.read_policy()
    finally:
        policy.clear_caches()


def test_a_missing_explicit_policy_still_means_hn_index_but_says_so(monkeypatch,
                                                                     tmp_path: Path) -> None:
    import torch

    shipped = tmp_path / "shipped.json"  # measured on other hardware only
    shipped.write_text(json.dumps({"version": policy.VERSION, "correct_everywhere": ["hn_index"],
                                   "machines": [{"machine": "x", "rules": [], "hardware": {
                                       "cpu": "Imaginary CPU 9000", "num_cpu": "64"}}]}))
    monkeypatch.setenv(policy.POLICY_ENV, str(tmp_path / "no-local.json"))
    monkeypatch.setattr(policy, "_shipped_policy", lambda: shipped)
    policy.clear_caches()
    rnn = torch.nn.GRU(2, 3, bidirectional=True)
    try:
        with pytest.warns(UserWarning, match="no auto policy there"):
            chosen = policy.choose(rnn, torch.zeros(4, 2, 2), torch.tensor([3, 4]), 4,
                                   tmp_path / "none.json")
        assert chosen == "hn_index"
    finally:
        policy.clear_caches()


# ---------------------------------------------------------------------------------------------
# 2. Python 3.10, which requires-python admits

NO_UTC_PROBE = """
import datetime
del datetime.UTC  # what Python 3.10's datetime looks like
import analysis.render.report as report
print("imported", report.__name__)
"""


def test_report_imports_without_datetime_utc() -> None:
    done = subprocess.run([sys.executable, "-c", NO_UTC_PROBE], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "imported analysis.render.report" in done.stdout


# ---------------------------------------------------------------------------------------------
# 3. the library never reaches up into the analysis

LIBRARY_PROBE = """
import importlib, json, pkgutil, sys
import birnn_bench
names = [m.name for m in pkgutil.walk_packages(birnn_bench.__path__, "birnn_bench.")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"imported": names, "analysis": sorted(
    m for m in sys.modules if m == "analysis" or m.startswith("analysis."))}))
"""


def test_no_module_of_the_library_imports_the_analysis() -> None:
    done = _run([sys.executable, "-c", LIBRARY_PROBE], cwd=REPO)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert "birnn_bench.cli" in found["imported"] and len(found["imported"]) > 20
    assert found["analysis"] == []


def test_the_birnn_bench_command_offers_report_beside_the_librarys_commands(tmp_path: Path,
                                                                            capsys) -> None:
    from analysis import command

    assert 'birnn-bench = "analysis.command:main"' in (REPO / "pyproject.toml").read_text()
    with pytest.raises(SystemExit) as shown:
        command.main(["--help"])
    assert shown.value.code == 0
    listed = capsys.readouterr().out
    for name in ("check", "recommend", "tune", "deploy", "report"):
        assert f"    {name} " in listed, name
    # report goes to the analysis CLI, which owns its options and its errors
    missing = tmp_path / "missing"
    assert command.main(["report", "--results", str(missing), "--out", str(tmp_path / "r"),
                         "--quiet"]) == 2
    assert f"analysis report: error: --results {missing}" in capsys.readouterr().err


REGISTER_AT_RUN_TIME = """
import dataclasses, json
from birnn_bench import strategies
new = dataclasses.replace(strategies.STRATEGIES["hn_index"], name="hn_index_again")
strategies.STRATEGIES[new.name] = new  # the one edit a strategy needs: its registry entry
from birnn_bench import check
rows = check.run_check(check.check_specs(cells=("gru",), layers=(2,)))
from benchmarks import ratios, strategies as suite
from analysis.model import paired
from analysis.render import figures
colours = figures.colours()
print(json.dumps({
    "checked": sorted({row.strategy for row in rows}),
    "safe": check.correct_everywhere(rows),
    "correctness_params": suite.Correctness.params[-1],
    "paired_params": ratios.PairedForward.params[-1],
    "order": paired.strategy_order(["hn_index_again", "zzz_unknown", "hn_index"]),
    "own_colour": colours["hn_index_again"] not in
        [c for name, c in colours.items() if name != "hn_index_again"],
}))
"""


def test_a_strategy_registered_at_run_time_reaches_the_check_the_suite_and_the_tables() -> None:
    done = subprocess.run([sys.executable, "-c", REGISTER_AT_RUN_TIME], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.splitlines()[-1])
    assert "hn_index_again" in seen["checked"] and "hn_index_again" in seen["safe"]
    assert "hn_index_again" in seen["correctness_params"]
    assert "hn_index_again" in seen["paired_params"]
    assert seen["order"] == ["hn_index", "hn_index_again", "zzz_unknown"]
    assert seen["own_colour"] is True
