"""The report: tables, figures, a self-contained HTML page and a Markdown summary.

``build_report`` is pure; ``write_report`` is the only function here that writes files. Nothing
generated names a path of the machine that built it: results folders are named as the caller
gives them (``sources``), file paths relative to their results folder."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pandas.api.types import union_categoricals

from analysis.load import problems
from analysis.load.results import Loaded, Problem
from analysis.model import answer, history, paired, tables
from analysis.model.report import Check, Content
from analysis.render import figures, history_figure, output, report_pages
from birnn_bench._io import MARKER, marker_files, output_marker
from birnn_bench.strategies import BASELINE

Progress = Callable[[str], None]

#: CSV tables written next to the report (name -> what it holds).
TABLES = {
    "answer": "the Answer block: per machine (name and hardware), device, mode and cell, the "
              "recommended strategies and the line stating them with ratios and intervals",
    "machines_differ": "cells two machines both measured correct whose paired ratios differ by "
                       "more than their resolution, one column per machine, widest first",
    "grid": "the Compare grid, long form: per machine, device, mode, regime and strategy the "
            "paired ratio to hn_index with its 99% interval, error, correct, safe, verdict, "
            "fastest correct, tied with it, recommended, floor",
    "recommendations": "per machine, device, mode and regime: the recommended (safe) strategy "
                       "with its ratio and interval, the fastest correct, the floor, the A/A",
    "strategies": "per machine, device, mode and strategy: regimes correct, fastest or tied, "
                  "recommended; geometric mean ratio over the regimes where it and hn_index are "
                  "both correct",
    "correctness": "every verdict of the error benchmark: machine, regime, strategy, error, "
                   "tolerance, correct",
    "memory": "peak bytes of one forward per machine, regime and strategy, and over hn_index's",
    "op_counts": "ATen ops of one forward per machine, regime and strategy, and over hn_index's",
    "compiled": "torch.compile against eager (compiled.Compiled): times, ratio with its "
                "conservative interval, verdict, compile time, the compiled output's error",
    "regressions": "history: every change that counts (paired-ratio intervals apart, any change "
                   "of a deterministic value), with the previous commit",
    "history_summary": "history: per machine and commit, the changes that count",
    "environment": "per machine name and hardware: GPU, versions, threads, the commits "
                   "measured (with how many benchmarks each) and the one the grid shows",
    "problems": "files that were skipped or loaded with a caveat: severity, file, the message, "
                "its kind and the action that clears it",
    "deployability": "per strategy, cell, layers, device and technology: works / fails / wrong / "
                     "unavailable (from birnn-bench deploy --json; only with --deploy)",
}


@dataclass
class Report:
    """Everything the report consists of, in memory."""

    tables: dict[str, pd.DataFrame]
    png: dict[str, bytes]
    svg: dict[str, bytes]
    html: str
    markdown: str


def merge(parts: Sequence[tuple[str, Loaded]]) -> Loaded:
    """Results folders loaded one by one (each with its own benchmarks.json) as one; problems
    and files prefixed with the folder's name when there is more than one."""
    if len(parts) == 1:
        return parts[0][1]
    frames = [loaded.data for _, loaded in parts]
    joined: dict[str, object] = {}
    for name in dict.fromkeys(c for f in frames for c in f.columns):
        pieces = [f[name] if name in f.columns else pd.Series([None] * len(f), dtype=object)
                  for f in frames]
        if all(isinstance(p.dtype, pd.CategoricalDtype) for p in pieces):
            joined[name] = union_categoricals([p.astype("category") for p in pieces],
                                              ignore_order=True)
        else:
            joined[name] = pd.concat(pieces, ignore_index=True)
    data = pd.DataFrame(joined)
    problems = [Problem(f"{name}/{p.path}", p.message, p.severity) for name, loaded in parts
                for p in loaded.problems]
    files = [f"{name}/{f}" for name, loaded in parts for f in loaded.files]
    return Loaded(data, problems, files, ", ".join(name for name, _ in parts))


def shown_problems(loaded: Loaded) -> tuple[list[Problem], int]:
    """The problems the report shows, and how many it leaves out: a "partial run" warning of a
    results file that is not its machine's newest is history, not something to fix."""
    df = loaded.data
    newest: set[str] = set()
    if not df.empty and df["value"].notna().any():
        files = tables.plain(df.loc[df["value"].notna(), ["machine", "date", "file"]])
        files = files.drop_duplicates()
        last = files.groupby("machine")["date"].transform("max")
        newest = {str(f) for f in files.loc[files["date"] == last, "file"]}
    shown = [p for p in loaded.problems
             if not ("partial run" in p.message and p.severity == "warning"
                     and not any(p.path.endswith(f) for f in newest))]
    return shown, len(loaded.problems) - len(shown)


def _render(fig: object) -> tuple[bytes, bytes]:
    import matplotlib.pyplot as plt

    png, svg = io.BytesIO(), io.BytesIO()
    fig.savefig(png, format="png", dpi=110, bbox_inches="tight",  # type: ignore[attr-defined]
                metadata={"Software": None})
    fig.savefig(svg, format="svg", bbox_inches="tight",  # type: ignore[attr-defined]
                metadata={"Creator": None, "Date": None})
    plt.close(fig)  # type: ignore[arg-type]
    return png.getvalue(), svg.getvalue()


def _figures(content: Content, memory: pd.DataFrame, ops: pd.DataFrame) -> dict[str, object]:
    g, safe = content.grid, None if content.check is None else content.check.safe
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
                 limits: history.Limits) -> Report:
    """All tables, figures, the HTML page and the Markdown summary. Without ``check`` the
    results' own matrix verdicts (``strategies.Correctness``) say which strategies are safe;
    without either nothing is recommended; ``deploy``: ``analysis.load.inputs.parse_deploy`` rows;
    ``sources``: how the results folders are named on the page; ``ratio_tolerance``: the
    process-level A/A per mode (``resolution.tolerances``) and ``limits`` the thresholds
    of asv.conf.json, for the history."""
    say = progress or (lambda _msg: None)
    df = loaded.data
    if check is None and (carried := paired.matrix_summary(df)) is not None:
        check = Check(source=carried[1], torch="as measured", summary=carried[0])
    say("the Compare grid (paired ratios + the error benchmark)")
    g = paired.grid(df, check.safe if check is not None else [])
    g = answer.with_hardware(g.assign(label=[paired.regime_label(r) for r in
                                             g.to_dict("records")]), df)
    recs = paired.recommendations(g) if not g.empty else pd.DataFrame()
    verdicts = tables.correctness(df)
    memory = tables.relative(df, tables.PEAK, verdicts)
    ops = tables.relative(df, tables.OPS, verdicts)
    say("history across commits")
    hist = history.changes(history.series(df), ratio_tolerance, limits=limits)
    commits = history.per_commit(hist)
    shown, hidden = shown_problems(loaded)
    content = Content(loaded=loaded, sources=list(sources) or [loaded.root], check=check,
                      grid=g, recommendations=recs, strategies=tables.strategy_summary(g),
                      correctness=verdicts, compiled=tables.compiled(df), history=hist,
                      commits=commits, history_rules=history.rules(limits), problems=shown,
                      hidden_problems=hidden, deploy=deploy,
                      lost=tables.lost_sections(df), answer=answer.lines(g),
                      agreement=answer.agreement(g),
                      differences=answer.differences(g, ratio_tolerance),
                      facts=answer.hardware_facts(g))
    out_tables = {
        "grid": g.drop(columns="facts"), "recommendations": recs, "answer": content.answer,
        "machines_differ": content.differences, "strategies": content.strategies,
        "correctness": verdicts, "memory": memory.rename(columns={"value": "peak_bytes"}),
        "op_counts": ops.rename(columns={"value": "ops"}), "compiled": content.compiled,
        "regressions": history.flagged(hist), "history_summary": commits,
        "environment": tables.environment(df, dict(zip(g["machine"], g["commit"],
                                                                    strict=True))),
        "problems": problems.table(shown),
    }
    if deploy is not None and not deploy.empty:
        out_tables["deployability"] = deploy
    say("drawing figures")
    png, svg = {}, {}
    for name, fig in _figures(content, memory, ops).items():
        png[name], svg[name] = _render(fig)
    say("assembling HTML and Markdown")
    return Report(out_tables, png, svg,
                  report_pages.render_html(content, out_tables, png, TABLES),
                  report_pages.render_markdown(content))


def write_report(out_dir: str | Path, report: Report) -> list[Path]:
    """Writes index.html, summary.md, the CSV tables, the figures (PNG + SVG) and the marker of
    a report folder, its manifest (the files written), into ``out_dir`` safely
    (``analysis.render.output``); then removes the files an earlier report there produced (its
    manifest) that this one does not. Returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = [("index.html", report.html.encode("utf-8")),
             ("summary.md", output.markdown_safe(report.markdown).encode("utf-8"))]
    files += [(f"{name}.csv", output.csv_text(table).encode("utf-8"))
              for name, table in report.tables.items()]
    files += [(f"{name}.{ext}", data) for name in report.png
              for ext, data in (("png", report.png[name]), ("svg", report.svg[name]))]
    names = [name for name, _ in files]
    earlier = marker_files(out, "report")
    # Marks the folder as a report (a later run may write into it without --force) and lists
    # what it holds: the next report removes what it no longer produces, nothing else.
    files.append((MARKER, output_marker("report", names)))
    written = output.write_files(out, files)
    for name in sorted(set(earlier) - set(names)):
        stale = out / name
        if stale.is_symlink() or stale.is_file():
            stale.unlink()
    return written
