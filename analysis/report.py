"""The report: tables, figures, a self-contained HTML page and a Markdown summary.

``build_report`` is pure (a :class:`~analysis.load.Loaded` in, a :class:`Report` out: strings,
bytes and DataFrames); ``write_report`` is the only function here that writes files. The HTML
embeds its figures as base64 PNG and carries its CSS inline: it references nothing outside
itself (the CSV tables next to it are linked by relative name).
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import plots
from analysis import summarize as s
from analysis.load import Loaded, Problem

Progress = Callable[[str], None]

FIGURES = {
    "time_vs_batch": "Time per call vs batch size",
    "correctness": "Correctness heatmap",
    "speedup": "Speed-up against the baseline",
    "memory": "Peak memory",
    "history": "History across commits",
    "op_counts": "ATen ops per forward call",
}
#: CSV tables written next to the report (name -> what it holds).
TABLES = {
    "recommendations": "per device and regime: the fastest correct strategy for inference "
                       "(time_forward), its margin over the runner-up, significance",
    "recommendations_train_step": "the same for a training step (time_train_step)",
    "overall": "per device: how often each strategy is the best or tied with the best",
    "correctness": "every verdict: strategy x device x regime, error, tolerance, correct",
    "correctness_matrix": "strategy x condition: correct regimes / measured",
    "throughput": "every timed point: time, sequences/s, valid tokens/s, peak bytes, verdict",
    "speedup": "every strategy against the baseline, with its interval, and memory ratio",
    "pareto": "correct strategies: time vs peak memory, on the Pareto front or not",
    "regressions": "history: changes flagged as regressions (or improvements)",
    "history_summary": "geometric mean time per strategy and commit",
    "environment": "machines, devices, versions and commits in the results",
    "problems": "files that were skipped or loaded with a caveat",
    "op_counts": "per device, regime and strategy: ATen ops of one forward (all phases, "
                 "extract), CUDA kernels and host syncs (profile benchmarks)",
    "compiled": "torch.compile against eager (deploy.Compiled): times, speed-up with its "
                "interval, compile time, the compiled output's error against the oracle",
    "deployability": "per strategy, cell, layers, device and technology: works / fails / "
                     "wrong / unavailable (from birnn-bench deploy --json; only with --deploy)",
}


@dataclass
class Report:
    """Everything the report consists of, in memory."""

    tables: dict[str, pd.DataFrame]
    png: dict[str, bytes]
    svg: dict[str, bytes]
    html: str
    markdown: str
    problems: list[Problem] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# building


def _render(fig: object) -> tuple[bytes, bytes]:
    import matplotlib.pyplot as plt

    png, svg = io.BytesIO(), io.BytesIO()
    fig.savefig(png, format="png", dpi=110, bbox_inches="tight",  # type: ignore[attr-defined]
                metadata={"Software": None})
    fig.savefig(svg, format="svg", bbox_inches="tight",  # type: ignore[attr-defined]
                metadata={"Creator": None, "Date": None})
    plt.close(fig)  # type: ignore[arg-type]
    return png.getvalue(), svg.getvalue()


def environment(df: pd.DataFrame) -> pd.DataFrame:
    """Per machine and environment: devices, versions, threads, commits measured."""
    cols = ["machine", "env", "devices", "cpu", "gpu", "torch", "cuda", "cudnn",
            "cudnn_allow_tf32", "threads", "commits", "first_date", "last_date", "last_commit"]
    measured = df[df["value"].notna()]
    if measured.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for (machine, env), g in measured.groupby(["machine", "env"], observed=True, sort=True):
        last = g.loc[g["date"].idxmax()] if g["date"].notna().any() else g.iloc[-1]
        rows.append({
            "machine": machine, "env": env,
            "devices": ", ".join(sorted({str(x) for x in g["device_name"].dropna().unique()})),
            "cpu": last["cpu"], "gpu": last["gpu"], "torch": last["torch"], "cuda": last["cuda"],
            "cudnn": last["cudnn"], "cudnn_allow_tf32": last["cudnn_allow_tf32"],
            "threads": last["threads"], "commits": g["commit"].nunique(),
            "first_date": g["date"].min(), "last_date": g["date"].max(),
            "last_commit": str(last["commit"])[:8]})
    return pd.DataFrame(rows, columns=cols)


def build_report(loaded: Loaded, baseline: str = s.BASELINE, alpha: float = s.ALPHA,
                 threshold: float = 0.10, progress: Progress | None = None,
                 source: str | None = None, deploy: pd.DataFrame | None = None) -> Report:
    """All tables, figures, the HTML page and the Markdown summary from a loaded tree.

    ``deploy``: rows of ``birnn-bench deploy --json`` (``analysis.findings.parse_deploy``) for
    the Deployability section; without it the section says how to produce them.
    """
    from analysis import findings

    say = progress or (lambda _msg: None)
    df = loaded.data
    say("summarising: correctness")
    verdicts = s.correctness(df)
    matrix = s.correctness_matrix(verdicts)
    say("summarising: throughput, speed-up, memory, Pareto front")
    tp = s.throughput(df, verdicts)
    sp = s.speedup(tp, baseline)
    front = s.pareto(tp)
    say("summarising: recommendations")
    recs = s.recommend(tp, s.FORWARD, alpha)
    recs_train = s.recommend(tp, s.TRAIN_STEP, alpha)
    say("summarising: history")
    hist = s.history(df, threshold)
    hist_summary = s.history_summary(hist)
    flagged = hist[hist["regression"] | hist["improvement"]]
    say("summarising: op counts")
    ops = findings.op_counts(df)
    problems = pd.DataFrame([{"severity": p.severity, "file": p.path, "problem": p.message}
                             for p in loaded.problems], columns=["severity", "file", "problem"])
    tables = {
        "recommendations": recs, "recommendations_train_step": recs_train,
        "overall": s.overall(recs, tp), "correctness": verdicts, "correctness_matrix": matrix,
        "throughput": tp.drop(columns=["samples"]), "speedup": sp, "pareto": front,
        "regressions": flagged, "history_summary": hist_summary,
        "environment": environment(df), "problems": problems, "op_counts": ops,
        "compiled": s.compiled(df),
    }
    if deploy is not None and not deploy.empty:
        tables["deployability"] = deploy
    say("drawing figures")
    figures = {
        "time_vs_batch": plots.time_vs_batch(tp),
        "correctness": plots.correctness_heatmap(matrix),
        "speedup": plots.speedup_heatmap(sp),
        "memory": plots.memory_bars(sp),
        "op_counts": findings.ops_figure(ops),
    }
    if hist_summary["commit"].nunique() >= 2:
        figures["history"] = plots.history_lines(hist_summary)
    png, svg = {}, {}
    for name, fig in figures.items():
        png[name], svg[name] = _render(fig)
    ctx = _Context(loaded, tables, baseline, alpha, threshold, tp, sp, source,
                   findings.ops_table(ops), findings.ops_notes(ops, tp, baseline),
                   findings.deploy_table(deploy) if deploy is not None else None,
                   findings.deploy_details(deploy) if deploy is not None else None,
                   findings.ops_caveat(ops))
    say("assembling HTML and Markdown")
    return Report(tables, png, svg, render_html(ctx, png), render_markdown(ctx),
                  list(loaded.problems))


# ---------------------------------------------------------------------------------------------
# text


@dataclass
class _Context:
    loaded: Loaded
    tables: dict[str, pd.DataFrame]
    baseline: str
    alpha: float
    threshold: float
    tp: pd.DataFrame
    sp: pd.DataFrame
    source: str | None
    ops_summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    ops_notes: dict[str, str] = field(default_factory=dict)
    deploy_summary: pd.DataFrame | None = None
    deploy_details: pd.DataFrame | None = None
    ops_caveat: str = ""

    @property
    def df(self) -> pd.DataFrame:
        return self.loaded.data


def _fmt_time(seconds: float) -> str:
    if seconds is None or not np.isfinite(seconds):
        return ""
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def _fmt_pct(x: float) -> str:
    return "" if x is None or not np.isfinite(x) else f"{x:+.1%}"


def _fmt_num(x: float) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return ""
    x = float(x)
    if abs(x) >= 1e6:
        return f"{x / 1e6:.3g} M"
    if abs(x) >= 1e3:
        return f"{x / 1e3:.3g} k"
    return f"{x:.3g}"


def _fmt_bytes(x: float) -> str:
    if x is None or not np.isfinite(x):
        return ""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if x >= size:
            return f"{x / size:.3g} {unit}"
    return f"{x:.0f} B"


def _yes_no(x: object) -> str:
    if x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x)):
        return ""
    return "yes" if bool(x) else "no"


def display_recommendations(recs: pd.DataFrame, several_machines: bool) -> pd.DataFrame:
    """The recommendation table as shown (formatted strings, readable headers)."""
    out = pd.DataFrame({
        **({"machine": recs["machine"]} if several_machines else {}),
        "device": recs["device_name"],
        **{name: recs[name] for name in s.REGIME},
        "strategy": recs["strategy"].fillna("—"),
        "time": recs["time_s"].map(_fmt_time),
        "runner-up": recs["runner_up"].fillna(""),
        "margin": recs["margin"].map(_fmt_pct),
        "significant": recs["significant"].map(_yes_no),
        "test": [m + (f" (p={p:.3g})" if np.isfinite(p) else "")
                 for m, p in zip(recs["method"], recs["p_value"].astype(float), strict=True)],
        "verdict": recs["verdict"],
        "tied with": recs["tied_with"],
    })
    return out


def _device_summary(ctx: _Context) -> pd.DataFrame:
    """Per device and strategy (inference): regimes measured, correct, throughput, speed-up
    and memory (geometric means over the regimes where the strategy is correct)."""
    tp = ctx.tp[ctx.tp["metric"] == s.FORWARD]
    sp = ctx.sp[ctx.sp["metric"] == s.FORWARD]
    if tp.empty:
        return pd.DataFrame()
    rows = []
    order = plots._strategy_order(tp["strategy"].unique())
    for (device_name, strategy), g in tp.groupby(["device_name", "strategy"], sort=True):
        good = g[g["correct"]]
        spg = sp[(sp["device_name"] == device_name) & (sp["strategy"] == strategy)
                 & sp["correct"]]

        def gm(v: pd.Series) -> float:
            v = v.dropna()
            v = v[v > 0]
            return float(np.exp(np.log(v).mean())) if len(v) else np.nan

        rows.append({
            "device": device_name, "strategy": strategy,
            "regimes timed": len(g), "correct in": f"{len(good)}/{int(g['verified'].sum())}",
            "sequences/s": _fmt_num(gm(good["seq_per_s"])),
            "valid tokens/s": _fmt_num(gm(good["tokens_per_s"])),
            f"speed-up vs {ctx.baseline}": "" if spg.empty else f"{gm(spg['speedup']):.2f}x",
            "significantly faster in": "" if spg.empty else
            f"{int(spg['faster'].sum())}/{len(spg)}",
            "significantly slower in": "" if spg.empty else
            f"{int(spg['slower'].sum())}/{len(spg)}",
            f"peak memory vs {ctx.baseline}": "" if spg.empty else
            f"{gm(spg['memory_ratio']):.2f}x",
            "median peak memory": _fmt_bytes(float(good["peak_bytes"].median()))
            if good["peak_bytes"].notna().any() else "",
            "_order": order.index(strategy),
        })
    out = pd.DataFrame(rows).sort_values(["device", "_order"]).drop(columns="_order")
    return out


def _pareto_summary(front: pd.DataFrame) -> pd.DataFrame:
    if front.empty:
        return pd.DataFrame()
    g = (front.groupby(["device_name", "strategy"], sort=True)["on_front"]
         .agg(on_front="sum", regimes="count").reset_index())
    g["on the front in"] = g["on_front"].astype(int).astype(str) + "/" + g["regimes"].astype(str)
    order = plots._strategy_order(g["strategy"].unique())
    g["_order"] = g["strategy"].map(order.index)
    g = g.sort_values(["device_name", "_order"])
    return g.rename(columns={"device_name": "device"})[["device", "strategy", "on the front in"]]


def _headlines(ctx: _Context) -> list[str]:
    """One sentence per device: the production recommendation."""
    overall = ctx.tables["overall"]
    recs = ctx.tables["recommendations"]
    lines = []
    if recs.empty:
        return ["No timed measurements with a correctness verdict: nothing to recommend."]
    for (machine, device, device_name), g in recs.groupby(s.DEVICE_KEYS, sort=True):
        o = overall[(overall["machine"] == machine) & (overall["device"] == device)]
        n = len(g)
        none = int(g["strategy"].isna().sum())
        if o.empty:
            lines.append(f"{device_name} ({machine}): no correct strategy measured in any of "
                         f"{n} regimes.")
            continue
        safe = o[o["correct_everywhere"]]
        sig = int((g["verdict"] == "fastest").sum())
        ties = int((g["verdict"] == "no significant difference").sum())
        wins = g.loc[g["verdict"] == "fastest", "strategy"].value_counts()
        win_text = ", ".join(f"{k} {v}" for k, v in wins.items()) or "none"
        where = f"{device_name} ({machine}, {device})"
        if safe.empty:
            line = (f"{where}: no strategy is correct in all {n} regimes measured; use the "
                    "per-regime table below")
        else:
            top = safe.iloc[0]
            equal = [str(x) for x in safe.loc[safe["best_or_tied"] == top["best_or_tied"],
                                              "strategy"] if x != top["strategy"]]
            also = f" (equally good: {', '.join(equal)})" if equal else ""
            line = (f"{where}: use {top['strategy']}{also} — correct in all {n} regimes "
                    f"measured, and the fastest correct strategy or statistically tied with it "
                    f"in {top['best_or_tied']} of them")
        line += (f". Per regime: a significant winner in {sig} ({win_text}), no significant "
                 f"difference in {ties}")
        if none:
            line += f", no correct strategy measured in {none}"
        lines.append(line + ".")
    failing = ctx.tables["correctness"]
    if not failing.empty:
        wrong = sorted(set(failing.loc[~failing["correct"].astype(bool), "strategy"]))
        if wrong:
            lines.append("Fail the oracle in at least one measured regime (recommended only "
                         "where they were measured correct): " + ", ".join(wrong) + ".")
    return lines


def _method_notes(ctx: _Context) -> list[str]:
    from birnn_bench.oracle import TOLERANCES

    recs = ctx.tables["recommendations"]
    methods = recs["method"].replace("", np.nan).dropna().value_counts()
    used = ", ".join(f"{k} ({v} regimes)" for k, v in methods.items()) or "none needed"
    tol = ", ".join(f"{str(k).replace('torch.', '')} {v:g}" for k, v in TOLERANCES.items())
    return [
        "Correct: the suite's error benchmark (track_max_abs_error) measured the strategy's max "
        "abs error against the float64 per-sequence oracle on the same machine, device and "
        f"regime, and it is within the oracle's tolerance for the dtype ({tol}). A timing "
        "without an error measurement for its regime is never called correct.",
        "Regime: device + batch + lengths + max_len + layers, with cell, hidden and dtype kept "
        "as columns: nothing is averaged across different workloads in any table. Figures "
        "summarise parameters they do not show by a geometric mean (said on each).",
        "Times are asv's medians; intervals are asv's 99% confidence intervals. Each machine's "
        "tables use, per benchmark, its newest commit with measured points.",
        "Significance of the margin between the fastest and the runner-up: with at least "
        f"{s.MIN_SAMPLES} raw samples on both sides (asv run --record-samples), a two-sided "
        f"permutation test of the medians ({s.PERMUTATIONS} permutations, fixed seed), "
        f"significant when p < {ctx.alpha:g} and every asv round (a separate process: each "
        f"{s.SAMPLES_PER_ROUND} samples in order) reproduces the difference, since on a "
        "shared machine a whole process can be slow; otherwise significant only when asv's 99% "
        "intervals do not overlap. \"No significant difference\" is a verdict, not a failure. "
        f"Used here: {used}.",
        f"Speed-up = {ctx.baseline}'s time / the strategy's time, per regime; its interval is a "
        "bootstrap of the ratio of medians when samples exist, else the conservative ratio of "
        "the two 99% intervals. Memory: peak bytes of one forward call (CPU allocator events / "
        "CUDA allocator peak).",
        "Throughput: sequences/s = batch / time; valid tokens/s = sum of the workload's "
        "sequence lengths (rebuilt exactly as the suite draws them, seed 0) / time.",
        f"History: a regression is a time more than {ctx.threshold:.0%} above the previous "
        "commit's on the same machine, environment and regime, with non-overlapping 99% "
        "intervals.",
    ]


def _sources(ctx: _Context) -> str:
    df = ctx.df
    machines = sorted(str(m) for m in df["machine"].dropna().unique())
    commits = df["commit"].nunique()
    return (f"{len(ctx.loaded.files)} results files from {len(machines)} machine(s) "
            f"({', '.join(machines)}), {commits} commit(s)"
            + (f", read from {ctx.source}" if ctx.source else ""))


# -- HTML -------------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2rem auto;
max-width:1500px;padding:0 1.5rem;color:#1b1b1b;line-height:1.45}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #ddd;padding-bottom:.2rem;margin-top:2.2rem}
.meta{color:#555;font-size:.92rem}
table{border-collapse:collapse;font-size:.85rem;margin:.6rem 0}
th,td{border:1px solid #d0d0d0;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f2f2;position:sticky;top:0}
tr:nth-child(even) td{background:#fafafa}
.scroll{max-height:40rem;overflow:auto;border:1px solid #e5e5e5}
.headline{background:#eef5ff;border-left:4px solid #0072B2;padding:.6rem 1rem}
.problem-error{color:#a33}.problem-warning{color:#8a6d00}
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:.88rem}
nav a{margin-right:.8rem}
"""


def _table_html(df: pd.DataFrame, table_id: str | None = None, scroll: bool = False) -> str:
    if df.empty:
        return "<p><em>(no rows)</em></p>"
    text = df.to_html(index=False, table_id=table_id, na_rep="", border=0, escape=True)
    return f'<div class="scroll">{text}</div>' if scroll else text


def _figure_html(name: str, png: dict[str, bytes], caption: str) -> str:
    if name not in png:
        return ""
    data = base64.b64encode(png[name]).decode("ascii")
    return (f'<figure id="fig-{name}"><img alt="{html.escape(FIGURES[name])}" '
            f'src="data:image/png;base64,{data}"><figcaption>{html.escape(caption)} '
            f"(also as {name}.png / {name}.svg)</figcaption></figure>")


def render_html(ctx: _Context, png: dict[str, bytes]) -> str:
    """The self-contained page (no external reference of any kind)."""
    e = html.escape
    t = ctx.tables
    several = t["recommendations"]["machine"].nunique() > 1 if not t["recommendations"].empty \
        else False
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        "<title>birnn-bench report</title>", f"<style>{CSS}</style></head><body>",
        "<h1>birnn-bench: last hidden state of a bidirectional RNN — report</h1>",
        f'<p class="meta">{e(_sources(ctx))}. Generated '
        f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}.</p>",
        "<nav>" + "".join(f'<a href="#{a}">{e(b)}</a>' for a, b in (
            ("recommendation", "Recommendation"), ("correctness", "Correctness"),
            ("throughput", "Throughput"), ("speedup", "Speed-up"), ("memory", "Memory"),
            ("pareto", "Pareto front"), ("ops", "Op counts"),
            ("deployability", "Deployability"), ("history", "History"),
            ("environment", "Machines"),
            ("problems", "Data problems"), ("method", "Method"))) + "</nav>",
        '<h2 id="recommendation">Production recommendation</h2>',
        '<div class="headline">' + "".join(f"<p>{e(line)}</p>" for line in _headlines(ctx))
        + "</div>",
        "<h3>Inference (forward): the fastest correct strategy per device and regime</h3>",
        "<p>Only strategies measured correct on that very regime are candidates. "
        "<b>significant</b>: the margin over the runner-up survives the test named; "
        "<b>tied with</b>: correct strategies not significantly slower than the best. "
        '<a href="recommendations.csv">recommendations.csv</a></p>',
        _table_html(display_recommendations(t["recommendations"], several), "recommendations",
                    scroll=True),
        "<details><summary>Training step (forward + backward)</summary>",
        '<p><a href="recommendations_train_step.csv">recommendations_train_step.csv</a></p>',
        _table_html(display_recommendations(t["recommendations_train_step"], several),
                    "recommendations-train-step", scroll=True),
        "</details>",
        "<h3>How often each strategy is the best or tied with the best (inference)</h3>",
        _table_html(t["overall"].assign(share_best_or_tied=t["overall"]["share_best_or_tied"]
                                        .map(lambda x: f"{x:.0%}")), "overall"),
        '<h2 id="correctness">Correctness</h2>',
        _figure_html("correctness", png, "Share of regimes in which each strategy matches the "
                     "float64 oracle within the dtype's tolerance."),
        "<p>Correct regimes / measured regimes, per strategy and condition:</p>",
        _table_html(_correctness_pivot(t["correctness_matrix"]), "correctness-matrix",
                    scroll=True),
        '<p>Every verdict: <a href="correctness.csv">correctness.csv</a></p>',
        '<h2 id="throughput">Throughput</h2>',
        _figure_html("time_vs_batch", png, "Time per call vs batch size; dashed lines: the "
                     "strategy fails the oracle in some of the regimes summarised."),
        "<p>Per device and strategy, inference; geometric means over the regimes where the "
        'strategy is correct. Every point: <a href="throughput.csv">throughput.csv</a></p>',
        _table_html(_device_summary(ctx), "device-summary"),
        '<h2 id="speedup">Speed-up against the baseline</h2>',
        _figure_html("speedup", png, f"Speed-up against {ctx.baseline} (geometric mean over "
                     "regimes where the strategy is correct; blank: never correct there)."),
        '<p>Per regime, with intervals: <a href="speedup.csv">speedup.csv</a></p>',
        '<h2 id="memory">Memory</h2>',
        _figure_html("memory", png, f"Peak bytes of one forward call relative to "
                     f"{ctx.baseline}'s, per length distribution."),
        '<h2 id="pareto">Pareto front: time vs memory, correct strategies only</h2>',
        "<p>In how many regimes each correct strategy is on the time–memory Pareto front "
        '(inference). Per regime: <a href="pareto.csv">pareto.csv</a></p>',
        _table_html(_pareto_summary(t["pareto"]), "pareto"),
        '<h2 id="ops">Op counts</h2>',
        _ops_html(ctx, png),
        '<h2 id="deployability">Deployability</h2>',
        _deploy_html(ctx),
        '<h2 id="history">History</h2>',
        _figure_html("history", png, "Geometric mean time per strategy across commits."),
        _history_html(ctx),
        '<h2 id="environment">Machines and versions</h2>',
        _table_html(t["environment"], "environment", scroll=True),
        '<h2 id="problems">Data problems</h2>',
        _problems_html(ctx.loaded.problems),
        '<h2 id="method">Method</h2>',
        "<ul>" + "".join(f"<li>{e(n)}</li>" for n in _method_notes(ctx)) + "</ul>",
        "<p>Tables: " + ", ".join(f'<a href="{n}.csv">{n}.csv</a>' for n in TABLES
                                  if n in t) + "</p>",
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


OPS_INTRO = ("ATen operators one inference forward runs, counted at the dispatcher (below "
             "autograd: nn.LSTM shows as the kernels it reaches), median (min–max) over the "
             "regimes of each group; exact and repeatable. CUDA columns (kernels that ran, "
             "host-blocking CUDA calls) appear when a GPU run is in the results.")
OPS_MISSING = ("No profile benchmarks in these results (profiles.Profiles.track_ops, "
               "track_ops_extract; on CUDA Kernels.track_kernels, HostSyncs.track_host_syncs): "
               "run asv with benchmarks/profiles.py to add them.")
COMPILED_INTRO = ("torch.compile (default settings) against eager on the compile sub-grid "
                  "(asv benchmark deploy.Compiled): end-to-end inference of the rnn and the "
                  "strategy; speed-up = eager / compiled with its 99% interval; compile = the "
                  "compiled module's first call, caches off; output = the compiled output "
                  "against the float64 oracle on that very point.")
COMPILED_MISSING = ("No deploy.Compiled results: run asv with benchmarks/deploy.py to add "
                    "torch.compile against eager.")


def compiled_display(compiled: pd.DataFrame) -> pd.DataFrame:
    """The compiled table for reading: one row per device, regime and strategy."""
    if compiled.empty:
        return compiled
    verdict = np.select([~compiled["verified"], compiled["correct"]],
                        ["not checked", "correct"], "WRONG")
    return pd.DataFrame({
        "device": compiled["device_name"].astype(str) + " (" + compiled["device"].astype(str)
        + ")",
        "cell": compiled["cell"], "layers": compiled["layers"], "batch": compiled["batch"],
        "strategy": compiled["strategy"],
        "eager": compiled["eager_s"].map(_fmt_time),
        "compiled": compiled["compiled_s"].map(_fmt_time),
        "speed-up": [f"{x:.2f}x [{lo:.2f}, {hi:.2f}]" for x, lo, hi in
                     zip(compiled["speedup"], compiled["speedup_low"], compiled["speedup_high"],
                         strict=True)],
        "compile": compiled["compile_s"].map(_fmt_time),
        "output": verdict})


DEPLOY_MISSING = ("Not in this report: pass --deploy FILE (written by birnn-bench deploy --json "
                  "docs/deploy-<device>.json) to add the table.")


def _ops_html(ctx: _Context, png: dict[str, bytes]) -> str:
    if ctx.ops_summary.empty:
        return f"<p>{html.escape(OPS_MISSING)}</p>"
    notes = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>"
                    for k, v in ctx.ops_notes.items())
    return "\n".join([
        f'<p>{html.escape(OPS_INTRO)} Per point: <a href="op_counts.csv">op_counts.csv</a></p>',
        _table_html(ctx.ops_summary, "op-counts", scroll=True),
        _figure_html("op_counts", png, "ATen ops of one forward per strategy (median over "
                     "regimes), by cell and whether the batch holds unequal lengths; log "
                     "scale."),
        f"<ul>{notes}</ul>",
        f"<p>{html.escape(ctx.ops_caveat)}</p>" if ctx.ops_caveat else ""])


def _compiled_html(ctx: _Context) -> str:
    table = ctx.tables["compiled"]
    if table.empty:
        return f"<p>{html.escape(COMPILED_MISSING)}</p>"
    return "\n".join([f'<p>{html.escape(COMPILED_INTRO)} <a href="compiled.csv">compiled.csv'
                      "</a></p>",
                      _table_html(compiled_display(table), "compiled", scroll=True)])


def _deploy_html(ctx: _Context) -> str:
    compiled = "<h3>torch.compile against eager, timed</h3>\n" + _compiled_html(ctx)
    if ctx.deploy_summary is None or ctx.deploy_summary.empty:
        return f"<p>{html.escape(DEPLOY_MISSING)}</p>\n{compiled}"
    parts = ["<p>Each strategy deployed per technology; <b>works</b>: every probe shape ran "
             "and matched eager; <b>wrong</b>: ran but differs; <b>fails</b>: raised; "
             "<b>unavailable</b>: an optional dependency is missing. "
             '<a href="deployability.csv">deployability.csv</a></p>',
             _table_html(ctx.deploy_summary, "deployability", scroll=True)]
    if ctx.deploy_details is not None and not ctx.deploy_details.empty:
        parts += ["<p>Why (each distinct message; *: the first note of a technology's noted "
                  "cells):</p>",
                  _table_html(ctx.deploy_details, "deployability-details", scroll=True)]
    return "\n".join([*parts, compiled])


def _history_html(ctx: _Context) -> str:
    flagged = ctx.tables["regressions"]
    hist = ctx.tables["history_summary"]
    commits = hist["commit"].nunique() if not hist.empty else 0
    if commits < 2:
        return (f"<p>{commits} commit(s) measured per machine: no history to compare yet.</p>")
    reg = flagged[flagged["regression"]]
    text = (f"<p>{commits} commits. {len(reg)} regression(s) and "
            f"{int(flagged['improvement'].sum())} improvement(s) flagged "
            '(<a href="regressions.csv">regressions.csv</a>).</p>')
    if reg.empty:
        return text
    top = reg.sort_values("ratio", ascending=False).head(50)
    shown = pd.DataFrame({
        "machine": top["machine"], "device": top["device_name"], "metric": top["metric"],
        "variant": top["variant"], **{n: top[n] for n in s.REGIME}, "strategy": top["strategy"],
        "commit": top["commit"].astype(str).str[:8],
        "previous": top["previous_commit"].astype(str).str[:8],
        "time": top["time_s"].map(_fmt_time), "before": top["previous_time_s"].map(_fmt_time),
        "ratio": top["ratio"].map(lambda x: f"{x:.2f}x")})
    return text + _table_html(shown, "regressions", scroll=True)


def _problems_html(problems: Sequence[Problem]) -> str:
    if not problems:
        return "<p>None: every results file was read in full.</p>"
    items = "".join(f'<li class="problem-{html.escape(p.severity)}"><b>{html.escape(p.severity)}'
                    f"</b>: <code>{html.escape(p.path)}</code>: {html.escape(p.message)}</li>"
                    for p in problems)
    return f"<ul>{items}</ul>"


# -- Markdown ---------------------------------------------------------------------------------


def markdown_table(df: pd.DataFrame, max_rows: int | None = None) -> str:
    """A GitHub-flavoured Markdown table (pipes escaped)."""
    if df.empty:
        return "_(no rows)_"
    shown = df if max_rows is None else df.head(max_rows)

    def cell(v: object) -> str:
        if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
            return ""
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(c) for c in shown.columns) + " |",
             "|" + "|".join("---" for _ in shown.columns) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |"
              for row in shown.itertuples(index=False)]
    if max_rows is not None and len(df) > max_rows:
        lines.append(f"\n_{len(df) - max_rows} more rows in the CSV._")
    return "\n".join(lines)


def render_markdown(ctx: _Context) -> str:
    """The summary: headline, recommendations, correctness, throughput, problems, method."""
    t = ctx.tables
    several = t["recommendations"]["machine"].nunique() > 1 if not t["recommendations"].empty \
        else False
    parts = [
        "# birnn-bench report: summary", "",
        f"{_sources(ctx)}. Full report with figures: `index.html`.", "",
        "## Production recommendation", "",
        *[f"- {line}" for line in _headlines(ctx)], "",
        "### Inference: fastest correct strategy per device and regime", "",
        markdown_table(display_recommendations(t["recommendations"], several), 60), "",
        "### How often each strategy is the best or tied with the best", "",
        markdown_table(t["overall"]), "",
        "## Correctness (correct regimes / measured)", "",
        markdown_table(_correctness_pivot(t["correctness_matrix"])), "",
        "## Throughput, speed-up and memory (inference)", "",
        markdown_table(_device_summary(ctx)), "",
        "## Op counts", "",
        *([OPS_MISSING] if ctx.ops_summary.empty else
          [OPS_INTRO, "", markdown_table(ctx.ops_summary), "",
           *[f"- **{k}**: {v}" for k, v in ctx.ops_notes.items()],
           *(["", ctx.ops_caveat] if ctx.ops_caveat else [])]), "",
        "## Deployability", "",
        *([DEPLOY_MISSING] if ctx.deploy_summary is None or ctx.deploy_summary.empty else
          [markdown_table(ctx.deploy_summary), "",
           markdown_table(ctx.deploy_details) if ctx.deploy_details is not None
           and not ctx.deploy_details.empty else ""]), "",
        "### torch.compile against eager, timed", "",
        *([COMPILED_MISSING] if t["compiled"].empty else
          [COMPILED_INTRO, "", markdown_table(compiled_display(t["compiled"]))]), "",
        "## History", "",
        _history_md(ctx), "",
        "## Data problems", "",
        *([f"- {p.severity}: `{p.path}`: {p.message}" for p in ctx.loaded.problems]
          or ["None: every results file was read in full."]), "",
        "## Method", "",
        *[f"- {n}" for n in _method_notes(ctx)], "",
    ]
    return "\n".join(parts)


def _correctness_pivot(matrix: pd.DataFrame) -> pd.DataFrame:
    if matrix.empty:
        return matrix
    label = matrix.assign(cell=matrix["correct"].astype(str) + "/" + matrix["total"].astype(str))
    pivot = label.pivot_table(index="strategy", columns="condition", values="cell",
                              aggfunc="first", sort=False)
    order = plots._strategy_order(pivot.index)
    pivot = pivot.reindex(order)
    pivot.columns.name = None
    return pivot.reset_index()


def _history_md(ctx: _Context) -> str:
    hist = ctx.tables["history_summary"]
    commits = hist["commit"].nunique() if not hist.empty else 0
    if commits < 2:
        return f"{commits} commit(s) measured per machine: no history to compare yet."
    flagged = ctx.tables["regressions"]
    return (f"{commits} commits; {int(flagged['regression'].sum())} regression(s), "
            f"{int(flagged['improvement'].sum())} improvement(s) flagged "
            "(`regressions.csv`).")


# ---------------------------------------------------------------------------------------------
# writing


def write_report(out_dir: str | Path, report: Report) -> list[Path]:
    """Writes index.html, summary.md, the CSV tables and the figures (PNG + SVG) into
    ``out_dir``; returns the paths written.

    Only regular files, only inside ``out_dir`` (``analysis.output.write_file``): a symbolic
    link already there is replaced, never written through. CSV cells that a spreadsheet would
    run as formulas are neutralised; raw HTML and link syntax from the results show as text in
    summary.md."""
    from analysis import output

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = [("index.html", report.html.encode("utf-8")),
             ("summary.md", output.markdown_safe(report.markdown).encode("utf-8"))]
    files += [(f"{name}.csv", output.csv_text(table).encode("utf-8"))
              for name, table in report.tables.items()]
    files += [(f"{name}.{ext}", data) for name in report.png
              for ext, data in (("png", report.png[name]), ("svg", report.svg[name]))]
    return output.write_files(out, files)
