"""The report's figures read: legends name only what is drawn, the recommended cell is framed,
bar values are labelled on a linear scale, identical machines are drawn once, the history holds
only series with points and labels its ticks apart. Injected rows, no timings."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from analysis.model import history, paired
from analysis.render import figures, history_figure
from tests.conftest import repo_limits
from tests.test_analysis import BASELINE, REGIME, SAFE, frame, point, rows

OTHER = "cpu-gru-L1-B64-T32-H128-equal-float32"


def _texts(fig) -> list[str]:
    found = [t.get_text() for t in fig.texts]
    found += [t.get_text() for ax in fig.axes for t in (*ax.texts, ax.title)]
    found += [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    found += [t.get_text() for ax in fig.axes for t in ax.get_yticklabels()]
    return found


def test_the_heatmap_frames_the_recommendation_and_tags_the_floor() -> None:
    df = frame(rows("a", 1, {(REGIME, BASELINE): point(),
                             (REGIME, "manual_two_rnn"): point((0.6, 0.58, 0.62)),
                             (REGIME, "hn_padded"): point((0.4, 0.38, 0.42))}))
    g = paired.grid(df, SAFE).assign(label="x")
    fig = figures.ratio_heatmap(g, "t", safe=SAFE)
    texts = _texts(fig)
    legend = " ".join(t for legend in fig.legends for t in
                      (x.get_text() for x in legend.get_texts()))
    assert "dashed" not in legend and "recommended" in legend and "floor" in legend
    assert any(t.startswith("0.40×\nfloor") for t in texts)  # the pitfall, tagged, not bold
    bold = [t.get_text() for ax in fig.axes for t in ax.texts if t.get_fontweight() == "bold"]
    assert bold == ["0.60×"]  # the recommended one only
    plt.close(fig)


def _relative(machine: str, values: dict) -> pd.DataFrame:
    return pd.DataFrame([{"machine": machine, "device_name": "CPU", "device": "cpu",
                          "regime": r, "label": r[:12], "strategy": s, "value": v,
                          "baseline_value": 1.0, "relative": v, "correct": True,
                          "commit": "c"} for (r, s), v in values.items()])


def test_bars_are_linear_labelled_and_identical_machines_drawn_once() -> None:
    values = {(REGIME, BASELINE): 1.0, (REGIME, "chunk_view"): 1.4,
              (REGIME, "hn_first_layer"): 1.0, (OTHER, BASELINE): 1.0,
              (OTHER, "chunk_view"): 0.004, (OTHER, "hn_first_layer"): 1.0}
    both = pd.concat([_relative("a", values), _relative("b", values)], ignore_index=True)
    fig = figures.relative_bars(both, "ATen ops", safe=SAFE)
    texts = _texts(fig)
    assert "1.40×" in texts and "0.004×" in texts  # labelled, and never 0.00×
    assert any("(identical values, drawn once)" in t for t in texts)
    assert sum(t.startswith("hn_first_layer") for t in texts) == 1  # one row of panels
    assert any(t.startswith("equal to the baseline") for t in texts)  # says why it is empty
    assert all(ax.get_xscale() == "linear" for ax in fig.axes)
    plt.close(fig)


def test_history_draws_series_with_points_only_and_readable_ticks() -> None:
    points = {(REGIME, BASELINE): {**point(), "instr": 12_420_000.0},
              (REGIME, "chunk_view"): {**point(), "instr": 12_950_000.0}}
    later = {k: {**v, "instr": v["instr"] * 1.001} for k, v in points.items()}
    df = frame(rows("a", 1, points, hardware="AMD EPYC, 2 cores"),
               rows("b", 2, later, hardware="AMD EPYC, 2 cores"),
               rows("c", 3, {(REGIME, BASELINE): point()}, hardware="Intel Xeon, 2 cores"),
               rows("d", 4, later, hardware="Intel Xeon, 2 cores"))
    h = history.changes(history.series(df), limits=repo_limits())
    lines = history.lines(h, history.DETERMINISTIC, "instructions")
    assert set(lines["hardware"]) == {"AMD EPYC, 2 cores", "Intel Xeon, 2 cores"}
    fig = history_figure.history(history.per_commit(h), lines, "instructions", safe=SAFE)
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.get_title(loc="left")]
    assert titles == ["box · AMD EPYC, 2 cores"]  # the Intel series has one commit with points
    bottom = fig.axes[1]
    assert [t.get_text().split("\n")[0] for t in bottom.get_xticklabels()] == ["a" * 8, "b" * 8]
    fig.canvas.draw()
    ticks = [t.get_text() for t in bottom.get_yticklabels() if t.get_text()]
    assert len(ticks) == len(set(ticks)) >= 3 and all("e+" not in t for t in ticks)
    assert all(t.endswith("M") for t in ticks)
    plt.close(fig)


@pytest.mark.parametrize(("low", "high", "expected"), [(0.98, 1.03, "1.00"),
                                                       (1.2e7, 1.3e7, "12.4M")])
def test_value_formatter(low, high, expected) -> None:
    fmt = history_figure.value_formatter(low, high)
    assert fmt(1.0 if high < 10 else 1.24e7, 0) == expected
