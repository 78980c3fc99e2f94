"""``python -m analysis report`` (and ``birnn-bench report``): results tree -> report folder."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _find_config() -> Path | None:
    for candidate in (Path.cwd() / "asv.conf.json", REPO / "asv.conf.json"):
        if candidate.is_file():
            return candidate
    return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Turns asv results (any machines, any commits) into a correctness x "
        "throughput report and a production recommendation.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "report", help="write the HTML report, a Markdown summary, CSV tables and figures",
        description="Writes index.html (self-contained), summary.md, CSV tables (among them "
        "recommendations.csv) and PNG/SVG figures into --out.")
    p.add_argument("--out", type=Path, default=Path("report"),
                   help="output folder (created; files in it are overwritten; default: report)")
    p.add_argument("--results", type=Path, default=None,
                   help="asv results folder (default: results_dir of asv.conf.json)")
    p.add_argument("--config", type=Path, default=None,
                   help="asv.conf.json naming the results folder (default: ./asv.conf.json, "
                   "else the repository's)")
    p.add_argument("--baseline", default="hn_index",
                   help="strategy the speed-ups are measured against (default: hn_index)")
    p.add_argument("--alpha", type=float, default=0.01,
                   help="significance level of the recommendation's margin (default: 0.01)")
    p.add_argument("--regression-threshold", type=float, default=0.10,
                   help="relative slow-down that counts as a regression (default: 0.10)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return parser


def _results_dir(args: argparse.Namespace) -> Path:
    if args.results is not None:
        return args.results
    from analysis.load import default_results_dir

    config = args.config or _find_config()
    if config is None:
        raise FileNotFoundError("no asv.conf.json here or in the repository: pass --results DIR")
    if not config.is_file():
        raise FileNotFoundError(f"--config {config}: no such file")
    return default_results_dir(config)


def cmd_report(args: argparse.Namespace) -> int:
    from analysis.load import load_results
    from analysis.report import build_report, write_report

    start = time.perf_counter()

    def say(message: str) -> None:
        if not args.quiet:
            print(f"[{time.perf_counter() - start:5.1f} s] {message}", file=sys.stderr,
                  flush=True)

    try:
        results = _results_dir(args)
    except (FileNotFoundError, ValueError, OSError) as err:
        print(f"analysis report: error: {err}", file=sys.stderr)
        return 2

    def progress(done: int, total: int, name: str) -> None:
        if done == total or done % 10 == 0:
            say(f"loaded {done}/{total} results files")

    say(f"loading results from {results}")
    loaded = load_results(results, progress=progress)
    for problem in loaded.problems:
        print(f"analysis report: {problem}", file=sys.stderr)
    measured = int(loaded.data["value"].notna().sum())
    if loaded.data.empty or measured == 0:
        print(f"analysis report: error: nothing could be loaded from {results}"
              + ("" if loaded.problems else " (no measured points)"), file=sys.stderr)
        return 2
    say(f"{len(loaded.files)} files, {measured} measured points, "
        f"{len(loaded.problems)} problem(s)")
    report = build_report(loaded, baseline=args.baseline, alpha=args.alpha,
                          threshold=args.regression_threshold, progress=say,
                          source=str(results))
    written = write_report(args.out, report)
    say(f"wrote {len(written)} files to {args.out}")
    print(f"report: {args.out / 'index.html'}")
    print(f"summary: {args.out / 'summary.md'}")
    print(f"recommendations: {args.out / 'recommendations.csv'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; ``argv`` like ``["report", "--out", "DIR"]``. Returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.command == "report":
        return cmd_report(args)
    return 2  # pragma: no cover (argparse requires a known command)
