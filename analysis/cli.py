"""``python -m analysis report`` (and ``birnn-bench report``): results -> report folder;
``python -m analysis findings``: results + check (+ resolution, crosscheck, deploy, kernels) ->
docs/FINDINGS.md, the auto policy and the README block. Every argument is checked before any
work: a mistake is one line on stderr, ``analysis <command>: error: <what>: <why>``, exit 2."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analysis import cli_inputs as checked
from analysis.cli_inputs import REPO, UsageError
from birnn_bench._io import check_output, check_output_paths

if TYPE_CHECKING:
    from analysis.load.loaded import Loaded

CONFIG_HELP = ("asv.conf.json naming the results folder (default: ./asv.conf.json, else the "
               "repository's)")


def _fail(command: str, err: object) -> int:
    print(f"analysis {command}: error: {err}", file=sys.stderr)
    return 2


def _progress(quiet: bool) -> Callable[[str], None]:
    start = time.perf_counter()

    def say(message: str) -> None:
        if not quiet:
            print(f"[{time.perf_counter() - start:5.1f} s] {message}", file=sys.stderr,
                  flush=True)

    return say


#: What a report folder held before the marker existed: such a folder is an earlier report.
EARLIER_REPORT = ("index.html", "summary.md", "grid.csv")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Turns asv results (any machines, any commits) into a correctness x "
        "throughput report and a production recommendation.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "report", help="write the HTML report, a Markdown summary, CSV tables and figures",
        description="Writes index.html (self-contained; it opens with the Compare grid of "
        "every machine, device and mode), summary.md, CSV tables (among them grid.csv and "
        "recommendations.csv) and PNG/SVG figures into --out.")
    p.add_argument("--out", type=Path, default=Path("report"),
                   help="output folder: new, empty, or an earlier report (its files are "
                   "overwritten); default: report")
    p.add_argument("--force", action="store_true", help="write into an existing --out folder "
                   "that holds other files (same names are overwritten)")
    p.add_argument("--results", type=Path, nargs="+", action="extend", default=None,
                   metavar="DIR", help="asv results folder(s), each with its benchmarks.json "
                   "(default: results_dir of asv.conf.json); several are merged")
    p.add_argument("--config", type=Path, help=CONFIG_HELP)
    p.add_argument("--check", type=Path, default=None, metavar="FILE",
                   help="birnn-bench check --json output: which strategies are safe (correct "
                   "on every condition); only those are recommended. Without it nothing is "
                   "recommended and the report says the check file is missing")
    p.add_argument("--deploy", type=Path, nargs="+", action="extend", default=None,
                   metavar="FILE", help="birnn-bench deploy --json files (a Deployability "
                   "section; without them the section says how to produce them)")
    p.add_argument("--resolution", type=Path, default=None, metavar="FILE",
                   help="docs/resolution.json of `analysis findings`: the process-level A/A "
                   "(how far the same code's paired ratios moved between two runs) the history "
                   "tolerates before flagging a ratio (default: docs/resolution.json when "
                   "present, else no tolerance)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p = sub.add_parser(
        "findings", help="docs/FINDINGS.md, the auto policy and the README block",
        description="Builds docs/FINDINGS.md (the Compare grid per device and mode from the "
        "paired ratios, resolution, reproducibility across commits, the thread's claims "
        "settled by the check, memory per regime, op counts, deployability, crosscheck, which "
        "kernels run with oneDNN on and off), "
        "birnn_bench/auto_policy.json and the README's block between the findings markers. "
        "Only these files are written; inputs are all read and checked first.")
    p.add_argument("--results", type=Path,
                   help="asv results folder (default: results_dir of asv.conf.json)")
    p.add_argument("--config", type=Path, help=CONFIG_HELP)
    p.add_argument("--check", type=Path, default=REPO / "docs" / "check.json", metavar="FILE",
                   help="birnn-bench check --json output: the safe strategies (default: "
                   "docs/check.json)")
    p.add_argument("--resolution", type=Path, default=REPO / "docs" / "resolution.json",
                   metavar="FILE", help="where the grid run's own resolution is written (A/A "
                   "and a known 5%% slowdown per regime and mode, and the reproducibility "
                   "between a machine's two latest runs; default: docs/resolution.json)")
    p.add_argument("--crosscheck", type=Path, nargs="*", default=None, metavar="FILE",
                   help="scripts/crosscheck.py --json files (default: docs/crosscheck-*.json; "
                   "give the option with no file for none)")
    p.add_argument("--deploy", type=Path, nargs="*", default=None, metavar="FILE",
                   help="birnn-bench deploy --json files (default: docs/deploy-*.json; give "
                   "the option with no file for none)")
    p.add_argument("--kernels", type=Path, nargs="*", default=None, metavar="FILE",
                   help="scripts/kernels.py --json files, one per machine: which rnn kernels "
                   "run, oneDNN on and off (default: docs/kernels-*.json; give the option with "
                   "no file for none)")
    p.add_argument("--out", type=Path, default=REPO / "docs" / "FINDINGS.md",
                   help="the Markdown file written (default: docs/FINDINGS.md)")
    p.add_argument("--policy", type=Path, default=REPO / "birnn_bench" / "auto_policy.json",
                   help="the auto policy written (default: birnn_bench/auto_policy.json)")
    p.add_argument("--readme", type=Path, default=REPO / "README.md",
                   help="README whose findings block is replaced (default: README.md)")
    p.add_argument("--no-readme", action="store_true", help="leave the README alone")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return parser


def _print_problems(command: str, loaded: Loaded, where: str) -> tuple[int, str]:
    """The loader's problems on stderr (``problems.lines``); how many notes on older partial runs
    were left out (``problems.shown_problems``), and why nothing usable was loaded ("" if it
    was)."""
    from analysis.load.problems import lines, shown_problems

    shown, hidden = shown_problems(loaded)
    for line in lines(shown):
        print(f"analysis {command}: {line}", file=sys.stderr)
    if loaded.data.empty or int(loaded.data["value"].notna().sum()) == 0:
        return hidden, (f"nothing could be loaded from {where}"
                        + ("" if loaded.problems else " (no measured points)"))
    return hidden, ""


def cmd_report(args: argparse.Namespace) -> int:
    from analysis.load.inputs import parse_check
    from analysis.load.loaded import merge
    from analysis.load.results import load_results
    from analysis.model.report import Check
    from analysis.render.output import write_report
    from analysis.render.report import build_report

    say = _progress(args.quiet)
    try:
        check_output("--out", args.out, folder=True, kind="report", force=args.force,
                     earlier=EARLIER_REPORT, inputs=[p for p in (args.check, *(args.deploy or []))
                                                     if p is not None])
        folders = [checked.results_dir(path, args.config) for path in args.results or [None]]
        for index, folder in enumerate(folders):  # twice would load every point twice
            if folder.resolve() in [f.resolve() for f in folders[:index]]:
                raise UsageError(f"--results {folder}", "given twice (each folder once)")
        check = None
        if args.check is not None:
            name = checked.report_name(args.check)
            data = checked.parse("--check", args.check, parse_check, name)
            check = Check(source=name, torch=str(data.get("torch", "?")),
                          summary={str(k): dict(v) for k, v in data["summary"].items()})
        deploy = checked.read_deploy(args.deploy or [])
        tolerance = checked.tolerances(args.resolution)
        limits = checked.limits(args.config)
    except ValueError as err:  # UsageError, and check_output's "<flag> <path>: <why>"
        return _fail("report", err)

    def progress(done: int, total: int, name: str) -> None:
        if done == total or done % 10 == 0:
            say(f"loaded {done}/{total} results files")

    parts = []
    for folder in folders:
        say(f"loading results from {folder}")
        parts.append((checked.report_name(folder), load_results(folder, progress=progress)))
    loaded = merge(parts)
    hidden, empty = _print_problems("report", loaded, ", ".join(map(str, folders)))
    if hidden:
        say(f"{hidden} note(s) on older, partial results files not shown (history only)")
    if empty:
        return _fail("report", empty)
    say(f"{len(loaded.files)} files, {int(loaded.data['value'].notna().sum())} measured points, "
        f"{len(loaded.problems)} problem(s)")
    if check is None:
        say("no --check: the safe strategies come from the results' own correctness matrix "
            "(strategies.Correctness), when they carry it")
    report = build_report(loaded, check=check, deploy=deploy, sources=[n for n, _ in parts],
                          progress=say, ratio_tolerance=tolerance, limits=limits)
    try:
        written = write_report(args.out, report)
    except (OSError, ValueError) as err:
        where = f"{err.filename}: " if getattr(err, "filename", None) else ""
        why = getattr(err, "strerror", None) or err
        return _fail("report", f"--out {args.out}: cannot write the report ({where}{why})")
    say(f"wrote {len(written)} files to {args.out}")
    for what, name in (("report", "index.html"), ("summary", "summary.md"), ("grid", "grid.csv")):
        print(f"{what}: {args.out / name}")
    return 0


def cmd_findings(args: argparse.Namespace) -> int:
    from analysis.load import inputs
    from analysis.load.results import load_results
    from analysis.model import resolution as res
    from analysis.model.findings import build_findings
    from analysis.model.policy_rules import policy_json
    from analysis.render import findings_page as render

    say = _progress(args.quiet)

    def read(path: Path, parse: Callable[[str, str], Any], command: str) -> Any:
        return parse(checked.read_text(path, f"write it with {command}"), checked.repo_name(path))

    def discover(given: list[Path] | None, pattern: str) -> list[Path]:
        return list(given) if given is not None else sorted((REPO / "docs").glob(pattern))

    try:
        check_output_paths([("--out", args.out), ("--policy", args.policy),
                            ("--resolution", args.resolution),
                            ("--readme", None if args.no_readme else args.readme)])
        results = checked.results_dir(args.results, args.config)
        check = read(args.check, inputs.parse_check, f"birnn-bench check --json {args.check}")
        crosscheck = [read(p, inputs.parse_crosscheck, "python3 scripts/crosscheck.py --json FILE")
                      for p in discover(args.crosscheck, "crosscheck-*.json")]
        deploy = checked.read_deploy(discover(args.deploy, "deploy-*.json"))
        kernels = [read(p, inputs.parse_kernels, "python3 scripts/kernels.py --json FILE")
                   for p in discover(args.kernels, "kernels-*.json")]
        readme = None
        if not args.no_readme:
            readme = checked.read_text(args.readme, "the README whose findings block is generated")
            # are its markers usable?
            render.replace_readme_block(readme, "", checked.repo_name(args.readme))
    except (FileNotFoundError, ValueError, OSError) as err:
        return _fail("findings", err)

    say(f"loading results from {results}")
    loaded = load_results(results)
    empty = _print_problems("findings", loaded, str(results))[1]
    if empty:
        return _fail("findings", empty)
    found = build_findings(loaded, check, crosscheck, deploy, kernels=kernels)
    resolution = res.as_json(found.resolution["regimes"], found.resolution["summary"],
                             found.reproducibility)
    for path, text in ((args.out, render.render_findings(found)),
                       (args.policy, policy_json(found.policy)),
                       (args.resolution, json.dumps(resolution, indent=2) + "\n")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    print(f"findings: {args.out} ({found.grid['regime'].nunique() if not found.grid.empty else 0}"
          " regimes with paired ratios)")
    print(f"policy: {args.policy} (" + ", ".join(
        f"{m['machine']}: {len(m['rules'])} rules" for m in found.policy["machines"]) + ")")
    print(f"resolution: {args.resolution}")
    if readme is not None:
        href = Path(os.path.relpath(args.out.resolve(), args.readme.resolve().parent))
        block = render.readme_block(found, href.as_posix())
        updated = render.replace_readme_block(readme, block, checked.repo_name(args.readme))
        if updated != readme:
            args.readme.write_text(updated, encoding="utf-8")
        print(f"readme: {args.readme} ({'updated' if updated != readme else 'unchanged'})")
    say("done")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; ``argv`` like ``["report", "--out", "DIR"]``. Returns the exit code."""
    args = build_parser().parse_args(argv)
    return cmd_report(args) if args.command == "report" else cmd_findings(args)
