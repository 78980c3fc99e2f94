"""Did this branch make a strategy do more work? The maintainer's check on a noisy machine.

    python3 scripts/branch_check.py [BASE [HEAD]]      (defaults: main, HEAD)

``asv run`` of BASE and of HEAD (each in asv's own virtualenv, saved under results/<machine>/):
instructions per call under callgrind (~4 minutes a commit) and the paired inference ratios
(~3 minutes); then each series' verdict by ``analysis.model.commits`` (scripts/ci/pr_compare.py's
rules too): a deterministic series counts past the threshold asv.conf.json sets (instructions:
1%), a paired ratio when the quotient of the commits' 99% intervals lies beyond 1 +- the
process-level A/A (docs/resolution.json).

Exit status: 0 no regression, 1 a regression, 2 the check could not run. Environment: MACHINE
(asv machine name, default: derived from the hardware), ASV_CONFIG, FRESH=1 (measure again
what is there), BRANCH_CHECK_BENCH (another ``--bench`` regex).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = r"^(instructions\.Instructions|ratios\.PairedForward)\."


def _rev(name: str) -> str:
    done = subprocess.run(["git", "rev-parse", "--verify", f"{name}^{{commit}}"], cwd=REPO,
                          capture_output=True, text=True)
    if done.returncode:
        print(f"branch_check: {name!r} is not a commit here", file=sys.stderr)
        raise SystemExit(2)
    return done.stdout.strip()


def verdicts(results: Path, machine: str, base: str, head: str, config: Path):
    """The judged series of ``head`` against ``base`` on ``machine`` (``analysis.model.commits``
    rows), by the thresholds of the asv configuration ``config``."""
    from asv import util

    from analysis.load.results import load_results
    from analysis.model import commits, history
    from analysis.model.resolution import tolerances

    limits = commits.Limits.from_conf(util.load_json(str(config), js_comments=True))
    df = load_results(results).data
    df = df[(df["machine"].astype(str) == machine) & df["commit"].astype(str).isin([base, head])]
    measured = REPO / "docs" / "resolution.json"  # the process-level A/A, when measured
    rows = commits.compare(history.series(df), base, head, limits, tolerances(
        json.loads(measured.read_text(encoding="utf-8")) if measured.is_file() else None))
    return rows[rows["judged"]]


def report(rows) -> list[str]:
    """What a maintainer reads: the changes that count, then the tally per quantity."""
    out = []
    for quantity, group in rows.groupby("quantity", sort=True):
        moved = group[group["change"] != ""]
        worse = int((moved["change"] == "regression").sum())
        out.append(f"{quantity}: {len(group)} series, {worse} worse, {len(moved) - worse} better")
        for row in moved.sort_values(["change", "strategy", "regime"]).itertuples():
            span = (f" [{row.previous_low:.3f}-{row.previous_high:.3f} -> {row.low:.3f}-"
                    f"{row.high:.3f}]" if row.kind == "ratio" else "")
            out.append(f"  {row.change.upper():11s} {row.strategy:16s} {row.regime}: "
                       f"{row.previous_value:.6g} -> {row.value:.6g} "
                       f"({row.value / row.previous_value - 1:+.2%}){span}")
    return out


def main(argv: list[str]) -> int:
    if len(argv) > 2 or any(a.startswith("-") for a in argv):
        print(__doc__, file=sys.stderr)
        return 2
    base, head = (_rev(name) for name in [*argv, *["main", "HEAD"][len(argv):]])
    if base == head:
        print("branch_check: BASE and HEAD are the same commit", file=sys.stderr)
        return 2
    config = os.environ.get("ASV_CONFIG", str(REPO / "asv.conf.json"))
    env = {**os.environ, "BIRNN_BENCH_GRID": "quick"}
    python = sys.executable
    subprocess.run(["sh", str(REPO / "scripts" / "apt_install.sh"), "valgrind"], check=False)
    from analysis.load.asv_files import default_results_dir

    named = subprocess.run([python, str(REPO / "scripts" / "asv_machine.py"),
                            *([os.environ["MACHINE"]] if os.environ.get("MACHINE") else []),
                            "--results", str(default_results_dir(config))],
                           stdout=subprocess.PIPE, text=True)
    if named.returncode:
        return 2
    machine = named.stdout.strip().splitlines()[-1]
    skip = [] if os.environ.get("FRESH") == "1" else ["--skip-existing"]
    for commit in (base, head):
        print(f"branch_check: asv run of {commit[:8]} on {machine}", file=sys.stderr, flush=True)
        code = subprocess.run([python, "-m", "asv", "run", "--config", config, "--machine",
                               machine, "--show-stderr", "--bench",
                               os.environ.get("BRANCH_CHECK_BENCH", BENCH), *skip,
                               f"{commit}^!"], cwd=REPO, env=env).returncode
        if code:
            print(f"branch_check: asv run of {commit[:8]} failed ({code})", file=sys.stderr)
            return 2
    rows = verdicts(default_results_dir(config), machine, base, head, Path(config))
    if rows.empty:
        print("branch_check: no series measured at both commits", file=sys.stderr)
        return 2
    print(f"{head[:8]} against {base[:8]} on {machine}:")
    print("\n".join(report(rows)))
    return 1 if (rows["change"] == "regression").any() else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
