"""Figures (matplotlib Figure out, nothing written): seaborn, colour-blind-safe palettes, units
on every axis. Each takes a table from ``analysis.summarize``.

The speed-up and memory figures name the baseline their table was computed against: pass it as
``baseline=``, else it is read off the table (``baseline_of``), never assumed."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from analysis.summarize import FORWARD, METRIC_LABELS

PALETTE = "colorblind"  # seaborn's colour-blind-safe qualitative palette (Okabe-Ito like)
SEQUENTIAL = "cividis"  # perceptually uniform, readable with colour-vision deficiency
DIVERGING = "PuOr"  # purple / orange: safe for the common deficiencies


@contextlib.contextmanager
def _style() -> Iterator[None]:
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.9), \
            warnings.catch_warnings():
        # seaborn 0.13's heatmap calls Colormap.set_bad, deprecated in matplotlib 3.11.
        warnings.filterwarnings("ignore", message="The set_bad function",
                                category=PendingDeprecationWarning)
        yield


def _strategy_order(names: Sequence[str]) -> list[str]:
    from birnn_bench.grid import BENCH_STRATEGIES

    present = set(names)
    return [s for s in BENCH_STRATEGIES if s in present] + sorted(present
                                                                  - set(BENCH_STRATEGIES))


def _palette(order: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    colours = sns.color_palette(PALETTE, max(len(order), 1))
    return dict(zip(order, colours, strict=False))


def _empty(message: str) -> Figure:
    fig = plt.figure(figsize=(6, 1.6))
    fig.text(0.5, 0.5, message, ha="center", va="center")
    return fig


def _geomean(values: pd.Series) -> float:
    values = values[values > 0]
    return float(np.exp(np.log(values).mean())) if len(values) else np.nan


def baseline_of(sp: pd.DataFrame) -> str | None:
    """The baseline of a ``summarize.speedup`` table: the one strategy whose time IS the
    baseline's time in every row (the baseline merged with itself). None when the table is
    empty or that is not a single strategy."""
    needed = {"strategy", "time_s", "baseline_time_s"}
    if sp.empty or not needed <= set(sp.columns):
        return None
    rows = sp[sp["time_s"].notna() & sp["baseline_time_s"].notna()]
    same = (rows["time_s"] == rows["baseline_time_s"]).groupby(rows["strategy"],
                                                               observed=True).all()
    found = [str(name) for name, always in same.items() if always]
    return found[0] if len(found) == 1 else None


def _baseline_name(sp: pd.DataFrame, baseline: str | None) -> str:
    if baseline is not None:
        return baseline
    return baseline_of(sp) or "the baseline"


def _possessive(name: str) -> str:
    return "the baseline's" if name == "the baseline" else f"{name}'s"


def time_vs_batch(tp: pd.DataFrame, metric: str = FORWARD) -> Figure:
    """Time per call vs batch size, one line per strategy, faceted by device (rows) and length
    distribution (columns). Other regime parameters are summarised by a geometric mean.
    Dashed: the strategy fails the oracle in at least one of the regimes averaged."""
    rows = tp[tp["metric"] == metric]
    if rows.empty:
        return _empty(f"no {metric} measurements")
    g = (rows.groupby(["device_name", "lengths", "strategy", "batch"], sort=False)
         .agg(time_s=("time_s", _geomean), correct=("correct", "all")).reset_index())
    g["time_ms"] = g["time_s"] * 1e3
    g["batch"] = g["batch"].astype(int)
    verdict = g.groupby(["device_name", "lengths", "strategy"])["correct"].transform("all")
    g["oracle"] = np.where(verdict, "correct", "wrong in some regimes")
    order = _strategy_order(g["strategy"].unique())
    with _style():
        grid = sns.relplot(
            data=g, x="batch", y="time_ms", hue="strategy", hue_order=order,
            palette=_palette(order), style="oracle",
            style_order=["correct", "wrong in some regimes"], dashes={"correct": "",
                                                                     "wrong in some regimes":
                                                                     (4, 2)},
            markers={"correct": "o", "wrong in some regimes": "X"}, kind="line",
            row="device_name", col="lengths", height=3.2, aspect=1.25,
            facet_kws={"sharey": False, "margin_titles": True})
        grid.set(xscale="log")
        batches = sorted(g["batch"].unique())
        for ax in grid.axes.flat:
            _log_time_axis(ax)
            ax.set_xticks(batches)
            ax.set_xticklabels([str(b) for b in batches])
            ax.minorticks_off()
        grid.set_axis_labels("batch size (sequences per call)", "time per call (ms, log)")
        grid.set_titles(row_template="{row_name}", col_template="lengths: {col_name}")
        grid.figure.suptitle(f"{METRIC_LABELS.get(metric, metric)}: time vs batch size "
                             "(geometric mean over the other regime parameters)", y=1.02)
    return grid.figure


def correctness_heatmap(matrix: pd.DataFrame) -> Figure:
    """Condition (rows) x strategy (columns): share of regimes where the strategy matches the
    oracle; cells read "correct / measured"."""
    if matrix.empty:
        return _empty("no error measurements: correctness unknown")
    order = _strategy_order(matrix["strategy"].unique())
    conditions = list(dict.fromkeys(matrix["condition"]))
    share = matrix.pivot_table(index="condition", columns="strategy", values="share",
                               sort=False).reindex(index=conditions, columns=order)
    counts = matrix.assign(label=matrix["correct"].astype(str) + "/" +
                           matrix["total"].astype(str)).pivot_table(
        index="condition", columns="strategy", values="label", aggfunc="first",
        sort=False).reindex(index=conditions, columns=order)
    with _style():
        fig, ax = plt.subplots(figsize=_heatmap_size(share.shape))
        sns.heatmap(share, ax=ax, cmap=SEQUENTIAL, vmin=0, vmax=1,
                    annot=counts.fillna("").to_numpy(), fmt="", linewidths=0.5,
                    linecolor="white", cbar_kws={"label": "share of regimes correct",
                                                 "shrink": 0.6})
        ax.set_ylabel("device | dtype | length distribution | layers")
        ax.set_xlabel("strategy")
        ax.set_title("Correct against the float64 oracle (correct / measured regimes)",
                     loc="left")
        _label_axes(ax)
        fig.tight_layout()
    return fig


def _heatmap_size(shape: tuple[int, int]) -> tuple[float, float]:
    """(rows, columns) -> inches: rows are conditions, columns strategies."""
    return max(7.5, 4.5 + 1.0 * shape[1]), min(max(3.0, 1.6 + 0.34 * shape[0]), 40.0)


def _label_axes(ax: plt.Axes) -> None:
    ax.tick_params(axis="x", labelrotation=30)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    ax.tick_params(axis="y", labelrotation=0)


def _log_time_axis(ax: plt.Axes) -> None:
    """Log scale with plain-number labels even when the data spans less than a decade."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(mticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(mticker.FuncFormatter(lambda y, _pos: f"{y:g}"))
    ax.yaxis.set_minor_formatter(mticker.NullFormatter())


def memory_bars(sp: pd.DataFrame, metric: str = FORWARD, *, baseline: str | None = None
                ) -> Figure:
    """Peak bytes of one forward call relative to the baseline, per strategy (geometric mean
    over regimes), bars per length distribution, one panel per device. ``baseline``: the one
    ``sp`` was computed against (default: read off ``sp``, see ``baseline_of``)."""
    base = _baseline_name(sp, baseline)
    rows = sp[(sp["metric"] == metric) & sp["memory_ratio"].notna()]
    if rows.empty:
        return _empty("no peak-memory measurements")
    g = (rows.groupby(["device_name", "lengths", "strategy"], sort=False)["memory_ratio"]
         .agg(_geomean).reset_index())
    order = _strategy_order(g["strategy"].unique())
    with _style():
        grid = sns.catplot(data=g, kind="bar", x="strategy", y="memory_ratio", hue="lengths",
                           order=order, palette=PALETTE, col="device_name",
                           col_wrap=min(2, g["device_name"].nunique()),
                           height=3.6, aspect=1.6, sharey=False)
        grid.refline(y=1.0, color="0.3", linestyle=":")
        grid.set_axis_labels("strategy", f"peak memory / {_possessive(base)} (x)")
        grid.set_titles("{col_name}")
        for ax in grid.axes.flat:
            ax.tick_params(axis="x", labelrotation=30)
            for label in ax.get_xticklabels():
                label.set_horizontalalignment("right")
        grid.figure.suptitle("Peak memory of one forward call, relative to "
                             f"{base} (geometric mean over regimes)", y=1.03)
    return grid.figure


def speedup_heatmap(sp: pd.DataFrame, metric: str = FORWARD, *, baseline: str | None = None
                    ) -> Figure:
    """Speed-up against the baseline (geometric mean over regimes where the strategy is
    correct), strategy x (device | lengths | batch). Blank: never correct there. ``baseline``:
    the one ``sp`` was computed against (default: read off ``sp``, see ``baseline_of``)."""
    base = _baseline_name(sp, baseline)
    rows = sp[(sp["metric"] == metric) & sp["correct"]]
    if rows.empty:
        return _empty("no correct timed strategies to compare")
    rows = rows.assign(condition=rows["device_name"].astype(str) + " | " +
                       rows["lengths"].astype(str) + " | batch " + rows["batch"].astype(str))
    rows = rows.sort_values(["device_name", "lengths", "batch"])
    order = _strategy_order(rows["strategy"].unique())
    conditions = list(dict.fromkeys(rows["condition"]))
    table = rows.pivot_table(index="condition", columns="strategy", values="speedup",
                             aggfunc=_geomean, sort=False).reindex(index=conditions,
                                                                   columns=order)
    log2 = np.log2(table.astype(float))
    bound = max(float(np.nanmax(np.abs(log2.to_numpy()))) if log2.notna().any().any() else 0,
                0.25)
    labels = table.map(lambda v: "" if pd.isna(v) else f"{v:.2f}x")
    with _style():
        fig, ax = plt.subplots(figsize=_heatmap_size(table.shape))
        sns.heatmap(log2, ax=ax, cmap=DIVERGING, center=0, vmin=-bound, vmax=bound,
                    annot=labels.to_numpy(), fmt="", linewidths=0.5, linecolor="white",
                    cbar_kws={"label": f"log2 speed-up vs {base} (> 0: faster)",
                              "shrink": 0.6})
        ax.set_ylabel("device | length distribution | batch size")
        ax.set_xlabel("strategy (correct regimes only)")
        ax.set_title(f"{METRIC_LABELS.get(metric, metric)}: speed-up against {base}",
                     loc="left")
        _label_axes(ax)
        fig.tight_layout()
    return fig


def history_lines(summary: pd.DataFrame, metric: str = FORWARD) -> Figure:
    """Geometric mean time per strategy across commits, one panel per machine and device;
    commits with a flagged regression are marked with a red ring."""
    rows = summary[summary["metric"] == metric].copy()
    if rows.empty or rows["commit"].nunique() < 2:
        return _empty("history: fewer than two commits measured")
    rows["panel"] = rows["machine"].astype(str) + " | " + rows["device"].astype(str)
    rows["time_ms"] = rows["geomean_time_s"] * 1e3
    rows["date"] = pd.to_datetime(rows["date"]).dt.tz_localize(None)
    order = _strategy_order(rows["strategy"].unique())
    with _style():
        grid = sns.relplot(data=rows, x="date", y="time_ms", hue="strategy", hue_order=order,
                           palette=_palette(order), kind="line", marker="o", col="panel",
                           col_wrap=min(2, rows["panel"].nunique()), height=3.2, aspect=1.6,
                           facet_kws={"sharey": False})
        for ax, (_, panel) in zip(grid.axes.flat, rows.groupby("panel", sort=True),
                                  strict=False):
            flagged = panel[panel["regressions"] > 0]
            ax.scatter(flagged["date"], flagged["time_ms"], s=120, facecolors="none",
                       edgecolors="#D55E00", linewidths=1.5, zorder=5)
        for ax in grid.axes.flat:
            _log_time_axis(ax)
        grid.set_axis_labels("commit date", "time per call (ms, geometric mean, log)")
        grid.set_titles("{col_name}")
        grid.figure.autofmt_xdate()
        grid.figure.suptitle(f"{METRIC_LABELS.get(metric, metric)} across commits "
                             "(ringed: a regression flagged in some regime)", y=1.03)
    return grid.figure
