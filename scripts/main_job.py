"""The main job: correctness matrix, a quick asv run of this commit, the analysis report.

``birnn-bench check`` -> ``$REPORT_DIR/check.json``; ``asv run --python=same`` of this commit,
one invocation per benchmark group (paired ratios first: they decide), each saved when it ends,
so an interrupted job keeps every finished group and a rerun measures only what is missing;
``birnn-bench report`` -> ``$REPORT_DIR/``. SIGINT/SIGTERM stop every process the step started.
The terminal shows this job's own progress lines only; what asv and the other steps print goes
to ``$REPORT_DIR/main_job.log``, named at the start.

Environment: MACHINE (asv machine name, default: derived from the hardware, see
``birnn_bench.hardware``; a name whose results were measured on other hardware is refused),
BIRNN_BENCH_GRID (quick | full | smoke), REPORT_DIR (default report/), FRESH=1 (measure again
what this commit already has), ASV_CONFIG (another asv config, e.g. one whose results_dir is
elsewhere), ASV_ARGS (extra ``asv run`` arguments).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: (key, what, asv benchmark class): the order a person waiting for an answer wants.
GROUPS = (
    ("paired-forward", "paired ratios, inference", "ratios.(Paired|Resolution)Forward"),
    ("paired-train", "paired ratios, training step", "ratios.(Paired|Resolution)TrainStep"),
    ("errors", "correctness against the oracle", "strategies.Error"),
    ("safety", "the correctness matrix per strategy (which are safe)", "strategies.Correctness"),
    ("memory", "peak memory", "strategies.PeakMemory"),
    ("ops", "op counts", "profiles.Profiles"),
    ("cuda", "CUDA kernels and host syncs", "profiles.CudaCounts"),
    ("time-forward", "absolute times: inference", "strategies.Forward"),
    ("time-train", "absolute times: training step", "strategies.TrainStep"),
    ("time-extract", "absolute times: extract step", "strategies.Extract"),
    ("compiled", "torch.compile against eager", "compiled.Compiled(Figures)?"),
    ("environment", "environment", "strategies.Environment"),
)
#: Deterministic but slow (one valgrind process, minutes): its own command, not the quick job.
INSTRUCTIONS = ("instructions", "instructions per call under callgrind",
                "instructions.Instructions")
#: What asv prints for a point whose setup raised NotImplementedError (asv_runner 0.3).
SKIPPED = re.compile(r"""asv: skipped: NotImplementedError\((['"])(.*)\1\)""")

_running: subprocess.Popen | None = None
#: Where the paired benchmarks keep each regime as it finishes (``benchmarks/ratios.py``).
_keep: Path | None = None


def _session(sid: int) -> list[int]:
    """Every process of session ``sid``: the step, asv, and asv's forkserver, which puts itself
    in a process group of its own (so killing the step's group alone would leave it behind)."""
    found = []
    for pid in (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()):
        with contextlib.suppress(OSError):  # the process has ended meanwhile
            if os.getsid(pid) == sid:
                found.append(pid)
    return found


def _children() -> list[int]:
    """This job's direct children: the step, even one forked that ``run`` has not recorded yet."""
    me, found = os.getpid(), []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):  # ended meanwhile
            if entry.name.isdigit() and int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == me:
                found.append(int(entry.name))
    return found


def _stop(signum: int, frame: object) -> None:
    """Ends the running step's whole session, then exits with the signal's conventional code.
    A signal can land inside Popen, after the fork but before ``run`` records the child: the
    job's children are therefore looked up, not only ``_running``."""
    # A step runs in a session of its own, whose id is the step's pid; a child forked but not
    # yet in it is killed by pid.
    children = _children()
    sessions = set(children) | ({_running.pid} if _running is not None else set())

    def alive() -> list[int]:
        return sorted({pid for sid in sessions for pid in _session(sid)}
                      | {pid for pid in children if Path(f"/proc/{pid}").exists()})

    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        for pid in alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while alive() and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):  # reap our own, or they stay zombies
                while os.waitpid(-1, os.WNOHANG)[0]:
                    pass
            time.sleep(0.2)
        if not alive():
            break
    kept = ""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        data = json.loads(_keep.read_text(encoding="utf-8")) if _keep else {}
        kept = "".join(f", {len(data[mode])} regime(s) of the paired {mode} group"
                       for mode in ("forward", "train_step") if data.get(mode))
    say(f"stopped by signal {signum}; kept: the groups that finished (in results/){kept}; run "
        "it again to measure the rest")
    sys.exit(128 + signum)


def say(message: str) -> None:
    print(f"[main job {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(command: list[str], env: dict[str, str], log: Path) -> int:
    """One step in its own session (so that a signal can end all of it), its output appended
    to ``log``."""
    global _running
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ {shlex.join(command)}\n")
        out.flush()
        _running = subprocess.Popen(command, cwd=REPO, env=env, start_new_session=True,
                                    stdout=out, stderr=subprocess.STDOUT)
        code = _running.wait()
    _running = None
    return code


def _tail(path: Path, done: threading.Event) -> None:
    """Echoes lines appended to ``path`` (the paired benchmarks' progress, which asv would show
    only when their setup ends), once a second, until ``done``."""
    position = 0
    while True:
        finished = done.wait(1.0)
        if path.exists():
            with path.open(encoding="utf-8") as handle:
                handle.seek(position)
                for line in handle.read().splitlines():
                    say(f"    {line}")
                position = handle.tell()
        if finished:
            return


def not_measured(text: str) -> Counter:
    """Why points were skipped (asv's ``skipped: NotImplementedError(...)`` lines in ``text``),
    with the regime and strategy that open each reason left out: reason -> points."""
    reasons: Counter = Counter()
    for match in SKIPPED.finditer(text):
        reason = match.group(2).rsplit(": ", 1)[-1]
        reasons[reason] += 1
    return reasons


def results_dir() -> Path:
    """asv's results folder (of ASV_CONFIG, else asv.conf.json)."""
    from asv import util

    config = Path(os.environ.get("ASV_CONFIG") or REPO / "asv.conf.json")
    conf = util.load_json(str(config), js_comments=True)
    return (config.parent / conf.get("results_dir", "results")).resolve()


def written_problems(report: Path, written: set[str]) -> tuple[list[str], int]:
    """The report's problems about results files this run wrote, and how many others it has."""
    try:
        with (report / "problems.csv").open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError:
        return [], 0
    ours = [f"{row['severity']}: {row['file']}: {row['problem']}" for row in rows
            if any(row.get("file", "").endswith(name) for name in written)]
    return ours, len(rows) - len(ours)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Settings come from the environment (see the module's docstring: MACHINE, "
        "BIRNN_BENCH_GRID, REPORT_DIR, FRESH, ASV_CONFIG, ASV_ARGS).")
    parser.add_argument("--instructions", action="store_true",
                        help="run only the instruction counts (callgrind; about 10 minutes on "
                        "2 cores) instead of the quick groups, then the report")
    keys = [key for key, _, _ in GROUPS]
    parser.add_argument("--groups", metavar="KEY[,KEY...]",
                        help=f"run only these benchmark groups, in the usual order: "
                        f"{', '.join(keys)} (default: all)")
    args = parser.parse_args()
    chosen = keys if args.groups is None else [k.strip() for k in args.groups.split(",")]
    unknown = sorted(set(chosen) - set(keys)) or ([] if chosen else ["(none)"])
    if unknown:
        parser.error(f"--groups: {', '.join(unknown)}: expected keys among {', '.join(keys)}")
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    report = Path(os.environ.get("REPORT_DIR", "report"))
    report = report if report.is_absolute() else REPO / report
    report.mkdir(parents=True, exist_ok=True)
    log = report / "main_job.log"
    log.write_text("", encoding="utf-8")
    env = {**os.environ, "BIRNN_BENCH_GRID": os.environ.get("BIRNN_BENCH_GRID", "quick"),
           "ASV_PYTHONPATH": str(REPO)}
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, check=True,
                            capture_output=True, text=True).stdout.strip()
    started = time.perf_counter()
    since = time.time()
    python = sys.executable
    say(f"what asv and every step print goes to {log}")
    if args.instructions and run(["sh", str(REPO / "scripts" / "apt_install.sh"), "valgrind"],
                                 env, log):
        say("valgrind could not be installed: the instruction counts will show as n/a")
    results = results_dir()
    named = subprocess.run([python, str(REPO / "scripts" / "asv_machine.py"),
                            *([os.environ["MACHINE"]] if os.environ.get("MACHINE") else []),
                            "--results", str(results)], cwd=REPO, env=env,
                           capture_output=True, text=True)
    with log.open("a", encoding="utf-8") as out:
        out.write(named.stderr)
    if named.returncode:
        for line in named.stderr.splitlines():
            if line.startswith("error:"):
                say(line)
        say(f"stopped before any work (see {log})")
        return 2
    machine = named.stdout.strip().splitlines()[-1]
    global _keep
    where = hashlib.sha1(str(results).encode()).hexdigest()[:8]
    _keep = Path(tempfile.gettempdir()) / (
        f"birnn-bench-keep-{where}-{machine}-{commit[:12]}-{env['BIRNN_BENCH_GRID']}.json")
    if os.environ.get("FRESH") == "1":
        _keep.unlink(missing_ok=True)
    env["BIRNN_BENCH_PAIRED_KEEP"] = str(_keep)
    say(f"machine {machine}: {named.stderr.strip().splitlines()[-1]}")
    say("1/3 correctness matrix: birnn-bench check")
    if run([python, "-m", "birnn_bench.cli", "check", "--quiet", "--json",
            str(report / "check.json")], env, log):
        say(f"the check failed (see {log})")
        return 1
    say(f"2/3 asv, {env['BIRNN_BENCH_GRID']} grid, commit {commit[:8]}: one asv run per "
        "benchmark group, each saved when it ends")
    progress = Path(tempfile.mkdtemp(prefix="birnn-progress-")) / "paired.log"
    env["BIRNN_BENCH_PROGRESS"] = str(progress)
    done = threading.Event()
    tail = threading.Thread(target=_tail, args=(progress, done), daemon=True)
    tail.start()
    config = ["--config", os.environ["ASV_CONFIG"]] if os.environ.get("ASV_CONFIG") else []
    extra = [*([] if os.environ.get("FRESH") == "1" else ["--skip-existing"]), *config,
             *shlex.split(os.environ.get("ASV_ARGS", ""))]
    # A CUDA build of torch has the CUDA-only group; asked in a subprocess to keep this one light.
    cuda = subprocess.run([python, "-c", "import torch; print(bool(torch.version.cuda))"],
                          capture_output=True, text=True).stdout.strip() == "True"
    groups = [INSTRUCTIONS] if args.instructions else \
        [g for g in GROUPS if g[0] in chosen and (cuda or g[0] != "cuda")]
    failed, skipped = [], Counter()
    try:  # an interrupt (sys.exit from _stop) or an error still removes the progress folder
        for index, (_, what, name) in enumerate(groups, start=1):
            group_start, offset = time.perf_counter(), log.stat().st_size
            say(f"  [{index}/{len(groups)}] {what} ({name})")
            code = run([python, "-m", "asv", "run", "--python=same", f"--set-commit-hash={commit}",
                        "--machine", machine, "--record-samples", "--show-stderr",
                        "--bench", f"^{name}\\.", *extra], env, log)
            with log.open(encoding="utf-8", errors="replace") as handle:
                handle.seek(offset)
                reasons = not_measured(handle.read())
            skipped += reasons
            if code:
                failed.append(name)
            elif name.startswith("ratios."):  # saved by asv: what was kept for it is done with
                _keep.unlink(missing_ok=True)
            na = f", {sum(reasons.values())} points n/a" if reasons else ""
            spent, so_far = time.perf_counter() - group_start, time.perf_counter() - started
            say(f"  [{index}/{len(groups)}] {what}: {'FAILED' if code else 'saved'} in "
                f"{spent:.0f} s{na} ({so_far:.0f} s so far)")
    finally:
        done.set()
        tail.join()
        shutil.rmtree(progress.parent, ignore_errors=True)  # read to its end
    if skipped:
        say(f"{sum(skipped.values())} points not measured on this machine, as expected: "
            + "; ".join(f"{reason} ({n})" for reason, n in skipped.most_common())
            + f" (see {log})")
    say(f"3/3 analysis report -> {report}/")
    deploy = sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("deploy-*.json"))
    # The folder is this job's own (its log and check.json are in it already): --force.
    code = run([python, "-m", "analysis", "report", "--out", str(report), "--force",
                "--check", str(report / "check.json"), *config,
                *(["--deploy", *deploy] if deploy else [])], env, log)
    written = {p.name for p in (results / machine).glob("*.json")
               if p.name != "machine.json" and p.stat().st_mtime >= since}
    ours, others = written_problems(report, written)
    for line in ours:
        say(f"report: {line}")
    if others:
        say(f"{others} note(s) on other results files: see {report / 'index.html'}, Problems")
    if code:
        say(f"the report failed (see {log})")
    say(f"done in {time.perf_counter() - started:.0f} s; open {report / 'index.html'}"
        + (f"; asv groups that failed: {', '.join(failed)} (see {log})" if failed else ""))
    return 1 if code or failed else 0


if __name__ == "__main__":
    sys.exit(main())
