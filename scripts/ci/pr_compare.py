#!/usr/bin/env python3
"""Did this pull request make a strategy do more work? Instruction counts of BASE and HEAD.

    python3 scripts/ci/pr_compare.py BASE HEAD [--grid quick|smoke] [--summary FILE]

What the pull-request workflow runs, and what a contributor runs to see the same summary.
Both commits' instructions per call under callgrind (``instructions.Instructions``), each commit
extracted in turn into the SAME folder (``WORKDIR/src``: a count moves a little with the install
location) and measured by ``asv run --python=same`` with this tree's suite; then, at HEAD only,
the paired inference ratios, the error benchmark and ``birnn-bench check``: the recommendation
per regime. Paired ratios are not compared across the two commits: measured in two processes
they move with the machine (README, "Instructions per call").

Every series present at both commits is judged by ``asv.conf.json``'s thresholds
(``analysis.model.commits``); the Markdown summary (``--summary``) lists each one that changed
beyond its threshold (base, head, change), then the head's Compare grid and recommendations.

Exit status: 0 no deterministic change beyond its threshold (or ``--accepted true``: the pull
request carries the label that accepts it), 1 a change, 2 the comparison could not run (an
``pr_compare: error: ...`` line). Environment: MACHINE (asv machine name, default: hostname),
FRESH=1 (count again what WORKDIR already holds).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # this tree's analysis and suite, whatever is installed
    sys.path.insert(0, str(REPO))

LABEL = "performance-change-accepted"
INSTRUCTIONS = r"^instructions\.Instructions\."
AT_HEAD = r"^(ratios\.PairedForward|strategies\.Error)\."
#: Every strategy's instructions, also on the smoke grid (benchmarks/instructions.py).
COUNT_ALL = {"BIRNN_BENCH_INSTRUCTIONS": "all"}


class CannotRunError(RuntimeError):
    """Why the comparison cannot run (exit 2)."""


def say(message: str) -> None:
    print(f"[pr_compare {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
    if done.returncode:
        raise CannotRunError(f"git {' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done.stdout.strip()


def _commit(name: str, what: str) -> str:
    try:
        return _git("rev-parse", "--verify", "--quiet", f"{name}^{{commit}}")
    except CannotRunError:
        raise CannotRunError(f"{what} {name!r}: not a commit of {REPO}") from None


def _extract(commit: str, src: Path) -> None:
    """``commit``'s tree into ``src`` (emptied first): the one install location of the count."""
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "--format=tar", commit], cwd=REPO,
                             capture_output=True, check=False)
    if archive.returncode:
        raise CannotRunError(f"git archive {commit[:8]}: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive.stdout, check=True)


def _asv_config(workdir: Path, results: Path) -> Path:
    """This tree's asv.conf.json with ``results`` and the html and environments under
    ``workdir``."""
    import json

    from asv import util

    conf = util.load_json(str(REPO / "asv.conf.json"), js_comments=True)
    conf.update(repo=str(REPO), benchmark_dir=str(REPO / "benchmarks"),
                results_dir=str(results), html_dir=str(workdir / "html"),
                env_dir=str(workdir / "env"))
    path = workdir / "asv.conf.json"
    path.write_text(json.dumps(conf, indent=2), encoding="utf-8")
    return path


def _measured(results: Path, machine: str, commit: str, bench: str) -> bool:
    """Whether ``results`` holds ``commit``'s results of the benchmarks ``bench`` matches (one
    asv run saves all of them or none). Not asv's ``--skip-existing``: with
    ``--set-commit-hash`` asv 0.6.6 looks for the results of the branch's tip instead."""
    import json

    found = re.compile(bench)
    for path in (results / machine).glob(f"{commit[:8]}-*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("commit_hash") == commit and any(found.search(n) for n in data["results"]):
            return True
    return False


def _asv_run(config: Path, results: Path, machine: str, commit: str, bench: str,
             env: dict[str, str]) -> None:
    if os.environ.get("FRESH") != "1" and _measured(results, machine, commit, bench):
        say(f"{commit[:8]}: {bench} already measured in {results}")
        return
    command = [sys.executable, "-m", "asv", "run", "--python=same",
               f"--set-commit-hash={commit}", "--config", str(config), "--machine", machine,
               "--show-stderr", "--bench", bench]
    code = subprocess.run(command, cwd=config.parent, env=env).returncode
    if code:
        raise CannotRunError(f"asv run of {commit[:8]} ({bench}) failed with exit status {code}")


def measure(base: str, head: str, grid: str, workdir: Path, machine: str,
            ratios: bool) -> tuple[Path, Path | None]:
    """Counts both commits (and measures HEAD's ratios, errors and check); returns the results
    folder and the check file (None without ``ratios``)."""
    from birnn_bench import instructions

    reason = instructions.unavailable()
    if reason:
        raise CannotRunError(f"cannot count instructions here: {reason}")
    workdir.mkdir(parents=True, exist_ok=True)
    results = workdir / f"results-{grid}"
    config = _asv_config(workdir, results)
    src = workdir / "src"
    env = {**os.environ, "BIRNN_BENCH_GRID": grid, "ASV_PYTHONPATH": str(src), **COUNT_ALL}
    if subprocess.run([sys.executable, str(REPO / "scripts" / "asv_machine.py"), machine],
                      env=env).returncode:
        raise CannotRunError(f"asv machine {machine!r} could not be recorded")
    check = None
    for commit in (base, head):
        started = time.perf_counter()
        at_head = ratios and commit == head
        say(f"{commit[:8]}: instruction counts{' + paired ratios, errors, check' * at_head}, "
            f"{grid} grid, machine {machine}")
        _extract(commit, src)
        _asv_run(config, results, machine, commit, AT_HEAD if at_head else INSTRUCTIONS, env)
        if at_head:
            _asv_run(config, results, machine, commit, INSTRUCTIONS, env)
            check = workdir / f"check-{commit[:12]}.json"
            code = subprocess.run([sys.executable, "-m", "birnn_bench.cli", "check", "--quiet",
                                   "--json", str(check)], cwd=workdir,
                                  env={**env, "PYTHONPATH": str(src)}).returncode
            if code:
                raise CannotRunError(f"birnn-bench check of {commit[:8]} failed ({code})")
        say(f"{commit[:8]}: done in {time.perf_counter() - started:.0f} s")
    return results, check


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.4g}"


def judged_changes(results: Path, machine: str, base: str, head: str):
    """(every series at both commits judged by asv.conf.json's thresholds, the loaded frame of
    this machine, the limits)."""
    from asv import util

    from analysis.load.results import load_results
    from analysis.model import commits, history

    limits = commits.Limits.from_conf(util.load_json(str(REPO / "asv.conf.json"),
                                                     js_comments=True))
    df = load_results(results).data
    df = df[df["machine"].astype(str) == machine]
    rows = commits.compare(history.series(df), base, head, limits)
    return rows[rows["judged"]].reset_index(drop=True), df, limits


def _labels(df) -> dict[str, str]:
    from analysis.model.paired import REGIME_COLUMNS, regime_label

    rows = df.dropna(subset=["regime", *REGIME_COLUMNS]).drop_duplicates("regime")
    return {str(r["regime"]): regime_label(r) for r in rows.to_dict("records")}


def changes_markdown(rows, df, limits, base: str, head: str, grid: str) -> tuple[list[str], int]:
    """The summary's first part and how many series changed beyond their threshold."""
    import pandas as pd

    from analysis.model import commits
    from analysis.render.templates import markdown_table

    labels = _labels(df)
    moved = rows[rows["change"] != ""]
    names = sorted({str(b) for b in rows["benchmark"]})
    rules = ", ".join(f"`{n.rsplit('.', 1)[-1]}` {limits.describe(commits.asv_name(n, '', ''))}"
                      for n in names)
    out = [f"## Benchmarks: `{head[:8]}` against `{base[:8]}`", "",
           f"Instructions per call under callgrind ({grid} grid: {rows['regime'].nunique()} "
           f"regime(s), {rows['strategy'].nunique()} strategies, {len(rows)} series), both "
           "commits counted on this runner from one install location. A change counts beyond "
           f"the threshold `asv.conf.json` sets: {rules}.", ""]
    if moved.empty:
        out.append(f"**No series changed beyond its threshold** (largest change "
                   f"{rows['relative'].abs().max():.2%}).")
        return out, 0
    worse = int((moved["change"] == "regression").sum())
    out += [f"**{len(moved)} series changed beyond the threshold**: {worse} worse, "
            f"{len(moved) - worse} better.", ""]
    table = pd.DataFrame({
        "quantity": moved["quantity"], "strategy": "`" + moved["strategy"].astype(str) + "`",
        "regime": [labels.get(str(r), str(r)) for r in moved["regime"]],
        "base": [_number(v) for v in moved["previous_value"]],
        "head": [_number(v) for v in moved["value"]],
        "change": [f"{r:+.2%} ({'worse' if c == 'regression' else 'better'})"
                   for r, c in zip(moved["relative"], moved["change"], strict=True)]})
    out.append(markdown_table(table.sort_values(["strategy", "quantity", "regime"])))
    rest = rows[rows["change"] == ""]
    if not rest.empty:
        out += ["", f"Every other series ({len(rest)}) moved by at most "
                f"{rest['relative'].abs().max():.2%}."]
    return out, len(moved)


def head_markdown(df, check: Path | None, head: str) -> list[str]:
    """The Compare grid and recommendation per regime at HEAD (the report's format)."""
    from analysis.load.inputs import parse_check
    from analysis.model import paired, tables
    from analysis.model.claims import safe
    from analysis.render import format as fmt
    from analysis.render.templates import markdown_table

    if check is None:
        return []
    data = parse_check(check.read_text(encoding="utf-8"), check.name)
    safe_names = safe({str(k): dict(v) for k, v in data["summary"].items()})
    at_head = df[df["commit"].astype(str) == head]
    g = paired.grid(at_head, safe_names)
    out = ["", f"### Recommendation per regime at `{head[:8]}`", "",
           "Safe (correct on every condition of `birnn-bench check` at head): "
           + (", ".join(f"`{n}`" for n in safe_names) or "none") + ".", ""]
    if g.empty:
        return [*out, "No paired ratios measured at head."]
    out += [fmt.GRID_LEGEND, ""]
    for (machine, device_name, device, mode), group in tables.grid_groups(g):
        out += [f"#### {fmt.device_title(machine, device_name, device)} · "
                f"{paired.MODE_LABELS.get(mode, mode)}", "",
                markdown_table(fmt.grid_frame(group)), ""]
    return out


def status_markdown(changed: int, accepted: bool, base: str, head: str, grid: str) -> list[str]:
    again = f"`python3 scripts/ci/pr_compare.py {base[:12]} {head[:12]} --grid {grid}`"
    if not changed:
        verdict = "Passes: no deterministic change beyond its threshold."
    elif accepted:
        verdict = f"Passes: the change is accepted by the label `{LABEL}`."
    else:
        verdict = (f"**Fails**: a deterministic change beyond its threshold. If it is intended, "
                   f"a maintainer adds the label `{LABEL}` to the pull request.")
    return ["", "### Status", "", verdict, "", f"Reproduce: {again} (needs valgrind)."]


def _write(path: Path | None, text: str) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Exit status: 0 no change, 1 a change, 2 cannot run.")
    parser.add_argument("base", metavar="BASE", help="the commit the pull request goes into")
    parser.add_argument("head", metavar="HEAD", help="the pull request's commit")
    parser.add_argument("--grid", choices=("quick", "smoke"), default="quick",
                        help="quick: the instruction regimes of the quick grid (CI; 12 minutes "
                        "in all on 2 busy cores); smoke: one tiny regime, every strategy (about 4)")
    parser.add_argument("--summary", type=Path, help="write the Markdown summary here")
    parser.add_argument("--workdir", type=Path, default=REPO / ".asv" / "pr-compare",
                        help="results, sources and check (default: .asv/pr-compare); what it "
                        "holds is reused (FRESH=1 counts again)")
    parser.add_argument("--no-ratios", dest="ratios", action="store_false",
                        help="only the instruction counts (no recommendation at head)")
    parser.add_argument("--accepted", choices=("true", "false"), default="false",
                        help=f"whether the pull request carries the label {LABEL!r}")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        base, head = _commit(args.base, "BASE"), _commit(args.head, "HEAD")
        if base == head:
            raise CannotRunError("BASE and HEAD are the same commit")
        machine = os.environ.get("MACHINE") or socket.gethostname()
        results, check = measure(base, head, args.grid, args.workdir.resolve(), machine,
                                 args.ratios)
        rows, df, limits = judged_changes(results, machine, base, head)
        if rows.empty:
            raise CannotRunError("no series measured at both commits")
    except (CannotRunError, OSError, ValueError) as err:
        print(f"pr_compare: error: {err}", file=sys.stderr)
        _write(args.summary, f"## Benchmarks: could not run\n\n`{err}`\n\nThe comparison of "
               f"`{args.base}` and `{args.head}` did not run to its end; see the job's log.\n")
        return 2
    lines, changed = changes_markdown(rows, df, limits, base, head, args.grid)
    lines += head_markdown(df, check, head)
    lines += status_markdown(changed, args.accepted == "true", base, head, args.grid)
    text = "\n".join(lines) + "\n"
    _write(args.summary, text)
    with contextlib.suppress(BrokenPipeError):
        print(text)
    say(f"done in {time.perf_counter() - started:.0f} s: {changed} series changed")
    return 1 if changed and args.accepted != "true" else 0


if __name__ == "__main__":
    sys.exit(main())
