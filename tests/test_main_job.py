"""The main job on the smoke grid: interrupted (SIGINT, then SIGTERM) after a benchmark group, it
keeps what finished, leaves no process behind, and a rerun completes the rest; the terminal shows
its own progress lines only (asv's output goes to the log it names); a machine name that holds
other hardware's results is refused before any work. Three groups stand for all eleven (the
loop is the same; the session's smoke run measures every group for real)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, asv_config, background_fixture, load_script

SCRIPT = REPO / "scripts" / "main_job.py"
GROUPS = ["--groups", "paired-forward,paired-train,environment"]
#: Every line the job prints: its own progress.
PROGRESS = re.compile(r"^\[main job \d\d:\d\d:\d\d\] ")


def _environment(tmp_path: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    config = asv_config(tmp_path)
    return {**(os.environ if base is None else base), "HOME": str(tmp_path), "MACHINE": "kill-box",
            "ASV_CONFIG": str(config),
            "BIRNN_BENCH_GRID": "smoke", "REPORT_DIR": str(tmp_path / "report"),
            "BIRNN_BENCH_PAIRED_BUDGET": "1"}


def _stop_after(groups: int, env: dict[str, str], sig: int, log: Path) -> int:
    """Runs the main job and sends ``sig`` once ``groups`` groups have been saved."""
    with log.open("w") as out:
        job = subprocess.Popen([sys.executable, str(SCRIPT), *GROUPS], cwd=REPO, env=env,
                               stdout=out,
                               stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and job.poll() is None:
            if log.read_text().count(": saved in ") >= groups:
                job.send_signal(sig)
                break
            time.sleep(0.2)
        return job.wait(120)


def _results(tmp_path: Path) -> dict:
    files = [p for p in (tmp_path / "results" / "kill-box").glob("*.json")
             if p.name != "machine.json"]
    assert len(files) == 1
    return json.loads(files[0].read_text())["results"]


def _survivors(tmp_path: Path) -> list[str]:
    """Processes the job started that are still alive: their command line names this test's
    folder or machine, or they run with its HOME (asv's forkserver names only the suite and a
    socket; the session's own smoke run may be running beside this test, under another HOME)."""
    found = []
    home = f"HOME={tmp_path}".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                environ = (entry / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if str(tmp_path) in command or "kill-box" in command or home in environ:
                found.append(command)
    return found


def interrupted_job(tmp_path: Path, environ: dict[str, str]) -> dict:
    """SIGINT after the first group, a report of what was kept, SIGTERM on the rerun after the
    second group, then a rerun to the end: what the test checks, recorded as it happens (it runs
    in the background from collection on: ``interrupted``)."""
    env = _environment(tmp_path, environ)
    seen: dict = {"folder": tmp_path,
                  "first": _stop_after(1, env, signal.SIGINT, tmp_path / "first.log"),
                  "kept": _results(tmp_path)}
    time.sleep(1)
    seen["survivors_first"] = _survivors(tmp_path)
    # The report builds from the one group that finished.
    seen["report"] = subprocess.run(
        [sys.executable, "-m", "analysis", "report", "--results", str(tmp_path / "results"),
         "--out", str(tmp_path / "partial")], cwd=REPO, env=environ, capture_output=True,
        text=True)
    seen["second"] = _stop_after(2, env, signal.SIGTERM, tmp_path / "second.log")
    seen["after_second"] = _results(tmp_path)
    time.sleep(1)
    seen["survivors_second"] = _survivors(tmp_path)
    seen["third"] = subprocess.run([sys.executable, str(SCRIPT), *GROUPS], cwd=REPO, env=env,
                                   capture_output=True, text=True, timeout=900)
    seen["after_third"] = _results(tmp_path)
    return seen


interrupted = background_fixture("interrupted", interrupted_job)


def test_interrupted_main_job_keeps_finished_groups_and_resumes(interrupted: dict) -> None:
    seen, tmp_path = interrupted, interrupted["folder"]
    assert seen["first"] == 128 + signal.SIGINT, (tmp_path / "first.log").read_text()[-2000:]
    assert "kept: the groups that finished" in (tmp_path / "first.log").read_text()
    kept = seen["kept"]
    assert {name.split(".")[1] for name in kept} == {"PairedForward", "ResolutionForward"}
    assert seen["survivors_first"] == []

    # The report builds from the one group that finished.
    assert seen["report"].returncode == 0, seen["report"].stderr[-2000:]
    assert (tmp_path / "partial" / "index.html").is_file()

    # SIGTERM on the rerun, once the finished group was skipped and the next one saved.
    assert seen["second"] == 128 + signal.SIGTERM
    assert {name.split(".")[1] for name in seen["after_second"]} == {
        "PairedForward", "ResolutionForward", "PairedTrainStep", "ResolutionTrainStep"}
    assert seen["after_second"]["ratios.PairedForward.track_time_ratio"] == \
        kept["ratios.PairedForward.track_time_ratio"]
    assert seen["survivors_second"] == []

    third = seen["third"]
    assert third.returncode == 0, third.stderr[-3000:]
    groups = {name.split(".")[1] for name in seen["after_third"]}
    assert groups == {"PairedForward", "ResolutionForward", "PairedTrainStep",
                      "ResolutionTrainStep", "Environment"}
    assert (tmp_path / "report" / "index.html").is_file()
    assert "[paired forward" not in third.stderr  # nothing measured twice

    # The terminal: the job's own lines, each on a line of its own, few; asv's go to the log.
    log = tmp_path / "report" / "main_job.log"
    for printed in ((tmp_path / "first.log").read_text(), (tmp_path / "second.log").read_text(),
                    third.stdout + third.stderr):
        lines = [line for line in printed.splitlines() if line.strip()]
        assert lines and all(PROGRESS.match(line) for line in lines), printed[-3000:]
        assert len(lines) <= 150
        assert f"goes to {log}" in lines[0]
    assert "Running 1 total benchmarks" in log.read_text()


def test_a_name_that_holds_other_hardware_is_refused_before_any_work(tmp_path: Path) -> None:
    env = {**_environment(tmp_path), "MACHINE": "forged"}
    forged = tmp_path / "results" / "forged"
    forged.mkdir(parents=True)
    (forged / "machine.json").write_text(json.dumps({
        "machine": "forged", "cpu": "Imaginary CPU 9000", "num_cpu": "2", "version": 1}))
    done = subprocess.run([sys.executable, str(SCRIPT)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "error: MACHINE=forged:" in done.stderr
    assert "CPU model: Imaginary CPU 9000 recorded" in done.stderr
    assert "Use MACHINE=" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "report" / "check.json").exists()  # nothing ran
    assert sorted(p.name for p in forged.iterdir()) == ["machine.json"]


def test_points_not_measured_are_summed_by_reason() -> None:
    job = load_script(SCRIPT, "main_job_under_test")
    text = ("asv: skipped: NotImplementedError('cpu-gru-L1-B1-T32-H128-equal-float32 / hn_index:"
            " not measured on this machine') \n"
            "asv: skipped: NotImplementedError('cpu-lstm-L1-B1-T32-H128-equal-float32 / x: not "
            "measured on this machine') \n"
            'asv: skipped: NotImplementedError("cpu-lstm-L2-B16-T512-H128-skewed-float32: the '
            "training step is not measured in this regime on this grid\") \n"
            "[100.00%] ··· strategies.Forward.time_forward  ok\n")
    assert job.not_measured(text) == {
        "not measured on this machine": 2,
        "the training step is not measured in this regime on this grid": 1}


def test_a_step_forked_but_not_yet_recorded_is_stopped_too(tmp_path: Path) -> None:
    """A signal landing inside Popen (child forked, ``run`` not yet told) left that step running
    (seen once: an ``asv run`` of the next group survived SIGTERM). In its own process, so that
    the stop cannot touch pytest's children."""
    code = ("import importlib.util, signal, subprocess, sys\n"
            "spec = importlib.util.spec_from_file_location('main_job', sys.argv[1])\n"
            "job = importlib.util.module_from_spec(spec)\n"
            "spec.loader.exec_module(job)\n"
            "step = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'],\n"
            "                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,\n"
            "                        start_new_session=True)\n"
            "print(step.pid, flush=True)\n"
            "job._stop(signal.SIGTERM, None)  # job._running is None: not recorded\n")
    done = subprocess.run([sys.executable, "-c", code, str(SCRIPT)], capture_output=True,
                          text=True, timeout=60)
    step = int(done.stdout.split()[0])
    try:
        assert done.returncode == 128 + signal.SIGTERM, done.stderr[-2000:]
        time.sleep(0.5)
        stat = Path(f"/proc/{step}/stat")
        assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(step, signal.SIGKILL)


def test_an_interrupted_paired_group_keeps_the_regimes_it_measured(monkeypatch, tmp_path) -> None:
    """The paired benchmarks keep each regime as it finishes (the main job names the file per
    commit and machine): interrupted in the second regime, the first is kept and the rerun
    measures only the rest. A fake measurement: nothing is timed."""
    from benchmarks import ratios, regimes

    todo = regimes.regimes("quick", ("cpu",))[:3]
    keep = tmp_path / "keep.json"
    monkeypatch.setenv(ratios.KEEP_ENV, str(keep))
    monkeypatch.setattr(ratios, "runnable_regimes", lambda train=False: todo)
    monkeypatch.setattr(ratios, "pin", lambda: 1)
    measured: list[str] = []
    interrupt = {"after": 1}  # measurements before the interrupt; None: never

    class SimulatedInterruptError(Exception):  # SIGINT (pytest keeps KeyboardInterrupt)
        pass

    def fake(regime, mode, budget):
        if interrupt["after"] is not None and len(measured) == interrupt["after"]:
            raise SimulatedInterruptError
        measured.append(regime.id)
        return {"ratios": {"hn_index": [1.0, 0.99, 1.01]}, "slowed": [1.05, 1.04, 1.06],
                "rounds": 16, "seconds": 1.0}

    monkeypatch.setattr(ratios, "_measure", fake)
    with pytest.raises(SimulatedInterruptError):
        ratios.paired_ratios("forward")
    assert list(json.loads(keep.read_text())["forward"]) == [todo[0].id]
    measured.clear()
    interrupt["after"] = None
    found = ratios.paired_ratios("forward")
    assert measured == [todo[1].id, todo[2].id]  # the kept regime is not measured again
    assert {key[1] for key in found if key[0] == "resolution"} == {r.id for r in todo}
    # Another budget is another measurement: nothing kept is used.
    monkeypatch.setenv(ratios.BUDGET_ENV, "5")
    measured.clear()
    ratios.paired_ratios("forward")
    assert measured == [r.id for r in todo]
