"""The report's figures: a tidy long-form table in, a matplotlib Figure out (no files).

One colour per strategy in every figure (``colours``, fixed whatever subset a figure shows); a
strategy that is not safe (fails a condition of the correctness check) carries a † in its label
(and is drawn dashed where it is a line: the history), a value measured WRONG on its regime is
grey and crossed out, the recommended cell framed. The legends say what each figure draws."""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Collection, Iterable, Iterator
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from analysis.model.paired import strategy_order
from analysis.render.format import DAGGER, device_title, is_floor_pitfall
from birnn_bench.strategies import BASELINE, STRATEGIES

#: Indices into seaborn's colour-blind palette (and its dark twin after it): its grey and yellow
#: are left out (grey reads as "disabled", yellow vanishes on white).
_PALETTE_INDICES = (0, 1, 2, 3, 4, 5, 6, 9)
#: Ratios: faster than the baseline blue, slower orange (safe for the common deficiencies).
DIVERGING = "RdBu_r"
WRONG_COLOUR, WRONG_HATCH = "#bdbdbd", "xx"
UNSAFE_DASHES = (0, (4, 2))
#: Bar panels side by side at most (more wrap to the next row of panels).
PANELS_PER_ROW = 4
#: The colour range of every ratio panel is at least +-this many doublings.
MIN_LOG2_RANGE = 0.5


def colours(names: Iterable[str] = ()) -> dict[str, tuple[float, float, float]]:
    """Strategy -> colour: the registry's strategies always get the same colour, each its own;
    other names (in ``names``) get the colours after them, in the order given."""
    order = list(STRATEGIES) + [n for n in dict.fromkeys(names) if n not in STRATEGIES]
    pool = [sns.color_palette(name, 10)[i] for name in ("colorblind", "dark")
            for i in _PALETTE_INDICES]
    if len(order) > len(pool):  # more strategies than 16: evenly spaced hues after them
        pool += sns.color_palette("husl", len(order) - len(pool))
    return dict(zip(order, pool, strict=False))


def unsafe(names: Iterable[str], safe: Collection[str] | None) -> set[str]:
    """The strategies marked as not safe: not in ``safe`` (None: no check, so none)."""
    return set() if safe is None else {n for n in names if n not in safe}


def style_legend(safe: Collection[str] | None, wrong: bool = True) -> list[Patch | Line2D]:
    """Legend handles for a figure of lines: dashed (not safe) and grey (wrong)."""
    handles: list[Patch | Line2D] = []
    if safe is not None:
        handles.append(Line2D([], [], color="0.3", linestyle=UNSAFE_DASHES, linewidth=1.5,
                              label="dashed: not safe (fails a condition of the check)"))
    if wrong:
        handles.append(Patch(facecolor=WRONG_COLOUR, hatch=WRONG_HATCH, edgecolor="0.35",
                             label="grey, crossed: wrong on that regime"))
    return handles


@contextlib.contextmanager
def _style() -> Iterator[None]:
    with sns.axes_style("white"), sns.plotting_context("notebook", font_scale=0.85), \
            warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
        yield


def ratio_bound(g: pd.DataFrame) -> float:
    """The symmetric log2 colour range for ratio panels: the largest doubling of any CORRECT
    cell of ``g`` (at least ``MIN_LOG2_RANGE``). Pass the same bound to every panel."""
    values = g.loc[g["correct"].astype(bool), "ratio"]
    logs = [abs(math.log2(v)) for v in values if v is not None and np.isfinite(v) and v > 0]
    return max([MIN_LOG2_RANGE, *logs])


def wrap_name(name: str, width: int = 10) -> str:
    """A strategy name on two lines at the underscore nearest its middle when it is long."""
    if len(name) <= width or "_" not in name:
        return name
    cut = min((i for i, ch in enumerate(name) if ch == "_"), key=lambda i: abs(i - len(name) / 2))
    return name[:cut + 1] + "\n" + name[cut + 1:]


def pitfall_legend(safe: Collection[str] | None, wrong: bool = True) -> list[Patch]:
    """Legend entries for what the ratio and bar figures draw: † (a label mark), grey and
    crossed (a wrong value), the recommended frame."""
    handles = []
    if safe is not None:
        handles.append(Patch(facecolor="none", edgecolor="none",
                             label=f"{DAGGER} not safe: fails a condition of the check"))
    if wrong:
        handles.append(Patch(facecolor=WRONG_COLOUR, hatch=WRONG_HATCH, edgecolor="0.35",
                             label="grey, crossed: wrong on that regime"))
    return handles


def ratio_heatmap(g: pd.DataFrame, title: str, bound: float | None = None,
                  safe: Collection[str] | None = None, baseline: str = BASELINE) -> Figure:
    """Regimes x strategies of ONE mode (``analysis.model.paired.grid`` rows), one panel per machine
    and device: each strategy's time over ``baseline``'s on a symmetric log colour scale
    (``bound`` doublings either way, shared by every panel); the recommended cell framed and
    bold, the floor pitfall tagged, an unresolved regime named so. Laid out in inches, so every
    row and column has the same size whatever the number of panels."""
    bound = ratio_bound(g) if bound is None else bound
    panels = list(g.groupby(["machine", "device_name", "device"], sort=True, observed=True))
    order = strategy_order(g["strategy"])
    pitfalls = unsafe(order, safe)
    cmap, norm = plt.get_cmap(DIVERGING), TwoSlopeNorm(vcenter=0.0, vmin=-bound, vmax=bound)
    col_w, row_h = 0.95, 0.4

    def ylabel(row: Any) -> str:
        return str(row["label"]) + ("" if bool(row.get("resolved", True)) else "  (unresolved)")

    labels_of = [[ylabel(r) for _, r in group.drop_duplicates("regime").iterrows()]
                 for _, group in panels]
    left = 0.35 + 0.062 * max(len(x) for labels in labels_of for x in labels)
    top_title, panel_head, gap, bottom = 0.45, 0.75, 0.25, 1.35  # bottom: colour bar, legend
    width = left + col_w * len(order) + 0.3
    height = top_title + sum(panel_head + row_h * len(n) + gap for n in labels_of) + bottom
    with _style():
        fig = plt.figure(figsize=(width, height))
        y = height - top_title
        for labels, ((machine, device_name, device), group) in zip(labels_of, panels,
                                                                   strict=True):
            n = len(labels)
            y -= panel_head + row_h * n
            ax = fig.add_axes((left / width, y / height, col_w * len(order) / width,
                               row_h * n / height))
            regimes = list(dict.fromkeys(group["regime"]))
            ax.set(xlim=(0, len(order)), ylim=(n, 0))
            for row in group.itertuples(index=False):
                _ratio_cell(ax, order.index(row.strategy), regimes.index(row.regime), row, cmap,
                            norm, safe is not None)
            ax.set_yticks(np.arange(n) + 0.5, labels)
            ax.set_xticks(np.arange(len(order)) + 0.5,
                          [wrap_name(n) + (f" {DAGGER}" if n in pitfalls else "") for n in order])
            ax.xaxis.tick_top()
            ax.tick_params(axis="x", labelsize=8, length=0, pad=3)
            ax.tick_params(axis="y", length=0, labelsize=9)
            ax.spines[:].set_visible(False)
            fig.text(0.1 / width, (y + row_h * n + panel_head - 0.12) / height,
                     device_title(machine, device_name, device), fontsize=10, va="top")
            y -= gap
        bar_ax = fig.add_axes((left / width, 1.0 / height, col_w * len(order) / width,
                               0.16 / height))
        bar = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), cax=bar_ax,
                           orientation="horizontal")
        inside = [r for r in (0.1, 0.25, 0.5, 0.67, 0.8, 1.0, 1.25, 1.5, 2.0, 4.0, 10.0)
                  if abs(math.log2(r)) <= bound + 1e-9]
        bar.set_ticks([math.log2(r) for r in inside], labels=[f"{r:g}×" for r in inside])
        bar.ax.tick_params(labelsize=8)
        bar.set_label(f"time over {baseline}'s, paired per round (log scale; < 1 is faster; "
                      "shared by every panel)", fontsize=8)
        handles: list[Patch] = []
        if safe is not None:
            handles.append(Patch(facecolor="white", edgecolor="black", linewidth=2.2,
                                 label="framed, bold: recommended"))
        handles += pitfall_legend(safe)
        if safe is not None:
            handles.append(Patch(facecolor="none", edgecolor="none",
                                 label="floor: fastest measured, a pitfall (never a choice)"))
        fig.legend(handles=handles, loc="lower left", ncol=2, frameon=False,
                   bbox_to_anchor=(0.1 / width, 0.0), fontsize=8, handlelength=1.4)
        fig.text(0.1 / width, (height - 0.15) / height, title, fontsize=12, va="top")
    return fig


def _ratio_cell(ax: plt.Axes, x: int, y: int, row: Any, cmap: Any, norm: Any,
                checked: bool) -> None:
    ratio = float(row.ratio)
    text = f"{ratio:.2f}×" if ratio < 10 else f"{ratio:.1f}×"
    picked = checked and bool(row.recommended)
    floor = checked and is_floor_pitfall(row._asdict())
    if not bool(row.correct):
        ax.add_patch(plt.Rectangle((x, y), 1, 1, facecolor=WRONG_COLOUR, hatch=WRONG_HATCH,
                                   edgecolor="white", linewidth=0))
        ax.text(x + 0.5, y + 0.5, f"wrong {text}" + ("\nfloor" if floor else ""), ha="center",
                va="center", fontsize=7, color="0.1",
                bbox={"facecolor": WRONG_COLOUR, "edgecolor": "none", "pad": 0.5})
        return
    colour = cmap(norm(math.log2(ratio)))
    ax.add_patch(plt.Rectangle((x, y), 1, 1, facecolor=colour, edgecolor=colour, linewidth=0))
    if picked:  # inside the cell, so that neighbours never cover the frame
        ax.add_patch(plt.Rectangle((x + 0.04, y + 0.06), 0.92, 0.88, facecolor="none",
                                   edgecolor="black", linewidth=2.2))
    dark = sum(colour[:3]) / 3 < 0.45
    ax.text(x + 0.5, y + 0.5, text + ("\nfloor" if floor else ""), ha="center", va="center",
            fontsize=8 if not floor else 7, fontweight="bold" if picked else "normal",
            color="white" if dark else "black")


def _same_values(devices: list[tuple[tuple, pd.DataFrame]]) -> list[tuple[list[tuple],
                                                                            pd.DataFrame]]:
    """Machines (and devices) whose every value is the same drawn once: (their keys, rows)."""
    merged: list[tuple[list[tuple], pd.DataFrame]] = []
    for keys, group in devices:
        values = group[["label", "strategy", "relative", "correct"]].sort_values(
            ["label", "strategy"]).reset_index(drop=True)
        for seen, rows in merged:
            other = rows[["label", "strategy", "relative", "correct"]].sort_values(
                ["label", "strategy"]).reset_index(drop=True)
            if values.equals(other):
                seen.append(keys)
                break
        else:
            merged.append(([keys], group))
    return merged


def relative_bars(frame: pd.DataFrame, quantity: str, baseline: str = BASELINE,
                  safe: Collection[str] | None = None) -> Figure:
    """One deterministic ``quantity`` (e.g. "peak memory of one forward") per regime relative
    to ``baseline``'s: one panel per strategy but the baseline, one row of panels per machine
    and device (machines with identical values drawn once, named together); bars run from 1
    (equal) on a linear axis, each labelled with its value; a strategy equal to the baseline on
    every regime says so instead of drawing nothing."""
    rows = frame[(frame["strategy"] != baseline) & frame["relative"].notna()]
    if rows.empty:  # a small figure that says so
        fig = plt.figure(figsize=(6, 1.2))
        fig.text(0.5, 0.5, f"{quantity}: nothing measured against {baseline}", ha="center",
                 va="center")
        return fig
    order = strategy_order(rows["strategy"])
    pitfalls, palette = unsafe(order, safe), colours(order)
    devices = _same_values(list(rows.groupby(["machine", "device_name", "device"], sort=True,
                                             observed=True)))
    top = max(2.0, float(rows["relative"].max()) * 1.35)
    # laid out in inches: every row of bars the same height whatever the number of panels;
    # at most PANELS_PER_ROW panels side by side, so that the figure reads at page width
    left = 0.3 + 0.068 * max(len(str(x)) for x in rows["label"])
    panel_w, sep, head, gap, bottom, title = 1.55, 0.3, 0.62, 0.42, 0.95, 0.45
    chunks = [order[i:i + PANELS_PER_ROW] for i in range(0, len(order), PANELS_PER_ROW)]
    sizes = [0.3 * group["label"].nunique() + 0.1 for _, group in devices]
    width = left + min(len(order), PANELS_PER_ROW) * (panel_w + sep)
    height = title + sum(head + len(chunks) * (h + gap) for h in sizes) + bottom
    with _style():
        fig = plt.figure(figsize=(width, height))
        y = height - title
        for size, (keys, group) in zip(sizes, devices, strict=True):
            names = " = ".join(device_title(*k) for k in keys)
            fig.text(0.1 / width, (y - 0.12) / height, names + (
                " (identical values, drawn once)" if len(keys) > 1 else ""), fontsize=9,
                fontweight="bold", va="top")
            y -= head - 0.3
            labels = list(dict.fromkeys(group["label"]))
            for chunk in chunks:
                y -= 0.3 + size
                for c, name in enumerate(chunk):
                    ax = fig.add_axes(((left + c * (panel_w + sep)) / width, y / height,
                                       panel_w / width, size / height))
                    _bar_panel(ax, group[group["strategy"] == name].set_index("label"), labels,
                               palette[name], top)
                    if c:
                        ax.tick_params(axis="y", labelleft=False)
                    ax.set_title(name + (f" {DAGGER}" if name in pitfalls else ""),
                                 fontsize=9, fontweight="bold", color="0.1")
                y -= gap
        fig.text(0.5, 0.62 / height, f"{quantity} / {baseline}'s (linear; dotted: equal)",
                 ha="center", fontsize=9)
        handles = pitfall_legend(safe, wrong=bool((~rows["correct"].astype(bool)).any()))
        if handles:
            fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False,
                       bbox_to_anchor=(0.5, 0.0), fontsize=8)
        fig.text(0.1 / width, (height - 0.12) / height, f"{quantity[:1].upper()}"
                 f"{quantity[1:]} per regime, relative to {baseline}", fontsize=12, va="top")
    return fig


def _bar_panel(ax: plt.Axes, mine: pd.DataFrame, labels: list[str], colour: Any,
               top: float) -> None:
    """One strategy's bars (from 1) with their values; "n/a" where not measured; a note where
    it equals the baseline on every regime."""
    ax.set(xlim=(0, top))
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.tick_params(axis="y", length=0)
    ax.tick_params(axis="x", labelsize=7)
    ax.xaxis.set_major_locator(mticker.MaxNLocator(nbins=4))
    ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _p: f"{v:g}×"))
    ax.grid(axis="x", color="0.9")
    ax.axvline(1.0, color="0.3", linestyle=":", linewidth=1)
    if not mine.empty and (mine["relative"] == 1.0).all() and len(mine) == len(labels):
        ax.text(top / 2, (len(labels) - 1) / 2, "equal to the baseline\non every regime",
                ha="center", va="center", fontsize=7.5, color="0.25",
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
        return
    for y, label in enumerate(labels):
        if label not in mine.index:
            ax.text(1.0, y, " n/a (not measured)", va="center", fontsize=7, color="0.3")
            continue
        value, correct = float(mine.loc[label, "relative"]), bool(mine.loc[label, "correct"])
        ax.barh(y, value - 1.0, left=1.0, height=0.7,
                color=colour if correct else WRONG_COLOUR, hatch=None if correct else WRONG_HATCH,
                edgecolor="0.35" if not correct else "none", linewidth=0.8)
        shown = f"{value:.2f}×" if value >= 0.1 else f"{value:.2g}×"  # 0.0042×, never 0.00×
        if value >= 1.0:
            ax.text(value + 0.015 * top, y, shown, ha="left", va="center", fontsize=7)
        elif value > 0.3 * top:
            ax.text(value - 0.015 * top, y, shown, ha="right", va="center", fontsize=7)
        else:  # a long bar to the left: the value inside it, where there is room
            ax.text(value + 0.02 * top, y, shown, ha="left", va="center", fontsize=7,
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.6})


