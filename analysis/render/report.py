"""The report: its content (``model.report``) drawn into figures, a self-contained HTML page and a
Markdown summary, beside its CSV tables; pure (``output.write_report`` writes them). Nothing
generated names a path of the machine that built it: results folders are named as the caller
gives them (``sources``), file paths relative to their results folder."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from analysis.load.loaded import Loaded
from analysis.model import history, paired
from analysis.model.history import Limits
from analysis.model.report import TABLES, Check, Content, build_content, report_tables
from analysis.render import figures, history_figure, report_pages
from birnn_bench.strategies import BASELINE

Progress = Callable[[str], None]


@dataclass
class Report:
    """Everything the report consists of, in memory."""

    tables: dict[str, pd.DataFrame]
    png: dict[str, bytes]
    svg: dict[str, bytes]
    html: str
    markdown: str


#: The PNGs' resolution; the tight box is measured at it (text extents depend on the dpi).
PNG_DPI = 110


def _render(fig: object) -> tuple[bytes, bytes]:
    import matplotlib.pyplot as plt

    png, svg = io.BytesIO(), io.BytesIO()
    # The tight box found once for both files: savefig's "tight" lays the figure out once more
    # per file (13.2 s -> 11.5 s for the committed results' report).
    fig.set_dpi(PNG_DPI)  # type: ignore[attr-defined]  # the PNG's: text extents depend on it
    fig.draw_without_rendering()  # type: ignore[attr-defined]
    box = fig.get_tightbbox().padded(plt.rcParams["savefig.pad_inches"])  # type: ignore
    fig.savefig(png, format="png", dpi=PNG_DPI, bbox_inches=box,  # type: ignore[attr-defined]
                metadata={"Software": None})
    fig.savefig(svg, format="svg", bbox_inches=box,  # type: ignore[attr-defined]
                metadata={"Creator": None, "Date": None})
    plt.close(fig)  # type: ignore[arg-type]
    return png.getvalue(), svg.getvalue()


def _figures(content: Content) -> dict[str, object]:
    g, safe = content.grid, None if content.check is None else content.check.safe
    memory, ops = content.memory, content.ops
    out: dict[str, object] = {}
    bound = figures.ratio_bound(g)
    for mode, label in paired.MODE_LABELS.items():
        rows = g[g["mode"] == mode] if not g.empty else g
        if not rows.empty:
            out[f"ratios_{mode}"] = figures.ratio_heatmap(
                rows, f"Paired ratios, {label}: each strategy's time over {BASELINE}'s",
                bound=bound, safe=safe)
    if not memory.empty:
        out["memory"] = figures.relative_bars(memory, "peak memory of one forward", safe=safe)
    if not ops.empty:
        out["op_counts"] = figures.relative_bars(ops, "ATen ops of one forward", safe=safe)
    h = content.history
    if content.has_history:
        # the most deterministic series two commits of one machine and hardware have:
        # instructions, else paired ratios, else absolute times (shown, never judged)
        choices = ((history.DETERMINISTIC, "instructions", 1.0,
                    "instructions per forward (callgrind)\n(geomean over the same regimes)"),
                   (history.RATIO, "paired ratio (forward)", 1.0,
                    f"time over {BASELINE}'s, forward\n(geomean over the same regimes)"),
                   (history.ABSOLUTE, "time_forward (s)", 1e3,
                    "absolute time_forward, ms\n(geomean over the same regimes; never judged)"))
        for kind, quantity, scale, label in choices:
            lines = history.lines(h, kind, quantity)
            if history.plotted(lines):
                out["history"] = history_figure.history(
                    content.commits, lines.assign(value=lines["value"] * scale), label, safe=safe)
                break
    return out


def build_report(loaded: Loaded, check: Check | None = None, deploy: pd.DataFrame | None = None,
                 sources: Sequence[str] = (), progress: Progress | None = None,
                 ratio_tolerance: Mapping[str, float] | None = None, *,
                 limits: Limits) -> Report:
    """The report's content (``model.report.build_content``, which says what the arguments
    are), its CSV tables, figures, the HTML page and the Markdown summary."""
    say = progress or (lambda _msg: None)
    content = build_content(loaded, check, deploy, sources, ratio_tolerance, limits=limits,
                            progress=say)
    out_tables = report_tables(content)
    say("drawing figures")
    png, svg = {}, {}
    for name, fig in _figures(content).items():
        png[name], svg[name] = _render(fig)
    say("assembling HTML and Markdown")
    return Report(out_tables, png, svg,
                  report_pages.render_html(content, out_tables, png, TABLES),
                  report_pages.render_markdown(content))
