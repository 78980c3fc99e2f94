"""The Compare grid's words, defined once: its legend, the text of a cell (Markdown marks), the
floor notes, the recommendation, the per-strategy tables. Pure: rows or DataFrames in, text or
DataFrames out."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from analysis.model.numbers import interval, ratio
from analysis.model.paired import MODE_LABELS, regime_label, strategy_order
from birnn_bench.strategies import BASELINE, STRATEGIES

DAGGER = "†"
FLOOR = "floor"
#: The grid's legend, word for word wherever the grid is shown.
GRID_LEGEND = (f"Cells: each strategy's time over {BASELINE}'s, paired per round in one process "
               f"(median of per-round ratios; < 1 is faster). **Bold**: the recommended "
               f"strategy (safe, and significantly faster than {BASELINE} in a regime whose A/A "
               f"resolves; else {BASELINE}); ≈: a safe strategy statistically tied with it (99% "
               f"intervals overlap); ~~struck~~ ✗: wrong on that regime (error against the "
               f"float64 oracle above tolerance); {DAGGER}: right on that regime but not on every "
               f"condition of the correctness check, so never recommended; {FLOOR}: the fastest "
               f"strategy measured there, a pitfall (wrong there, or not safe): a lower bound, "
               f"never a choice. {BASELINE}'s own cell is 1 by definition; the A/A column is its "
               f"measured resolution (against itself in the same rounds): a regime whose A/A "
               f"reaches beyond 1 ± 2% or excludes 1 decides nothing (unresolved, {BASELINE} "
               f"stays).")


def is_floor_pitfall(row: pd.Series) -> bool:
    """The row is its regime's floor (fastest measured) and a pitfall there: not recommended,
    and wrong there or not safe."""
    return bool(row.get("floor", False)) and not bool(row["recommended"]) and not (
        bool(row["correct"]) and bool(row["safe"]))


def grid_cell(row: pd.Series) -> str:
    """One cell of the Compare grid (``paired.grid`` row): bold only the recommended."""
    text = ratio(row["ratio"])
    if not row["correct"]:
        text = f"~~{text}~~ ✗"
    elif row["recommended"]:
        text = f"**{text}**"
    elif row.get("tied_with_recommended", False):
        text = f"{text} ≈"
    if row["correct"] and not row["safe"]:
        text += f" {DAGGER}"
    return f"{text} {FLOOR}" if is_floor_pitfall(row) else text


def why_pitfall(name: str, summary: Mapping[str, Mapping] | None = None) -> str:
    """Why a strategy is never recommended: the conditions of the check it fails (``summary``:
    ``birnn-bench check --json``'s) and the registry's reason."""
    info = (summary or {}).get(name) or {}
    fails = (f"fails {int(info['total']) - int(info['passed'])} of {int(info['total'])} "
             "conditions of the check") if info.get("total") else "not correct everywhere"
    because = STRATEGIES[name].wrong_because if name in STRATEGIES else ""
    return f"{fails}: {because}" if because else fails


def floor_notes(g: pd.DataFrame, summary: Mapping[str, Mapping] | None = None) -> str:
    """One sentence under a grid (one machine, device and mode): each pitfall that is some
    regime's floor, in how many regimes, and why it is wrong."""
    floors = g[[is_floor_pitfall(r) for _, r in g.iterrows()]] if not g.empty else g
    if floors.empty:
        return ""
    counts = floors.groupby("strategy", sort=False)["regime"].nunique()
    return f"{FLOOR.capitalize()}: " + "; ".join(
        f"`{name}` in {n} regime{'s' if n != 1 else ''} ({why_pitfall(name, summary)})"
        for name, n in counts.reindex(strategy_order(counts.index)).items()) + "."


def recommended_text(best: pd.Series | None) -> tuple[str, str]:
    """(the recommended strategy with its interval, its outcome against the baseline) of one
    regime's recommended grid row (None: no safe strategy correct there)."""
    if best is None:
        return "none correct", ""
    if best["strategy"] != BASELINE:
        return f"`{best['strategy']}` {interval(best['low'], best['high'])}", best["verdict"]
    return f"`{BASELINE}`", "safe default" if best["resolved"] else "unresolved"


def grid_frame(g: pd.DataFrame) -> pd.DataFrame:
    """The grid of ONE machine, device and mode: rows regimes, columns strategies, then the
    recommendation with its interval, its verdict against the baseline and the A/A."""
    if g.empty:
        return pd.DataFrame()
    order = strategy_order(g["strategy"])
    rows = []
    for _, group in g.groupby("regime", sort=False):
        cells = {row["strategy"]: grid_cell(row) for _, row in group.iterrows()}
        pick = group[group["recommended"]]
        aa = group[group["strategy"] == BASELINE]
        row = {"regime": regime_label(group.iloc[0]), **{n: cells.get(n, "") for n in order}}
        row["recommended"], row[f"vs {BASELINE}"] = recommended_text(
            None if pick.empty else pick.iloc[0])
        row["A/A"] = interval(aa.iloc[0]["aa_low"], aa.iloc[0]["aa_high"]) if not aa.empty else ""
        rows.append(row)
    return pd.DataFrame(rows)


def device_title(machine: str, device_name: str, device: str) -> str:
    return f"{machine} · {device_name} ({device})"


def strategy_tables(summary: pd.DataFrame, baseline: str, checked: bool
                    ) -> list[tuple[str, pd.DataFrame]]:
    """``tables.strategy_summary`` as both pages show it: (title, table) per machine, device
    and mode; "recommended in" is a dash when no check said which strategies are safe."""
    out = []
    for (machine, device_name, device, mode), group in summary.groupby(
            ["machine", "device_name", "device", "mode"], sort=True):
        shown = pd.DataFrame({
            "strategy": group["strategy"],
            "correct in": group["correct"].astype(str) + "/" + group["regimes"].astype(str),
            "fastest correct or tied in": group["fastest or tied"].astype(str),
            "recommended in": group["recommended"].astype(str) if checked else "— (no check)",
            f"time over {baseline}'s (geomean)": [
                "" if not n else f"{ratio(v)} over {n}"
                for v, n in zip(group["ratio_geomean"], group["geomean_over"], strict=True)],
            # blank for a strategy a newer suite measured and this checkout does not know
            "what it does": [STRATEGIES[n].description if n in STRATEGIES else ""
                             for n in group["strategy"]]})
        out.append((f"{device_title(machine, device_name, device)} · "
                    f"{MODE_LABELS.get(mode, mode)}", shown))
    return out

