"""The report's Markdown summary (``summary.md``): the page's grids as GitHub tables, then the
per-strategy counts, history and problems. Content in, text out."""

from __future__ import annotations

import pandas as pd

from analysis import format as fmt
from analysis import history, tables
from analysis.paired import MODE_LABELS
from analysis.report_html import method_notes, sources_text
from analysis.report_model import Content
from birnn_bench.strategies import BASELINE


def _grid(group: pd.DataFrame, check_known: bool) -> pd.DataFrame:
    """``format.grid_frame`` of one machine, device and mode; without a check no cell gets a
    dagger and nothing is recommended."""
    if check_known:
        frame = fmt.grid_frame(group)
        picked = group.groupby("regime", sort=False)["recommended"].any().to_numpy()
        frame.loc[~picked, "recommended"] = "none: no safe strategy correct here"
        return frame
    frame = fmt.grid_frame(group.assign(safe=True))
    frame["recommended"] = "— (no check file)"
    frame[f"vs {BASELINE}"] = ""
    return frame


def _check_line(c: Content) -> str:
    if c.check is None:
        return ("**Correctness check file missing**: nothing is recommended, since which "
                "strategies are safe is unknown. Pass `--check FILE` (written by "
                "`birnn-bench check --json FILE`).")
    safe = ", ".join(f"`{n}`" for n in c.check.safe) or "none"
    return (f"Correctness check `{c.check.source}` (torch {c.check.torch}): safe, and so the "
            f"only strategies ever recommended: {safe}.")


def _answer(c: Content) -> list[str]:
    if c.grid.empty:
        return ["No paired ratios in these results (the `ratios.Paired*` benchmarks): no grid."]
    out = [fmt.GRID_LEGEND, ""]
    for (machine, device_name, device, mode), group in tables.grid_groups(c.grid):
        out += [f"### {machine} · {device_name} ({device}) · {MODE_LABELS.get(mode, mode)}", "",
                f"Commit {str(group['commit'].iloc[0])[:8]}; cells: time over "
                f"{c.baseline}'s.", "", fmt.markdown_table(_grid(group, c.check is not None)),
                ""]
    return out


def _strategies(c: Content) -> list[str]:
    if c.strategies.empty:
        return []
    out = ["## Per strategy", "",
           f"Geometric means only over regimes where the strategy and {c.baseline} are both "
           "correct (how many: after the value).", ""]
    for title, shown in fmt.strategy_tables(c.strategies, c.baseline, c.check is not None):
        out += [f"### {title}", "", fmt.markdown_table(shown), ""]
    return out


def _history(c: Content) -> list[str]:
    if not c.has_history:
        return ["Fewer than two commits measured on any machine: no history yet."]
    commits = c.commits
    changed = commits[(commits["regressions"] > 0) | (commits["improvements"] > 0)]
    lines = [f"{len(commits)} commit(s) measured; {history.RULES}"]
    if changed.empty:
        return [*lines, "", "No change that counts between consecutive commits."]
    return [*lines, ""] + [
        f"- `{str(r.commit)[:8]}` on {r.machine} (against `{str(r.previous_commit)[:8]}`): "
        f"{r.what}" for r in changed.itertuples()]


def render(c: Content) -> str:
    """summary.md."""
    parts = [
        "# birnn-bench report: summary", "",
        f"{sources_text(c)}. Full report with figures: `index.html`.", "", _check_line(c), "",
        "## The answer at a glance", "", *_answer(c), *_strategies(c),
        "## History", "", *_history(c), "",
        "## Data problems", "",
        *([f"- {p.severity}: `{p.path}`: {p.message}" for p in c.problems]
          or ["None: every results file the report uses was read in full."]),
        *(["", f"{c.hidden_problems} note(s) on older, partial results files left out "
               "(history only)."] if c.hidden_problems else []), "",
        "## Method", "", *[f"- {n}" for n in method_notes(c)], "",
    ]
    return "\n".join(parts)
