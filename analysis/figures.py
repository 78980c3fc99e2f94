"""The report's figures: a tidy long-form table in, a matplotlib Figure out (no files).

One colour per strategy in every figure (``colours``, fixed whatever subset a figure shows); a
strategy that is not safe (fails a condition of the correctness check) is drawn dashed, and a
value measured WRONG on its regime grey and crossed out. The legends say so."""

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

from analysis.format import device_title, strategy_order
from birnn_bench.strategies import BASELINE, STRATEGIES

#: Indices into seaborn's colour-blind palette (and its dark twin after it): its grey and yellow
#: are left out (grey reads as "disabled", yellow vanishes on white).
_PALETTE_INDICES = (0, 1, 2, 3, 4, 5, 6, 9)
#: Ratios: faster than the baseline blue, slower orange (safe for the common deficiencies).
DIVERGING = "RdBu_r"
WRONG_COLOUR, WRONG_HATCH = "#bdbdbd", "xx"
UNSAFE_DASHES = (0, (4, 2))
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
    """The strategies drawn dashed: not in ``safe`` (None: no check, so none)."""
    return set() if safe is None else {n for n in names if n not in safe}


def style_legend(safe: Collection[str] | None, wrong: bool = True) -> list[Patch | Line2D]:
    """Legend handles for the two markings shared by every figure."""
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


def ratio_heatmap(g: pd.DataFrame, title: str, bound: float | None = None,
                  safe: Collection[str] | None = None, baseline: str = BASELINE) -> Figure:
    """Regimes x strategies of ONE mode (``analysis.paired.grid`` rows), one panel per machine
    and device: each strategy's time over ``baseline``'s on a symmetric log colour scale
    (``bound`` doublings either way, shared by every panel). Laid out in inches, so every row
    and column has the same size whatever the number of panels."""
    bound = ratio_bound(g) if bound is None else bound
    panels = list(g.groupby(["machine", "device_name", "device"], sort=True, observed=True))
    order = strategy_order(g["strategy"])
    pitfalls, palette = unsafe(order, safe), colours(order)
    cmap, norm = plt.get_cmap(DIVERGING), TwoSlopeNorm(vcenter=0.0, vmin=-bound, vmax=bound)
    col_w, row_h = 0.95, 0.34
    left = 0.35 + 0.062 * max(len(str(x)) for x in g["label"])
    top_title, panel_head, gap, bottom = 0.45, 0.75, 0.25, 1.15  # bottom: colour bar, legend
    rows = [group["label"].nunique() for _, group in panels]
    width = left + col_w * len(order) + 0.3
    height = top_title + sum(panel_head + row_h * n + gap for n in rows) + bottom
    with _style():
        fig = plt.figure(figsize=(width, height))
        y = height - top_title
        for n, ((machine, device_name, device), group) in zip(rows, panels, strict=True):
            y -= panel_head + row_h * n
            ax = fig.add_axes((left / width, y / height, col_w * len(order) / width,
                               row_h * n / height))
            labels = list(dict.fromkeys(group["label"]))
            ax.set(xlim=(0, len(order)), ylim=(len(labels), 0))
            for row in group.itertuples(index=False):
                _ratio_cell(ax, order.index(row.strategy), labels.index(row.label), row, cmap,
                            norm)
            ax.set_yticks(np.arange(len(labels)) + 0.5, labels)
            ax.set_xticks(np.arange(len(order)) + 0.5,
                          [wrap_name(n) + (" †" if n in pitfalls else "") for n in order])
            ax.xaxis.tick_top()
            ax.tick_params(axis="x", labelsize=8, length=0, pad=3)
            ax.tick_params(axis="y", length=0, labelsize=9)
            for name, label in zip(order, ax.get_xticklabels(), strict=True):
                label.set(color=palette[name], fontweight="bold")
            ax.spines[:].set_visible(False)
            fig.text(0.1 / width, (y + row_h * n + panel_head - 0.12) / height,
                     device_title(machine, device_name, device), fontsize=10, va="top")
            y -= gap
        bar_ax = fig.add_axes((left / width, 0.8 / height, col_w * len(order) / width,
                               0.16 / height))
        bar = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), cax=bar_ax,
                           orientation="horizontal")
        inside = [r for r in (0.1, 0.25, 0.5, 0.67, 0.8, 1.0, 1.25, 1.5, 2.0, 4.0, 10.0)
                  if abs(math.log2(r)) <= bound + 1e-9]
        bar.set_ticks([math.log2(r) for r in inside], labels=[f"{r:g}×" for r in inside])
        bar.ax.tick_params(labelsize=8)
        bar.set_label(f"time over {baseline}'s, paired per round (log scale; < 1 is faster; "
                      "shared by every panel)", fontsize=8)
        handles = style_legend(safe)
        handles.append(Patch(facecolor="white", edgecolor="black", linewidth=1.6,
                             label="bold, framed: fastest correct"))
        fig.legend(handles=handles, loc="lower left", ncol=len(handles), frameon=False,
                   bbox_to_anchor=(left / width, 0.0), fontsize=8)
        fig.text(0.1 / width, (height - 0.15) / height, title, fontsize=12, va="top")
    return fig


def _ratio_cell(ax: plt.Axes, x: int, y: int, row: Any, cmap: Any, norm: Any) -> None:
    ratio = float(row.ratio)
    text = f"{ratio:.2f}×" if ratio < 10 else f"{ratio:.1f}×"
    if not bool(row.correct):
        ax.add_patch(plt.Rectangle((x, y), 1, 1, facecolor=WRONG_COLOUR, hatch=WRONG_HATCH,
                                   edgecolor="white", linewidth=0))
        ax.text(x + 0.5, y + 0.5, f"wrong\n{text}", ha="center", va="center", fontsize=7,
                color="0.15", bbox={"facecolor": WRONG_COLOUR, "edgecolor": "none",
                                    "pad": 0.5})
        return
    colour = cmap(norm(math.log2(ratio)))
    fastest = bool(row.fastest_correct)
    ax.add_patch(plt.Rectangle((x, y), 1, 1, facecolor=colour, edgecolor="black" if fastest
                               else colour, linewidth=1.6 if fastest else 0))
    dark = sum(colour[:3]) / 3 < 0.45
    ax.text(x + 0.5, y + 0.5, text, ha="center", va="center", fontsize=8,
            fontweight="bold" if fastest else "normal", color="white" if dark else "black")


def _log_ticks(span: tuple[float, float]) -> list[float]:
    """Round ratios inside ``span`` for a log axis, spaced so that their labels do not touch."""
    candidates = (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 5, 8, 10, 16, 20,
                  32, 50, 64, 100, 128, 256)
    inside = [t for t in candidates if span[0] <= t <= span[1]]
    least = math.log(span[1] / span[0]) / 5
    kept = [1.0] if 1.0 in inside else []
    for t in sorted(inside, key=lambda v: abs(math.log(v))):
        if all(abs(math.log(t / k)) >= least for k in kept):
            kept.append(t)
    return sorted(kept)


def relative_bars(frame: pd.DataFrame, quantity: str, baseline: str = BASELINE,
                  safe: Collection[str] | None = None) -> Figure:
    """One deterministic ``quantity`` (e.g. "peak memory of one forward") per regime relative
    to ``baseline``'s: one panel per strategy but the baseline, one row of panels per machine
    and device; bars run from 1 (equal) on a log axis."""
    rows = frame[(frame["strategy"] != baseline) & frame["relative"].notna()]
    if rows.empty:  # a small figure that says so
        fig = plt.figure(figsize=(6, 1.2))
        fig.text(0.5, 0.5, f"{quantity}: nothing measured against {baseline}", ha="center",
                 va="center")
        return fig
    order = strategy_order(rows["strategy"])
    pitfalls, palette = unsafe(order, safe), colours(order)
    devices = list(rows.groupby(["machine", "device_name", "device"], sort=True, observed=True))
    heights = [0.7 + 0.26 * group["label"].nunique() for _, group in devices]
    span = (min(float(rows["relative"].min()), 1.0) / 1.2,
            max(float(rows["relative"].max()), 1.0) * 1.2)
    ticks = _log_ticks(span)
    with _style():
        fig, axes = plt.subplots(len(devices), len(order), sharey="row", squeeze=False,
                                 figsize=(2.4 + 1.6 * len(order), sum(heights) + 1.3),
                                 gridspec_kw={"height_ratios": heights})
        for r, (_, group) in enumerate(devices):
            labels = list(dict.fromkeys(group["label"]))
            for c, name in enumerate(order):
                ax = axes[r, c]
                mine = group[group["strategy"] == name].set_index("label")
                for y, label in enumerate(labels):
                    if label in mine.index:
                        correct = bool(mine.loc[label, "correct"])
                        ax.barh(y, float(mine.loc[label, "relative"]) - 1.0, left=1.0,
                                height=0.72, color=palette[name] if correct else WRONG_COLOUR,
                                hatch=None if correct else WRONG_HATCH,
                                edgecolor="0.2" if name in pitfalls or not correct else "none",
                                linestyle=UNSAFE_DASHES if name in pitfalls else "solid",
                                linewidth=1.0)
                ax.axvline(1.0, color="0.3", linestyle=":", linewidth=1)
                ax.set(xscale="log", xlim=span)
                ax.set_xticks(ticks, [f"{t:g}×" for t in ticks])
                ax.xaxis.set_minor_locator(mticker.NullLocator())
                ax.tick_params(axis="x", labelsize=7)
                ax.set_yticks(range(len(labels)), labels)
                ax.set_ylim(len(labels) - 0.5, -0.5)
                ax.tick_params(axis="y", length=0)
                ax.grid(axis="x", color="0.9")
                if r == 0:
                    ax.set_title(name + (" †" if name in pitfalls else ""), color=palette[name],
                                 fontweight="bold", fontsize=9)
        fig.supxlabel(f"{quantity} / {baseline}'s (log scale; dotted: equal)", fontsize=9)
        handles = style_legend(safe, wrong=bool((~rows["correct"].astype(bool)).any()))
        if handles:
            fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False,
                       bbox_to_anchor=(0.5, -0.04), fontsize=8)
        fig.suptitle(f"{quantity[:1].upper()}{quantity[1:]} per regime, relative to "
                     f"{baseline}", x=0.01, ha="left", fontsize=12)
        fig.tight_layout(rect=(0, 0, 1, 0.97), h_pad=2.2)
        for r, ((machine, device_name, device), _) in enumerate(devices):
            fig.text(0.005, axes[r, 0].get_position().y1 + (0.035 if r == 0 else 0.008),
                     device_title(machine, device_name, device), fontsize=9, fontweight="bold",
                     va="bottom")
    return fig


def history(changes: pd.DataFrame, lines: pd.DataFrame, line_label: str,
            safe: Collection[str] | None = None) -> Figure:
    """Per machine (one column each, commits in commit-date order): above, the changes flagged
    per commit (``changes``: regressions up, improvements down); below, one line per strategy of
    ``lines`` (machine, commit, date, strategy, value); machines with two commits or more."""
    counts = changes.groupby("machine")["commit"].nunique()
    machines = sorted(counts[counts >= 2].index)
    names = lines["strategy"].unique()
    pitfalls, palette = unsafe(names, safe), colours(names)
    with _style():
        fig, axes = plt.subplots(2, len(machines), squeeze=False, sharex="col",
                                 figsize=(max(7.5, 1.0 + 6.5 * len(machines)), 6.4),
                                 gridspec_kw={"height_ratios": [1, 2.2]})
        for c, machine in enumerate(machines):
            commits = changes[changes["machine"] == machine].sort_values(["date", "commit"])
            position = {commit: i for i, commit in enumerate(commits["commit"])}
            top, bottom = axes[0, c], axes[1, c]
            x = np.arange(len(commits))
            top.bar(x, commits["regressions"], color="#a50f15", width=0.6, label="regressions")
            top.bar(x, -commits["improvements"], color="#08519c", width=0.6,
                    label="improvements")
            for i, (up, down) in enumerate(zip(commits["regressions"], commits["improvements"],
                                               strict=True)):
                if up:
                    top.text(i, up, f"{int(up)}", ha="center", va="bottom", fontsize=7)
                if down:
                    top.text(i, -down, f"{int(down)}", ha="center", va="top", fontsize=7)
            top.axhline(0, color="0.3", linewidth=0.8)
            peak = max(1, int(commits[["regressions", "improvements"]].to_numpy().max()))
            top.set_ylim(-peak * 1.35, peak * 1.35)
            top.yaxis.set_major_locator(mticker.MaxNLocator(integer=True, nbins=4))
            top.yaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _p: f"{abs(v):g}"))
            top.set_ylabel("changes flagged\n(up: worse)", fontsize=8)
            top.set_title(machine, loc="left", fontsize=10)
            top.grid(axis="y", color="0.92")
            mine = lines[lines["machine"] == machine]
            for name in strategy_order(mine["strategy"]):
                series = mine[mine["strategy"] == name].copy()
                series["x"] = series["commit"].map(position)
                series = series.dropna(subset=["x"]).sort_values("x")
                bottom.plot(series["x"], series["value"], marker="o", markersize=3.5,
                            color=palette[name], label=name + (" †" if name in pitfalls else ""),
                            linestyle=UNSAFE_DASHES if name in pitfalls else "solid",
                            linewidth=1.4)
            bottom.set_yscale("log")
            bottom.yaxis.set_major_locator(mticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            bottom.yaxis.set_minor_locator(mticker.LogLocator(base=10, subs=(1.5, 3.0, 7.0)))
            bottom.yaxis.set_major_formatter(mticker.StrMethodFormatter("{x:g}"))
            bottom.yaxis.set_minor_formatter(mticker.StrMethodFormatter("{x:g}"))
            bottom.tick_params(axis="y", which="both", labelsize=7)
            bottom.set_ylabel(line_label, fontsize=8)
            bottom.grid(axis="y", color="0.92")
            # x = commit position, labelled by short hash, thinned to ~16
            ticks = list(range(0, len(commits), max(1, math.ceil(len(commits) / 16))))
            bottom.set_xticks(ticks, [str(commits["commit"].iloc[i])[:8] for i in ticks],
                              fontfamily="monospace", fontsize=8)
            bottom.set_xlim(-0.6, len(commits) - 0.4)
            bottom.set_xlabel("commit (oldest left, by commit date)", fontsize=8)
        handles = axes[1, 0].get_legend_handles_labels()[0] + style_legend(safe, wrong=False)
        fig.legend(handles=handles, loc="upper center", ncol=min(5, len(handles)),
                   frameon=False, fontsize=8, bbox_to_anchor=(0.5, 0.0))
        fig.suptitle("History across commits", x=0.01, ha="left", fontsize=12)
        fig.tight_layout()
    return fig
