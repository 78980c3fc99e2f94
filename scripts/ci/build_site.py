#!/usr/bin/env python3
"""Build the published site from a (merged) results tree: report + dashboard + a front page.

    python3 scripts/ci/build_site.py RESULTS OUT [--check FILE] [--branch NAME]

RESULTS is an asv results folder (e.g. what scripts/ci/merge_results.py wrote), OUT the site
folder (created; files in it are overwritten):

- ``OUT/report/``: ``python -m analysis report`` of RESULTS with the correctness check
  (``--check``, else ``birnn-bench check`` runs here, ~5 s) and docs/deploy-*.json;
- ``OUT/dashboard/``: scripts/publish_dashboard.py on an asv.conf.json like this tree's whose
  results_dir is RESULTS (the commits must be in this repository's history on ``--branch``,
  default the branches asv.conf.json names);
- ``OUT/index.html`` and ``OUT/recommendations.md``: every machine's hardware, and the
  recommendation per regime with one column per machine, side by side (from the report's
  recommendations.csv).

Exit status: 0 built, 2 bad arguments, 1 a step failed (its own message above).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # this tree's analysis, whatever is installed
    sys.path.insert(0, str(REPO))


def say(message: str) -> None:
    print(f"[build_site] {message}", file=sys.stderr, flush=True)


def _run(command: list[str], what: str) -> None:
    say(f"{what}: {' '.join(command)}")
    if subprocess.run(command, cwd=REPO).returncode:
        raise RuntimeError(f"{what} failed")


def machines(results: Path) -> list[dict]:
    """machine.json of every machine folder in ``results``, by name."""
    return [json.loads((p / "machine.json").read_text(encoding="utf-8"))
            for p in sorted(results.iterdir()) if (p / "machine.json").is_file()]


def dashboard_config(results: Path, html_dir: Path, branch: str | None, folder: Path) -> Path:
    from asv import util

    conf = util.load_json(str(REPO / "asv.conf.json"), js_comments=True)
    conf.update(repo=str(REPO), results_dir=str(results), html_dir=str(html_dir),
                env_dir=str(folder / "env"), benchmark_dir=str(REPO / "benchmarks"))
    if branch:
        conf["branches"] = [branch]
    path = folder / "asv.conf.json"
    path.write_text(json.dumps(conf, indent=2), encoding="utf-8")
    return path


def side_by_side(recommendations):
    """One row per mode and regime, one column per machine and device: the recommended
    strategy with its ratio to hn_index's and interval (``—``: not measured there)."""
    import pandas as pd

    from analysis.model import numbers as num
    from analysis.model.paired import MODE_LABELS

    if recommendations.empty:
        return pd.DataFrame()
    recs = recommendations.copy()

    def cell(row) -> str:
        if not isinstance(row["recommended"], str) or not row["recommended"]:
            return "none correct"
        if row["verdict"] in ("A/A", "") or row["recommended"] == "hn_index":
            return f"`{row['recommended']}` (safe default)"
        return f"`{row['recommended']}` {num.ratio_interval(row['ratio'], row['low'], row['high'])}"

    recs["cell"] = recs.apply(cell, axis=1)
    recs["column"] = [f"{m} · {d}" for m, d in zip(recs["machine"], recs["device_name"],
                                                    strict=True)]
    recs["mode"] = recs["mode"].map(MODE_LABELS).fillna(recs["mode"])
    wide = recs.pivot_table(index=["mode", "label"], columns="column", values="cell",
                            aggfunc="first", sort=False).fillna("—")
    return wide.reset_index().rename(columns={"label": "regime"})


def _known(machine: dict, field: str) -> str:
    """A machine.json field, or "not recorded" (``asv machine --machine NAME`` records only the
    name)."""
    value = machine.get(field)
    return "not recorded" if value in (None, "") else str(value)


def front_page(table, hardware: list[dict]) -> tuple[str, str]:
    """(index.html, recommendations.md) of the site (templates ``site.html``, ``site.md``)."""
    from analysis.render.templates import render

    intro = ("Only a strategy correct on every condition of the correctness check is ever "
             "recommended; it replaces hn_index only when its paired ratio's 99% interval is "
             "below 1 on that machine. The answer depends on the CPU: compare the columns.")
    fields = ("machine", "cpu", "arch", "num_cpu", "os")
    known = [{field: _known(machine, field) for field in fields} for machine in hardware]
    context = {"intro": intro, "machines": known, "fields": fields, "table": table,
               "headings": ("machine", "cpu", "arch", "cores", "os")}
    return render("site.html", **context), render("site.md", **context)


def build(results: Path, out: Path, check: Path | None, branch: str | None,
          vendor_cache: Path | None) -> None:
    import pandas as pd

    python = sys.executable
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="birnn-site-") as tmp:
        folder = Path(tmp)
        if check is None:
            check = folder / "check.json"
            _run([python, "-m", "birnn_bench.cli", "check", "--quiet", "--json", str(check)],
                 "correctness check")
        deploy = sorted(str(p) for p in (REPO / "docs").glob("deploy-*.json"))
        _run([python, "-m", "analysis", "report", "--quiet", "--results", str(results),
              "--check", str(check), "--out", str(out / "report"),
              *(["--deploy", *deploy] if deploy else [])], "report")
        config = dashboard_config(results, out / "dashboard", branch, folder)
        _run([python, str(REPO / "scripts" / "publish_dashboard.py"), "--config", str(config),
              "--html-dir", str(out / "dashboard"), "--vendor-cache",
              str(vendor_cache or REPO / ".asv" / "vendor")], "dashboard")
    hardware = machines(results)
    recs = pd.read_csv(out / "report" / "recommendations.csv")
    page, markdown = front_page(side_by_side(recs), hardware)
    (out / "index.html").write_text(page, encoding="utf-8")
    (out / "recommendations.md").write_text(markdown, encoding="utf-8")
    say(f"done: {out}/index.html ({len(hardware)} machine(s)); serve it over HTTP, e.g. "
        f"python3 -m http.server -d {out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, metavar="RESULTS", help="asv results folder")
    parser.add_argument("out", type=Path, metavar="OUT", help="the site folder (created)")
    parser.add_argument("--check", type=Path, metavar="FILE",
                        help="birnn-bench check --json output (default: run the check here)")
    parser.add_argument("--branch", help="the branch whose commits the dashboard shows "
                        "(default: asv.conf.json's branches)")
    parser.add_argument("--vendor-cache", type=Path, metavar="DIR",
                        help="npm tarball cache of the dashboard's JS/CSS (default: .asv/vendor)")
    args = parser.parse_args(argv)
    problem = None
    if not (args.results / "benchmarks.json").is_file():
        problem = f"RESULTS {args.results}: no benchmarks.json (not an asv results folder)"
    elif not machines(args.results):
        problem = f"RESULTS {args.results}: no machine folder with a machine.json"
    elif args.check is not None and not args.check.is_file():
        problem = f"--check {args.check}: no such file"
    elif args.out.exists() and not args.out.is_dir():
        problem = f"OUT {args.out}: exists and is not a folder"
    if problem:
        print(f"build_site: error: {problem}", file=sys.stderr)
        return 2
    try:
        build(args.results.resolve(), args.out.resolve(),
              args.check.resolve() if args.check else None, args.branch, args.vendor_cache)
    except RuntimeError as err:
        print(f"build_site: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
