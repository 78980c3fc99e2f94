"""``python -m analysis report`` (and ``birnn-bench report``): results tree -> report folder;
``python -m analysis findings``: results + check (+ resolution, crosscheck, deploy) ->
docs/FINDINGS.md, birnn_bench/auto_policy.json and the README's generated block.

Every argument is checked before any work (nothing is loaded or written while one is wrong): a
user mistake is one line on stderr, ``analysis <command>: error: <what>: <why>``, and exit
code 2, never a traceback."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


class UsageError(ValueError):
    """A wrong argument: ``what`` (the option and its value) and ``why``."""

    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"{what}: {why}")
        self.what, self.why = what, why


def _fail(command: str, err: Exception) -> int:
    print(f"analysis {command}: error: {err}", file=sys.stderr)
    return 2


def _writable_ancestor(flag: str, path: Path) -> None:
    """``path`` does not exist: its nearest existing ancestor must be a writable folder."""
    ancestor = Path(os.path.abspath(path)).parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UsageError(f"{flag} {path}", f"cannot be created: {ancestor} is a file, not a "
                         "folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {path}", f"cannot be created: {ancestor} is not writable")


def _check_out_dir(flag: str, path: Path) -> None:
    """An output folder: an existing writable folder, or one that can be created."""
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise UsageError(f"{flag} {path}", "the folder is not writable")
    elif path.is_file():
        raise UsageError(f"{flag} {path}", "is an existing file, not a folder (give a folder "
                         "to write into)")
    elif path.is_symlink():
        raise UsageError(f"{flag} {path}", "is a symbolic link to nothing")
    elif path.exists():
        raise UsageError(f"{flag} {path}", "exists and is not a folder")
    else:
        _writable_ancestor(flag, path)


def _check_out_file(flag: str, path: Path) -> None:
    """An output file: an existing writable regular file, or one that can be created."""
    if path.is_dir():
        raise UsageError(f"{flag} {path}", "is a folder, not a file")
    if path.exists():
        if not path.is_file():
            raise UsageError(f"{flag} {path}", "exists and is not a regular file")
        if not os.access(path, os.W_OK):
            raise UsageError(f"{flag} {path}", "the file is not writable")
    elif path.is_symlink():
        raise UsageError(f"{flag} {path}", "is a symbolic link to nothing")
    else:
        _writable_ancestor(flag, path)


def _check_results(what: str, path: Path, note: str = "") -> Path:
    if not path.exists():
        raise UsageError(what, f"results folder does not exist{note}, so nothing could be "
                         "loaded")
    if not path.is_dir():
        raise UsageError(what, f"is not a folder{note} (expected an asv results folder)")
    try:
        next(path.iterdir(), None)
    except OSError as err:
        raise UsageError(what, f"cannot be read ({err.strerror or err})") from None
    return path


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
        description="Writes index.html (self-contained; it opens with the Compare grid of "
        "every machine, device and mode), summary.md, CSV tables (among them grid.csv and "
        "recommendations.csv) and PNG/SVG figures into --out.")
    p.add_argument("--out", type=Path, default=Path("report"),
                   help="output folder (created; files in it are overwritten; default: report)")
    p.add_argument("--results", type=Path, nargs="+", action="extend", default=None,
                   metavar="DIR", help="asv results folder(s), each with its benchmarks.json "
                   "(default: results_dir of asv.conf.json); several are merged")
    p.add_argument("--config", type=Path, default=None,
                   help="asv.conf.json naming the results folder (default: ./asv.conf.json, "
                   "else the repository's)")
    p.add_argument("--check", type=Path, default=None, metavar="FILE",
                   help="birnn-bench check --json output: which strategies are safe (correct "
                   "on every condition); only those are recommended. Without it nothing is "
                   "recommended and the report says the check file is missing")
    p.add_argument("--deploy", type=Path, nargs="+", action="extend", default=None,
                   metavar="FILE", help="birnn-bench deploy --json files (a Deployability "
                   "section; without them the section says how to produce them)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    _add_findings(sub)
    return parser


def _add_findings(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "findings", help="docs/FINDINGS.md, the auto policy and the README block",
        description="Builds docs/FINDINGS.md (the Compare grid per device and mode from the "
        "paired ratios, resolution, reproducibility across commits, the thread's claims "
        "settled by the check, memory per regime, op counts, deployability, crosscheck), "
        "birnn_bench/auto_policy.json and the README's block between the findings markers. "
        "Only these files are written; inputs are all read and checked first.")
    p.add_argument("--results", type=Path, default=None,
                   help="asv results folder (default: results_dir of asv.conf.json)")
    p.add_argument("--config", type=Path, default=None,
                   help="asv.conf.json naming the results folder (default: ./asv.conf.json, "
                   "else the repository's)")
    p.add_argument("--check", type=Path, default=REPO / "docs" / "check.json", metavar="FILE",
                   help="birnn-bench check --json output: the safe strategies (default: "
                   "docs/check.json)")
    p.add_argument("--resolution", type=Path, nargs="?", default=None, const=False,
                   metavar="FILE", help="scripts/resolution.py --json output (default: "
                   "docs/resolution.json when present; the option alone for none)")
    p.add_argument("--crosscheck", type=Path, nargs="*", default=None, metavar="FILE",
                   help="scripts/crosscheck.py --json files (default: docs/crosscheck-*.json; "
                   "give the option with no file for none)")
    p.add_argument("--deploy", type=Path, nargs="*", default=None, metavar="FILE",
                   help="birnn-bench deploy --json files (default: docs/deploy-*.json; give "
                   "the option with no file for none)")
    p.add_argument("--out", type=Path, default=REPO / "docs" / "FINDINGS.md",
                   help="the Markdown file written (default: docs/FINDINGS.md)")
    p.add_argument("--policy", type=Path, default=REPO / "birnn_bench" / "auto_policy.json",
                   help="the auto policy written (default: birnn_bench/auto_policy.json)")
    p.add_argument("--readme", type=Path, default=REPO / "README.md",
                   help="README whose findings block is replaced (default: README.md)")
    p.add_argument("--no-readme", action="store_true", help="leave the README alone")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _results_dir(args: argparse.Namespace) -> Path:
    """The results folder (--results, else the results_dir of --config or asv.conf.json),
    checked to be a readable folder; a garbage configuration is a UsageError too."""
    if args.results is not None:
        return _check_results(f"--results {args.results}", args.results)
    from analysis.asv_files import default_results_dir

    config = args.config or _find_config()
    if config is None:
        raise UsageError("--results", "not given, and no asv.conf.json here or in the "
                         "repository names one: pass --results DIR")
    flag = f"--config {config}" if args.config is not None else f"asv.conf.json {config}"
    if not config.exists():
        raise UsageError(flag, "no such file")
    if not config.is_file():
        raise UsageError(flag, "is not a file")
    try:
        results = default_results_dir(config)
    except ValueError as err:
        raise UsageError(flag, str(err)) from None
    return _check_results(f"results_dir {results}", results, f" (named by {config})")


def _check_report_args(args: argparse.Namespace) -> None:
    """Every argument of ``report`` that can be judged without loading (outputs first)."""
    _check_out_dir("--out", args.out)


def _name(path: Path) -> str:
    """How the generated files name an input: relative to the working folder when inside it,
    else by its own name (never an absolute path of this machine)."""
    try:
        return Path(os.path.abspath(path)).relative_to(Path.cwd()).as_posix() or "."
    except ValueError:
        return Path(os.path.abspath(path)).name


def _report_results(args: argparse.Namespace) -> list[Path]:
    """The results folders of ``report``: each of --results, else the configured one."""
    if not args.results:
        return [_results_dir(argparse.Namespace(results=None, config=args.config))]
    return [_check_results(f"--results {path}", path) for path in args.results]


def _read_check(path: Path | None):
    """``--check``: the report's :class:`analysis.report_model.Check`, or None."""
    if path is None:
        return None
    from analysis.inputs import parse_check
    from analysis.report_model import Check

    try:
        data = parse_check(_read_text(path, "write it with birnn-bench check --json FILE"),
                           _name(path))
    except ValueError as err:
        why = str(err)
        for prefix in (f"{path}: ", f"{_name(path)}: "):
            why = why.removeprefix(prefix)
        raise UsageError(f"--check {path}", why) from None
    return Check(source=_name(path), torch=str(data.get("torch", "?")),
                 summary={str(k): dict(v) for k, v in data["summary"].items()})


def cmd_report(args: argparse.Namespace) -> int:
    from analysis.load import load_results
    from analysis.report import build_report, merge, shown_problems, write_report

    start = time.perf_counter()

    def say(message: str) -> None:
        if not args.quiet:
            print(f"[{time.perf_counter() - start:5.1f} s] {message}", file=sys.stderr,
                  flush=True)

    try:
        _check_report_args(args)
        folders = _report_results(args)
        check = _read_check(args.check)
        deploy = _read_deploy(args.deploy or [])
    except UsageError as err:
        return _fail("report", err)

    def progress(done: int, total: int, name: str) -> None:
        if done == total or done % 10 == 0:
            say(f"loaded {done}/{total} results files")

    parts = []
    for folder in folders:
        say(f"loading results from {folder}")
        parts.append((_name(folder), load_results(folder, progress=progress)))
    loaded = merge(parts)
    shown, hidden = shown_problems(loaded)
    for problem in shown:
        print(f"analysis report: {problem}", file=sys.stderr)
    if hidden:
        say(f"{hidden} note(s) on older, partial results files not shown (history only)")
    measured = int(loaded.data["value"].notna().sum())
    if loaded.data.empty or measured == 0:
        where = ", ".join(str(f) for f in folders)
        print(f"analysis report: error: nothing could be loaded from {where}"
              + ("" if loaded.problems else " (no measured points)"), file=sys.stderr)
        return 2
    say(f"{len(loaded.files)} files, {measured} measured points, "
        f"{len(loaded.problems)} problem(s)")
    if check is None:
        say("no --check: nothing will be recommended (the safe strategies are unknown)")
    report = build_report(loaded, check=check, deploy=deploy, sources=[n for n, _ in parts],
                          progress=say)
    try:
        written = write_report(args.out, report)
    except (OSError, ValueError) as err:
        why = getattr(err, "strerror", None) or str(err)
        where = getattr(err, "filename", None)
        return _fail("report", UsageError(f"--out {args.out}", "cannot write the report"
                                          + (f" ({where}: {why})" if where else f" ({why})")))
    say(f"wrote {len(written)} files to {args.out}")
    print(f"report: {args.out / 'index.html'}")
    print(f"summary: {args.out / 'summary.md'}")
    print(f"grid: {args.out / 'grid.csv'}")
    return 0


def _read_text(path: Path, what: str) -> str:
    if not path.exists():
        raise ValueError(f"{path}: no such file ({what})")
    if not path.is_file():
        raise ValueError(f"{path}: is not a file ({what})")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: is not UTF-8 text ({err.reason} at byte {err.start})") \
            from None
    except OSError as err:
        raise ValueError(f"{path}: cannot be read ({err.strerror or err})") from None


def _read_deploy(paths: Sequence[Path]):
    """The deploy files as one frame, or None when there are none (UsageError when one cannot
    be read or is not a deploy file)."""
    if not paths:
        return None
    import pandas as pd

    from analysis.inputs import parse_deploy

    frames = []
    for p in paths:
        try:
            frames.append(parse_deploy(_read_text(p, "write it with birnn-bench deploy --json "
                                                  "FILE"), _display(p)))
        except ValueError as err:
            why = str(err)
            for prefix in (f"{p}: ", f"{_display(p)}: "):
                why = why.removeprefix(prefix)
            raise UsageError(f"--deploy {p}", why) from None
    return pd.concat(frames, ignore_index=True)


def _display(path: Path) -> str:
    """A path as the generated files name it: relative to the repository when inside it."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def _discover(given: list[Path] | None, pattern: str) -> list[Path]:
    if given is not None:
        return list(given)
    return sorted((REPO / "docs").glob(pattern))


def _href(target: Path, document: Path) -> str:
    """``target`` relative to the folder of ``document``, with forward slashes."""
    return Path(os.path.relpath(target.resolve(), document.resolve().parent)).as_posix()


def cmd_findings(args: argparse.Namespace) -> int:
    from analysis import findings_render as render
    from analysis import inputs
    from analysis.findings import build_findings
    from analysis.load import load_results
    from analysis.policy_rules import policy_json

    start = time.perf_counter()

    def say(message: str) -> None:
        if not args.quiet:
            print(f"[{time.perf_counter() - start:5.1f} s] {message}", file=sys.stderr,
                  flush=True)

    def fail(message: str) -> int:
        print(f"analysis findings: error: {message}", file=sys.stderr)
        return 2

    def read(path: Path, parse: Callable[[str, str], Any], hint: str) -> Any:
        """``path`` read and parsed by one of ``inputs.parse_*``."""
        return parse(_read_text(path, hint), _display(path))

    try:
        _check_out_file("--out", args.out)
        _check_out_file("--policy", args.policy)
        results = _results_dir(args)
        check = read(args.check, inputs.parse_check,
                     f"write it with birnn-bench check --json {args.check}")
        resolution_path = args.resolution
        if resolution_path is None and (REPO / "docs" / "resolution.json").is_file():
            resolution_path = REPO / "docs" / "resolution.json"
        resolution = read(resolution_path, inputs.parse_resolution, "write it with python3 "
                          "scripts/resolution.py --json FILE") if resolution_path else None
        crosscheck = [read(p, inputs.parse_crosscheck, "write it with python3 "
                           "scripts/crosscheck.py --json FILE")
                      for p in _discover(args.crosscheck, "crosscheck-*.json")]
        deploy = _read_deploy(_discover(args.deploy, "deploy-*.json"))
        readme = None
        if not args.no_readme:
            readme = _read_text(args.readme, "the README whose findings block is generated")
            render.replace_readme_block(readme, "", _display(args.readme))  # markers usable?
    except (FileNotFoundError, ValueError, OSError) as err:
        return fail(str(err))

    say(f"loading results from {results}")
    loaded = load_results(results)
    for problem in loaded.problems:
        print(f"analysis findings: {problem}", file=sys.stderr)
    if loaded.data.empty or int(loaded.data["value"].notna().sum()) == 0:
        return fail(f"nothing could be loaded from {results}"
                    + ("" if loaded.problems else " (no measured points)"))
    found = build_findings(loaded, check, resolution, crosscheck, deploy)
    text = render.render_findings(found)
    policy = policy_json(found.policy)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    args.policy.parent.mkdir(parents=True, exist_ok=True)
    args.policy.write_text(policy, encoding="utf-8")
    print(f"findings: {args.out} ({found.grid['regime'].nunique() if not found.grid.empty else 0}"
          " regimes with paired ratios)")
    print(f"policy: {args.policy} ({len(found.policy['rules'])} rules)")
    if readme is not None:
        block = render.readme_block(found, _href(args.out, args.readme))
        updated = render.replace_readme_block(readme, block, _display(args.readme))
        if updated != readme:
            args.readme.write_text(updated, encoding="utf-8")
        print(f"readme: {args.readme} ({'updated' if updated != readme else 'unchanged'})")
    say("done")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; ``argv`` like ``["report", "--out", "DIR"]``. Returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.command == "report":
        return cmd_report(args)
    if args.command == "findings":
        return cmd_findings(args)
    return 2  # pragma: no cover (argparse requires a known command)
