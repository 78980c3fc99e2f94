"""What the templates of both pipelines are given for the parts they share: the Answer block
(``model.answer``: one line per machine, device, mode and cell; the machines' agreement; where
their ratios differ, with the hardware facts) and the Compare grids (each cell's marks, the
recommendation, the A/A). Pure: DataFrames in, plain dicts and DataFrames out."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd
from markupsafe import Markup

from analysis.model import numbers as num
from analysis.model import paired, tables
from analysis.model.answer import LINE_KEYS
from analysis.model.paired import MODE_LABELS
from analysis.render import format as fmt
from analysis.render.templates import inline_html, slug
from birnn_bench.strategies import BASELINE

#: Rows of the machines' differences shown on a page (the CSV holds them all).
SHOWN_DIFFERENCES = 15
DIFFERENCE_RULE = ("both machines measured correct, whose paired ratios differ by more than "
                   "their resolution: the quotient of the two 99% intervals lies beyond 1 ± the "
                   "larger of how far the two regimes' A/As reach from 1 (and the process-level "
                   "A/A of docs/resolution.json, when given)")
ANSWER_RULE = (f"Per machine, device, mode and cell: the recommended strategy (correct on every "
               f"condition of the check, and significantly faster than `{BASELINE}` in a regime "
               f"whose A/A resolves, else `{BASELINE}`) with its time over `{BASELINE}`'s and 99% "
               "interval; split by the workload axes where the recommendation changes.")


def answer_view(lines: pd.DataFrame, agreement: str, differences: pd.DataFrame,
                facts: pd.DataFrame) -> dict[str, Any]:
    """The Answer block (``answer.md``, ``report.html``): a heading per machine (name and
    hardware) and device with its lines, the agreement, the first ``SHOWN_DIFFERENCES``
    differences (mode, regime, strategy, one column per machine, how far apart) and the facts."""
    groups = [] if lines.empty else [
        {"id": slug("answer", machine, device), "rows": mine.to_dict("records"),
         "heading": f"{machine} · {hardware or 'hardware not recorded'} · {device}, commit "
                    f"{str(mine['commit'].iloc[0])[:8]}"}
        for (machine, hardware, device), mine in lines.groupby(
            ["machine", "hardware", "device"], sort=False)]
    shown = differences.head(SHOWN_DIFFERENCES)
    machines = [c for c in shown.columns if c not in ("mode", "regime", "label", "strategy",
                                                     "apart")]
    n = len(differences)
    return {"empty": lines.empty, "groups": groups, "rule": ANSWER_RULE, "agreement": agreement,
            "line_keys": LINE_KEYS, "difference_rule": DIFFERENCE_RULE, "facts": facts,
            "count": f"{n} cell{'s' if n != 1 else ''} (device, mode, regime, strategy)",
            "more": n - len(shown), "differences": pd.DataFrame({
                "mode": shown["mode"].map(lambda m: MODE_LABELS.get(m, m)).str.replace(
                    " (forward)", "", regex=False),
                "regime": shown["label"], "strategy": shown["strategy"],
                **{m: shown[m].fillna("—") for m in machines},
                "apart": shown["apart"].map(num.ratio)}) if n else pd.DataFrame()}


def legend_html() -> Markup:
    """``format.GRID_LEGEND`` with its Markdown marks as HTML (the recommended cell framed, tied
    cells shaded, the floor tagged)."""
    text = str(inline_html(fmt.GRID_LEGEND))
    text = text.replace("<b>Bold</b>", '<span class="pick">Framed, bold</span>', 1)
    text = re.sub(r"<s>(.+?)</s> ✗", r'<span class="wrong"><s>\1</s> ✗</span>', text, count=1)
    text = text.replace("≈:", '<span class="tied">≈</span> (shaded):', 1)
    return Markup(text.replace(f"; {fmt.FLOOR}:", f'; <span class="floor">{fmt.FLOOR}</span>:',
                               1))


def _cell(row: pd.Series, known: bool, summary: Mapping | None) -> dict[str, Any]:
    """One strategy's cell: framed and bold = recommended, shaded ≈ = a safe strategy tied with
    it, struck ✗ on grey = wrong here, † = right here but not safe, "floor" = the fastest
    measured here, a pitfall; the title says the interval, the error and why."""
    title = num.ratio_interval(row["ratio"], row["low"], row["high"])
    error = row.get("error", float("nan"))
    if isinstance(error, int | float) and math.isfinite(error):
        title += f"; error {error:.2g}"
    classes, tied = ["c"], False
    if not row["correct"]:
        classes.append("wrong")
        title += "; wrong here"
    elif known and row["recommended"]:
        classes.append("pick")
        title += "; recommended"
    elif known and row.get("tied_with_recommended", False):
        classes.append("tied")
        tied = True
    dagger = known and bool(row["correct"]) and not bool(row["safe"])
    if dagger:
        title += "; not safe: " + fmt.why_pitfall(str(row["strategy"]), summary)
    floor = known and fmt.is_floor_pitfall(row)
    if floor:
        title += "; the floor: fastest measured here, never a choice"
    return {"classes": " ".join(classes), "strategy": row["strategy"], "title": title,
            "ratio": num.ratio(row["ratio"]), "wrong": not row["correct"], "tied": tied,
            "dagger": dagger, "floor": floor}


def _recommended(pick: pd.Series | None, known: bool) -> dict[str, Any]:
    if not known:
        return {"text": "— (no check file)"}
    if pick is None:
        return {"text": "none: no safe strategy correct here"}
    name, how = fmt.recommended_text(pick)
    name, _, interval = name.partition(" ")
    return {"text": "", "name": name, "how": how, "interval": interval,
            "unresolved": how.startswith("unresolved")}


def grid_views(grid: pd.DataFrame, known: bool,
               summary: Mapping | None = None) -> list[dict[str, Any]]:
    """Every grid of index.html (machine, device, mode; ``compare_grid.html``): its title, its
    strategies (registry order) and per regime the cells, the recommendation (safe strategies
    only) and the baseline's A/A (marked when it leaves the regime unresolved)."""
    views = []
    for (machine, device_name, device, mode), group in tables.grid_groups(grid):
        order = paired.strategy_order(group["strategy"])
        rows = []
        for regime, at in group.groupby("regime", sort=False):
            cells = {r["strategy"]: _cell(r, known, summary) for _, r in at.iterrows()}
            picked = at[at["recommended"]]
            aa = at[at["strategy"] == BASELINE]
            rows.append({"regime": regime, "label": at.iloc[0]["label"],
                         "cells": [cells.get(n) for n in order],
                         "recommended": _recommended(None if picked.empty else picked.iloc[0],
                                                     known),
                         "aa": num.interval(aa.iloc[0]["aa_low"], aa.iloc[0]["aa_high"])
                         if not aa.empty else "", "resolved": bool(at["resolved"].iloc[0])})
        views.append({"id": slug("grid", machine, device, mode), "order": order, "rows": rows,
                      "title": f"{fmt.device_title(machine, device_name, device)} · "
                               f"{MODE_LABELS.get(mode, mode)}",
                      "commit": str(group["commit"].iloc[0])[:8],
                      "regimes": group["regime"].nunique(),
                      "note": fmt.floor_notes(group, summary) if known else ""})
    return views


def grid_markdown(group: pd.DataFrame, known: bool,
                  summary: Mapping | None = None) -> tuple[pd.DataFrame, str]:
    """(``format.grid_frame`` of one machine, device and mode, its floor note); without a check
    no cell gets a dagger or a floor, and nothing is recommended."""
    if known:
        return fmt.grid_frame(group), fmt.floor_notes(group, summary)
    frame = fmt.grid_frame(group.assign(safe=True, recommended=False,
                                        tied_with_recommended=False, floor=False))
    frame["recommended"] = "— (no check file)"
    frame[f"vs {BASELINE}"] = ""
    return frame, ""
