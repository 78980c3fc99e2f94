"""The report's two pages from its content (``model.report.Content``), by the templates
``report.html`` (index.html: one self-contained file, inline CSS, figures as base64 PNG, nothing
loaded from anywhere) and ``summary.md`` (the same grids and counts); here only what they are
given."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pandas as pd

from analysis.load import problems
from analysis.model import deployability, tables
from analysis.model import numbers as num
from analysis.model.paired import MODE_LABELS
from analysis.model.report import Content
from analysis.render import format as fmt
from analysis.render import views
from analysis.render.templates import render, slug
from birnn_bench.compare import RESOLVED
from birnn_bench.oracle import TOLERANCES
from birnn_bench.strategies import BASELINE

MAJOR_SECTIONS = (("answer", "The answer"), ("grid", "Compare grid"),
                  ("strategies", "Per strategy"),
                  ("ratios", "Ratio figures"), ("correctness", "Correctness"), ("memory", "Memory"),
                  ("ops", "Op counts"), ("deployability", "Deployability"), ("history", "History"),
                  ("environment", "Machines"), ("problems", "Data problems"), ("method", "Method"))
_TOLERANCES = ", ".join(f"{str(k).replace('torch.', '')} {v:g}" for k, v in TOLERANCES.items())
#: The Method section of both pages.
METHOD_NOTES = (
    f"Paired ratios (ratios.Paired*): in one process per regime and mode, every strategy "
    f"is timed in short blocks with {BASELINE}'s, all reading the same tensors, in a "
    "shuffled order every round; a strategy's ratio is the median of its per-round time "
    f"over the baseline's, with a distribution-free 99% interval. {BASELINE}'s own cell "
    "is 1 by definition; the A/A column is the baseline against itself in the same rounds, "
    "the resolution of the grid.",
    "Faster / slower / tied / unresolved: the one rule, birnn_bench.compare.verdict: a regime "
    "decides only when its A/A's whole interval lies inside 1 ± 2% and it is not significant "
    "(else unresolved); then the "
    "99% interval excludes 1, or not. Tied with the fastest: the 99% intervals overlap.",
    "Correct: the error benchmark measured the strategy's max abs error against the float64 "
    "per-sequence oracle on the same machine and regime, within the dtype's tolerance "
    f"({_TOLERANCES}); not measured means not correct. Safe: correct on every condition of "
    "birnn-bench check; only a safe strategy is recommended, and the baseline unless a safe "
    "strategy is significantly faster.",
    "No table or figure mixes workloads: ratios are per regime, or a geometric mean over "
    "regimes where both strategies are correct, with the count. Absolute times "
    "(strategies.*.time_*) are kept for history only: strategies timed in different "
    "processes on a shared machine differ by the machine as much as by the code.",
    "History: see the History section for which changes count.",
)
NO_HISTORY = "Fewer than two commits measured on any machine: no history yet."
NO_PROBLEMS = "None: every results file the report uses was read in full."


def sources_text(c: Content) -> str:
    df = c.loaded.data
    machines = sorted(str(m) for m in df["machine"].dropna().unique())
    return (f"Results: {', '.join(c.sources)} ({len(c.loaded.files)} files); "
            f"{len(machines)} machine(s): {', '.join(machines)}; "
            f"{df['commit'].nunique()} commit(s)")


def _common(c: Content) -> dict[str, Any]:
    """What both templates are given."""
    return {"c": c, "baseline": BASELINE, "method_notes": METHOD_NOTES, "no_history": NO_HISTORY,
            "no_problems": NO_PROBLEMS, "v": {
                "sources": sources_text(c),
                "answer": views.answer_view(c.answer, c.agreement, c.differences, c.facts),
                "strategy_tables": fmt.strategy_tables(c.strategies, BASELINE,
                                                       c.check is not None)
                if not c.strategies.empty else []}}


def _correctness(c: Content) -> list[dict[str, Any]]:
    """Per machine and device: the error over the tolerance on every regime, and how many
    cells are wrong."""
    wide = tables.correctness_grid(c.correctness)
    parts = []
    for (machine, device_name, device), group in (wide.groupby(tables.DEVICE, sort=True)
                                                  if not wide.empty else []):
        shown = group.drop(columns=tables.DEVICE).rename(columns={"label": "regime"})
        shown = shown.dropna(axis=1, how="all")
        wrong = int(shown.iloc[:, 1:].astype(str).apply(lambda col: col.str.startswith("WRONG"))
                    .to_numpy().sum())
        parts.append({"title": fmt.device_title(machine, device_name, device), "table": shown,
                      "regimes": len(shown), "wrong": wrong,
                      "id": slug("correctness", machine, device)})
    return parts


def _compiled(compiled: pd.DataFrame) -> pd.DataFrame:
    if compiled.empty:
        return compiled
    return pd.DataFrame({
        "machine": compiled["machine"], "regime": compiled["label"],
        "strategy": compiled["strategy"], "compiled / eager": [
            num.ratio_interval(r, lo, hi) for r, lo, hi in zip(
                compiled["ratio"], compiled["low"], compiled["high"], strict=True)],
        "verdict": compiled["verdict"], "compile": compiled["compile_s"].map(num.seconds),
        "compiled output": ["right" if ok else "WRONG" for ok in compiled["correct"]]})


def _history(c: Content) -> dict[str, Any]:
    """The commits measured with their changes that count, the machines whose name held more
    than one hardware, and how many series are judged."""
    if not c.has_history:
        return {}
    commits, judged = c.commits, c.history[c.history["judged"]]
    hardware = c.history.drop_duplicates(["machine", "commit"]).set_index(
        ["machine", "commit"])["hardware"]
    mixed = hardware.groupby(level="machine").nunique()
    return {"mixed": [str(m) for m in mixed[mixed > 1].index],
            "judged": judged.groupby(["machine", "benchmark", "regime", "strategy",
                                      "variant"]).ngroups,
            "commits": pd.DataFrame({
                "machine": commits["machine"],
                "hardware": [hardware.get((m, k), "") for m, k in
                             zip(commits["machine"], commits["commit"], strict=True)],
                "commit": commits["commit"].astype(str).str[:8],
                "date": pd.to_datetime(commits["date"]).dt.strftime("%Y-%m-%d %H:%M"),
                "against": commits["previous_commit"].fillna("").astype(str).str[:8],
                "worse": commits["regressions"], "better": commits["improvements"],
                "what changed": commits["what"]})}


def render_html(c: Content, out_tables: dict[str, pd.DataFrame], png: dict[str, bytes],
                descriptions: dict[str, str]) -> str:
    """index.html; ``descriptions``: what each CSV table holds."""
    context = _common(c)
    known, summary = c.check is not None, None if c.check is None else c.check.summary
    deploy = c.deploy if c.deploy is not None and not c.deploy.empty else None
    context["v"].update(
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        conditions=max((int(i.get("total", 0)) for i in summary.values()), default=0)
        if summary else 0, sections=MAJOR_SECTIONS,
        grids=views.grid_views(c.grid, known, summary) if not c.grid.empty else [],
        without=sorted(set(map(str, c.loaded.data["machine"].dropna().unique()))
                       - {str(m) for m in c.grid["machine"].unique()}),
        correctness=_correctness(c), compiled=_compiled(c.compiled), history=_history(c),
        deploy_sources=deployability.deploy_sources(deploy) if deploy is not None else [],
        deploy_table=deployability.deploy_table(deploy),
        deploy_details=deployability.deploy_details(deploy),
        problem_kinds=problems.grouped(c.problems).rename(
            columns={"kind": "problem", "action": "what clears it"}))
    return render("report.html", **context, png=png, tables=out_tables,
                  descriptions=descriptions, legend=views.legend_html(),
                  resolved=f"{RESOLVED:.0%}")


def render_markdown(c: Content) -> str:
    """summary.md."""
    context = _common(c)
    known, summary = c.check is not None, None if c.check is None else c.check.summary
    changed = c.commits[(c.commits["regressions"] > 0) | (c.commits["improvements"] > 0)]
    context["v"].update(
        grids=[{"title": f"{fmt.device_title(machine, device_name, device)} · "
                         f"{MODE_LABELS.get(mode, mode)}",
                "commit": str(group["commit"].iloc[0])[:8],
                **dict(zip(("frame", "note"), views.grid_markdown(group, known, summary),
                           strict=True))}
               for (machine, device_name, device, mode), group in tables.grid_groups(c.grid)],
        changed=[{"commit": str(r.commit), "machine": r.machine, "what": r.what,
                  "previous_commit": str(r.previous_commit)} for r in changed.itertuples()],
        problem_kinds=problems.grouped(c.problems))
    return render("summary.md", **context, legend=fmt.GRID_LEGEND)
