"""The history figure: per series (a machine name on one hardware) the changes that count per
commit and one line per strategy, over the commits that have points only. A table in
(``analysis.model.history.lines``, ``per_commit``), a matplotlib Figure out (no files)."""

from __future__ import annotations

import math
from collections.abc import Collection

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.model.paired import strategy_order
from analysis.render.figures import UNSAFE_DASHES, _style, colours, style_legend, unsafe
from analysis.render.format import DAGGER


def value_formatter(low: float, high: float) -> mticker.Formatter:
    """Tick labels that differ from one tick to the next: a unit prefix for large values
    (12.42M, not 1.242e+07) with as many decimals as the tick step needs."""
    scale, unit = next(((s, u) for s, u in ((1e9, "G"), (1e6, "M"), (1e3, "k"))
                        if max(abs(low), abs(high)) >= s), (1.0, ""))
    ticks = mticker.MaxNLocator(nbins=5).tick_values(low, high)
    step = float(np.min(np.diff(ticks))) / scale if len(ticks) > 1 else 1.0
    decimals = max(0, math.ceil(-math.log10(step))) if step > 0 else 0
    return mticker.FuncFormatter(lambda v, _p: f"{v / scale:.{decimals}f}{unit}")


def history(changes: pd.DataFrame, lines: pd.DataFrame, line_label: str,
            safe: Collection[str] | None = None) -> Figure:
    """One column per series of ``lines`` (machine and hardware) with two commits or more, its
    x axis those commits only (oldest first, by commit date): above, the changes flagged there
    (``changes``, per machine and commit: regressions up, improvements down); below, one line per
    strategy (dashed: not safe). A machine name that held two hardware is two columns, named."""
    counts = lines.groupby(["machine", "hardware"])["commit"].nunique()
    series = sorted(counts[counts >= 2].index)
    names = lines["strategy"].unique()
    pitfalls, palette = unsafe(names, safe), colours(names)
    widths = [max(4.5, 1.6 + 0.62 * counts[s]) for s in series]
    with _style():
        fig, axes = plt.subplots(2, len(series), squeeze=False, sharex="col",
                                 figsize=(max(7.5, sum(widths) + 0.6), 6.6),
                                 gridspec_kw={"height_ratios": [1, 2.4], "width_ratios": widths})
        for c, (machine, hardware) in enumerate(series):
            mine = lines[(lines["machine"] == machine) & (lines["hardware"] == hardware)]
            commits = (mine.drop_duplicates("commit").assign(
                _date=pd.to_datetime(mine.drop_duplicates("commit")["date"], utc=True))
                .sort_values(["_date", "commit"]))
            position = {commit: i for i, commit in enumerate(commits["commit"])}
            flagged = changes[(changes["machine"] == machine)
                              & changes["commit"].isin(position)].set_index("commit")
            counts_at = flagged[["regressions", "improvements"]].reindex(list(position))
            _changes_panel(axes[0, c], counts_at.fillna(0))
            shared = sum(1 for m, _ in series if m == machine) > 1
            axes[0, c].set_title(f"{machine} · {hardware}" + (
                "\n(this name also holds other hardware: series split)" if shared else ""),
                loc="left", fontsize=9)
            bottom = axes[1, c]
            for name in strategy_order(mine["strategy"]):
                line = mine[mine["strategy"] == name]
                line = line.assign(x=line["commit"].map(position)).sort_values("x")
                bottom.plot(line["x"], line["value"], marker="o", markersize=3.5,
                            color=palette[name],
                            label=name + (f" {DAGGER}" if name in pitfalls else ""),
                            linestyle=UNSAFE_DASHES if name in pitfalls else "solid",
                            linewidth=1.4)
            low, high = float(mine["value"].min()), float(mine["value"].max())
            pad = (high - low) * 0.08 or abs(high) * 0.01 or 1.0
            bottom.set_ylim(low - pad, high + pad)
            bottom.yaxis.set_major_locator(mticker.MaxNLocator(nbins=5))
            bottom.yaxis.set_major_formatter(value_formatter(low - pad, high + pad))
            bottom.tick_params(axis="y", labelsize=7)
            bottom.set_ylabel(line_label if c == 0 else "", fontsize=8)
            bottom.grid(axis="y", color="0.92")
            labels = [f"{str(h)[:8]}\n{d:%m-%d}" for h, d in
                      zip(commits["commit"], commits["_date"], strict=True)]
            bottom.set_xticks(range(len(labels)), labels, fontfamily="monospace", fontsize=7)
            bottom.set_xlim(-0.6, len(labels) - 0.4)
            bottom.set_xlabel("commit and date (oldest left)", fontsize=8)
        handles = axes[1, 0].get_legend_handles_labels()[0] + style_legend(safe, wrong=False)
        fig.legend(handles=handles, loc="upper center", ncol=min(5, len(handles)),
                   frameon=False, fontsize=8, bbox_to_anchor=(0.5, 0.0))
        fig.suptitle("History across commits (commits with points only)", x=0.01, ha="left",
                     fontsize=12)
        fig.tight_layout()
    return fig


def _changes_panel(top: plt.Axes, flagged: pd.DataFrame) -> None:
    """Changes flagged per commit: regressions up (red), improvements down (blue), counted."""
    x = np.arange(len(flagged))
    up, down = flagged["regressions"].astype(int), flagged["improvements"].astype(int)
    top.bar(x, up, color="#a50f15", width=0.6)
    top.bar(x, -down, color="#08519c", width=0.6)
    for i, (u, d) in enumerate(zip(up, down, strict=True)):
        if u:
            top.text(i, u, str(u), ha="center", va="bottom", fontsize=7)
        if d:
            top.text(i, -d, str(d), ha="center", va="top", fontsize=7)
    top.axhline(0, color="0.3", linewidth=0.8)
    peak = max(1, int(up.max() if len(up) else 0), int(down.max() if len(down) else 0))
    top.set_ylim(-peak * 1.35, peak * 1.35)
    top.yaxis.set_major_locator(mticker.MaxNLocator(integer=True, nbins=4))
    top.yaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _p: f"{abs(v):g}"))
    top.set_ylabel("changes that count\n(up: worse)", fontsize=8)
    top.grid(axis="y", color="0.92")
