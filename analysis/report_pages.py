"""The report's two pages, from its content (``analysis.report_model.Content``): ``html``, one
self-contained file (inline CSS, figures as base64 PNG, nothing loaded from anywhere), and
``markdown``, the same grids and counts as ``summary.md``."""

from __future__ import annotations

import base64
import html
import math
import re
from datetime import datetime, timezone

import pandas as pd

from analysis import findings, history, tables
from analysis import format as fmt
from analysis.paired import MODE_LABELS
from analysis.report_model import Content
from birnn_bench.oracle import TOLERANCES
from birnn_bench.strategies import BASELINE

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:1.5rem auto;
max-width:1400px;padding:0 1.5rem;color:#1b1b1b;line-height:1.45}
h1{margin:0 0 .2rem}h2{border-bottom:2px solid #ddd;padding-bottom:.2rem;margin-top:2.2rem}
h3{margin:1.4rem 0 .3rem;font-size:1.05rem}
.meta{color:#555;font-size:.9rem;margin:.2rem 0}
.check{background:#eef5ff;border-left:4px solid #0072B2;padding:.4rem .8rem;font-size:.92rem}
.check.missing{background:#fff4e5;border-left-color:#d55e00}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #d0d0d0;padding:.22rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f2f2}
table.grid{font-size:.82rem}
table.grid td,table.grid th{padding:.2rem .35rem}
table.grid td.c{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
table.grid th.s{text-align:center;vertical-align:bottom}
table.grid tr>th:first-child{white-space:nowrap;font-weight:600}
table.grid td.fastest{font-weight:700}
table.grid td.tied{background:#dcefd9}
table.grid td.wrong{background:#eeeeee;color:#6b6b6b}
table.grid td.rec,table.grid td.aa{white-space:nowrap}
.legend{font-size:.85rem;color:#333;max-width:70rem}
.legend .tied{background:#dcefd9;padding:0 .3rem}
.legend .wrong{background:#eeeeee;color:#6b6b6b;padding:0 .3rem}
.problem-error{color:#a33}.problem-warning{color:#8a6d00}
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:.88rem}
nav a{margin-right:.8rem}
details summary{cursor:pointer;color:#0b5394}
"""

MAJOR_SECTIONS = (("answer", "The answer"), ("strategies", "Per strategy"),
                  ("ratios", "Ratio figures"), ("correctness", "Correctness"), ("memory", "Memory"),
                  ("ops", "Op counts"), ("deployability", "Deployability"), ("history", "History"),
                  ("environment", "Machines"), ("problems", "Data problems"), ("method", "Method"))
_TOLERANCES = ", ".join(f"{str(k).replace('torch.', '')} {v:g}" for k, v in TOLERANCES.items())
#: The Method section of both pages.
METHOD_NOTES = (
    f"Paired ratios (ratios.Paired*): in one process per regime and mode, every strategy "
    f"is timed in short blocks with {BASELINE}'s, all reading the same tensors, in a "
    "shuffled order every round; a strategy's ratio is the median of its per-round time "
    f"over the baseline's, with a distribution-free 99% interval. {BASELINE}'s own cell "
    "is 1 by definition; the A/A column is the baseline against itself in the same rounds, "
    "the resolution of the grid.",
    "Faster / slower / tied / unresolved: the one rule, birnn_bench.compare.verdict: a regime "
    "decides only when its A/A is within ±2% and not significant (else unresolved); then the "
    "99% interval excludes 1, or not. Tied with the fastest: the 99% intervals overlap.",
    "Correct: the error benchmark measured the strategy's max abs error against the float64 "
    "per-sequence oracle on the same machine and regime, within the dtype's tolerance "
    f"({_TOLERANCES}); not measured means not correct. Safe: correct on every condition of "
    "birnn-bench check; only a safe strategy is recommended, and the baseline unless a safe "
    "strategy is significantly faster.",
    "No table or figure mixes workloads: ratios are per regime, or a geometric mean over "
    "regimes where both strategies are correct, with the count. Absolute times "
    "(strategies.*.time_*) are kept for history only: strategies timed in different "
    "processes on a shared machine differ by the machine as much as by the code.",
    "History: see the History section for which changes count.",
)
NO_HISTORY = "Fewer than two commits measured on any machine: no history yet."
NO_PROBLEMS = "None: every results file the report uses was read in full."


def _e(value: object) -> str:
    return html.escape(str(value))


def sources_text(c: Content) -> str:
    df = c.loaded.data
    machines = sorted(str(m) for m in df["machine"].dropna().unique())
    return (f"Results: {', '.join(c.sources)} ({len(c.loaded.files)} files); "
            f"{len(machines)} machine(s): {', '.join(machines)}; "
            f"{df['commit'].nunique()} commit(s)")


# index.html
def legend_html() -> str:
    """``format.GRID_LEGEND`` with its Markdown marks as HTML (tied cells are also shaded)."""
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(fmt.GRID_LEGEND))
    text = re.sub(r"~~(.+?)~~ ✗", r'<span class="wrong"><s>\1</s> ✗</span>', text)
    text = text.replace("≈:", '<span class="tied">≈</span> (shaded):', 1)
    return f'<p class="legend">{text}</p>'


def cell_html(row: pd.Series, check_known: bool) -> str:
    """One strategy's cell of the grid: its ratio; bold = fastest correct, shaded ≈ = tied with
    it, struck ✗ on grey = wrong here, † = right here but not safe (only with a check)."""
    text = _e(fmt.ratio(row["ratio"]))
    title = fmt.ratio_interval(row["ratio"], row["low"], row["high"])
    error = row.get("error", float("nan"))
    if isinstance(error, int | float) and math.isfinite(error):
        title += f"; error {error:.2g}"
    if not row["correct"]:
        return f'<td class="c wrong" title="{_e(title)}; wrong here"><s>{text}</s> ✗</td>'
    classes = "c"
    if row["fastest_correct"]:
        classes += " fastest"
    elif row["tied_with_fastest"]:
        classes += " tied"
        text += " ≈"
    if check_known and not row["safe"]:
        text += f" {fmt.DAGGER}"
        title += "; not safe: fails a condition of the check"
    return f'<td class="{classes}" title="{_e(title)}">{text}</td>'


def _recommended(rec: pd.Series | None, check_known: bool) -> tuple[str, str]:
    """(recommended cell, vs-baseline cell)."""
    if not check_known:
        return "— (no check file)", ""
    if rec is None or not isinstance(rec.get("recommended"), str):
        return "none: no safe strategy correct here", ""
    name = rec["recommended"]
    if name == BASELINE:
        return f"<code>{_e(name)}</code>", "safe default"
    shown = fmt.ratio_interval(rec["ratio"], rec["low"], rec["high"])
    return f"<code>{_e(name)}</code> {_e(shown)}", _e(rec["verdict"])


def grid_html(group: pd.DataFrame, recs: pd.DataFrame, check_known: bool) -> str:
    """The Compare grid of ONE machine, device and mode (``recs``: its recommendations): rows
    regimes, columns strategies (registry order), then the recommendation (safe strategies
    only) with its interval, the outcome against the baseline, and the baseline's A/A."""
    order = fmt.strategy_order(group["strategy"])
    by_regime = {r["regime"]: r for _, r in recs.iterrows()}
    heads = "".join(f'<th class="s">{_e(n).replace("_", "_<wbr>")}</th>' for n in order)
    body = [f"<tr><th>regime</th>{heads}<th>recommended</th><th>vs {BASELINE}</th>"
            "<th>A/A</th></tr>"]
    for regime, rows in group.groupby("regime", sort=False):
        cells = {r["strategy"]: cell_html(r, check_known) for _, r in rows.iterrows()}
        rec, verdict = _recommended(by_regime.get(regime), check_known)
        aa = rows[rows["strategy"] == BASELINE]
        aa_text = fmt.interval(aa.iloc[0]["aa_low"], aa.iloc[0]["aa_high"]) if not aa.empty else ""
        body.append(f'<tr data-regime="{_e(regime)}"><th>{_e(rows.iloc[0]["label"])}</th>'
                    + "".join(cells.get(n, "<td></td>") for n in order)
                    + f'<td class="rec">{rec}</td><td>{verdict}</td>'
                    f'<td class="aa">{_e(aa_text)}</td></tr>')
    return f'<table class="grid">{"".join(body)}</table>'


def answer_html(c: Content) -> str:
    """The grids, one per machine, device and mode, with the legend once above them; first,
    the sections whose points were all rejected."""
    lost = "".join(f'<p class="problem-error"><b>{_e(note)}</b></p>' for note in c.lost)
    return lost + _grids_html(c)


def _grids_html(c: Content) -> str:
    if c.grid.empty and c.lost:
        return "<p>No usable paired ratios: no grid.</p>"
    if c.grid.empty:
        return ("<p>No paired ratios in these results (the <code>ratios.Paired*</code> "
                "benchmarks; results recorded before them hold absolute times only, which "
                "compare processes, not strategies): no grid. Run the suite at this commit to "
                "add them.</p>")
    parts = [legend_html()]
    machines = {str(m) for m in c.loaded.data["machine"].dropna().unique()}
    without = sorted(machines - {str(m) for m in c.grid["machine"].unique()})
    if without:
        parts.append(f'<p class="meta">No paired ratios from {_e(", ".join(without))}: '
                     "results recorded before the ratios.Paired* benchmarks hold absolute "
                     "times only; they add correctness and history below.</p>")
    recs = c.recommendations
    for (machine, device_name, device, mode), group in tables.grid_groups(c.grid):
        mine = recs[(recs["machine"] == machine) & (recs["device_name"] == device_name)
                    & (recs["mode"] == mode)]
        parts += [f'<h3 id="grid-{_e(machine)}-{_e(device)}-{_e(mode)}">'
                  f"{_e(fmt.device_title(machine, device_name, device))} · "
                  f"{_e(MODE_LABELS.get(mode, mode))}</h3>"
                  f'<p class="meta">commit {_e(str(group["commit"].iloc[0])[:8])}, '
                  f"{group['regime'].nunique()} regime(s); cells: time over {BASELINE}'s</p>",
                  grid_html(group, mine, c.check is not None)]
    return "\n".join(parts)


def check_html(c: Content) -> str:
    if c.check is None:
        return ('<p class="check missing"><b>Correctness check missing</b> (neither in the '
                "results, from <code>strategies.Correctness</code>, nor a file): no strategy "
                "is recommended, since which strategies are safe (correct on every condition "
                "of <code>birnn-bench check</code>) is unknown. Pass <code>--check FILE</code> "
                "(written by <code>birnn-bench check --json FILE</code>).</p>")
    safe = ", ".join(f"<code>{_e(n)}</code>" for n in c.check.safe) or "none"
    total = max((int(i.get("total", 0)) for i in c.check.summary.values()), default=0)
    return (f'<p class="check">Correctness check <code>{_e(c.check.source)}</code> (torch '
            f"{_e(c.check.torch)}, {total} conditions per strategy). Safe, i.e. correct on "
            f"every condition, and so the only strategies ever recommended: {safe}.</p>")


def table_html(df: pd.DataFrame, table_id: str | None = None) -> str:
    if df.empty:
        return "<p><em>(no rows)</em></p>"
    return df.to_html(index=False, table_id=table_id, na_rep="", border=0, escape=True)


def figure_html(name: str, png: dict[str, bytes], alt: str, caption: str) -> str:
    if name not in png:
        return ""
    data = base64.b64encode(png[name]).decode("ascii")
    return (f'<figure id="fig-{name}"><img alt="{_e(alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_e(caption)} ({name}.png / {name}.svg)</figcaption></figure>")


def _strategies_html(c: Content) -> str:
    if c.strategies.empty:
        return "<p>No grid, so nothing to summarise.</p>"
    parts = ["<p>Counts over the regimes of each grid; the geometric mean of a strategy's "
             f"ratio is taken only over the regimes where it and {BASELINE} are both "
             'correct, and says over how many. <a href="strategies.csv">strategies.csv</a></p>']
    for title, shown in fmt.strategy_tables(c.strategies, BASELINE, c.check is not None):
        parts += [f"<h3>{_e(title)}</h3>", table_html(shown)]
    return "\n".join(parts)


def _correctness_html(c: Content) -> str:
    wide = tables.correctness_grid(c.correctness)
    if wide.empty:
        return "<p>No error benchmark (track_max_abs_error) in these results.</p>"
    parts = ["<p>The error benchmark on every regime each machine measured (newest run): the "
             "max abs error against the float64 oracle over the dtype's tolerance. "
             '<a href="correctness.csv">correctness.csv</a></p>']
    for (machine, device_name, device), group in wide.groupby(tables.DEVICE, sort=True):
        shown = group.drop(columns=tables.DEVICE).rename(columns={"label": "regime"})
        shown = shown.dropna(axis=1, how="all")
        wrong = int(shown.iloc[:, 1:].astype(str).apply(lambda col: col.str.startswith("WRONG"))
                    .to_numpy().sum())
        parts.append(f"<details><summary>{_e(fmt.device_title(machine, device_name, device))}: "
                     f"{len(shown)} regimes, {wrong} wrong cells</summary>"
                     f"{table_html(shown)}</details>")
    return "\n".join(parts)


def _deploy_html(c: Content) -> str:
    compiled = c.compiled
    if c.deploy is None or c.deploy.empty:
        parts = ["<p>No deployability results given: pass <code>--deploy FILE</code> (written by "
                 "<code>birnn-bench deploy --json FILE</code>, e.g. "
                 "<code>docs/deploy-cpu.json</code>).</p>"]
    else:
        parts = ["<p>Each strategy deployed per technology; <b>works</b>: every probe shape "
                 "ran and matched eager; <b>wrong</b>: ran but differs; <b>fails</b>: raised; "
                 "<b>unavailable</b>: an optional dependency is missing. "
                 '<a href="deployability.csv">deployability.csv</a></p>',
                 table_html(findings.deploy_table(c.deploy), "deployability")]
        details = findings.deploy_details(c.deploy)
        if not details.empty:
            parts += ["<details><summary>Why (each distinct message)</summary>",
                      table_html(details, "deployability-details"), "</details>"]
    parts.append("<h3>torch.compile against eager</h3>")
    if compiled.empty:
        parts.append("<p>No compiled.Compiled results.</p>")
    else:
        shown = pd.DataFrame({
            "machine": compiled["machine"], "regime": compiled["label"],
            "strategy": compiled["strategy"], "compiled / eager": [
                fmt.ratio_interval(r, lo, hi) for r, lo, hi in zip(
                compiled["ratio"], compiled["low"], compiled["high"], strict=True)],
            "verdict": compiled["verdict"], "compile": compiled["compile_s"].map(fmt.seconds),
            "compiled output": ["right" if ok else "WRONG" for ok in compiled["correct"]]})
        parts += ["<p>Unpaired: eager and compiled were timed in separate processes, so the "
                  "interval combines asv's two 99% intervals (conservative). "
                  '<a href="compiled.csv">compiled.csv</a></p>', table_html(shown, "compiled")]
    return "\n".join(parts)


def _history_html(c: Content, png: dict[str, bytes]) -> str:
    if not c.has_history:
        return f"<p>{NO_HISTORY}</p>"
    commits, judged = c.commits, c.history[c.history["judged"]]
    shown = pd.DataFrame({
        "machine": commits["machine"], "commit": commits["commit"].astype(str).str[:8],
        "date": pd.to_datetime(commits["date"]).dt.strftime("%Y-%m-%d %H:%M"),
        "against": commits["previous_commit"].fillna("").astype(str).str[:8],
        "worse": commits["regressions"], "better": commits["improvements"],
        "what changed": commits["what"]})
    return "\n".join([
        figure_html("history", png, "History", "Above: changes that count, per commit. "
                    "Below: one line per strategy over a fixed set of regimes."),
        f"<p>{html.escape(history.RULES[0].upper() + history.RULES[1:])} "
        f"{judged.groupby(['machine', 'benchmark', 'regime', 'strategy', 'variant']).ngroups}"
        ' judged series. <a href="regressions.csv">regressions.csv</a>, '
        '<a href="history_summary.csv">history_summary.csv</a></p>',
        table_html(shown, "history-commits")])


def _problems_html(c: Content) -> str:
    note = (f"<p>{c.hidden_problems} note(s) on older, partial results files left out: the "
            "tables use each benchmark's newest complete run, and those files only add "
            "history.</p>") if c.hidden_problems else ""
    if not c.problems:
        return f"<p>{NO_PROBLEMS}</p>{note}"
    items = "".join(f'<li class="problem-{_e(p.severity)}"><b>{_e(p.severity)}</b>: '
                    f"<code>{_e(p.path)}</code>: {_e(p.message)}</li>" for p in c.problems)
    return f"<ul>{items}</ul>{note}"


def render_html(c: Content, out_tables: dict[str, pd.DataFrame], png: dict[str, bytes],
                descriptions: dict[str, str]) -> str:
    """index.html; ``descriptions``: what each CSV table holds."""
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        "<title>birnn-bench report</title>", f"<style>{CSS}</style></head><body>",
        "<h1>birnn-bench: the last hidden state of a bidirectional RNN</h1>",
        f'<p class="meta">{_e(sources_text(c))}. Generated {generated}.</p>', check_html(c),
        "<nav>" + "".join(f'<a href="#{a}">{_e(b)}</a>' for a, b in MAJOR_SECTIONS) + "</nav>",
        '<h2 id="answer">The answer at a glance</h2>', answer_html(c),
        '<h2 id="strategies">Per strategy</h2>', _strategies_html(c),
        '<h2 id="ratios">Paired ratios, as figures</h2>',
        figure_html("ratios_forward", png, "Paired ratios, forward", "Each strategy's time "
                    f"over {BASELINE}'s per regime; grey and crossed: wrong on that regime.")
        or "<p>No paired ratios.</p>",
        figure_html("ratios_train_step", png, "Paired ratios, training step", "The same for "
                    "a training step (regimes where one is measured)."),
        '<h2 id="correctness">Correctness per regime</h2>', _correctness_html(c),
        '<h2 id="memory">Memory</h2>',
        figure_html("memory", png, "Peak memory", f"Peak bytes of one forward over "
                    f"{BASELINE}'s on the same regime (exact, identical run to run).")
        or "<p>No peak-memory results.</p>",
        '<p>Per point: <a href="memory.csv">memory.csv</a></p>',
        '<h2 id="ops">Op counts</h2>',
        figure_html("op_counts", png, "ATen ops", f"ATen ops of one forward over "
                    f"{BASELINE}'s on the same regime (counted at the dispatcher, exact).")
        or "<p>No profile benchmarks (profiles.Profiles.track_ops) in these results.</p>",
        '<p>Per point: <a href="op_counts.csv">op_counts.csv</a></p>',
        '<h2 id="deployability">Deployability</h2>', _deploy_html(c),
        '<h2 id="history">History</h2>', _history_html(c, png),
        '<h2 id="environment">Machines and versions</h2>',
        table_html(out_tables["environment"], "environment"),
        '<h2 id="problems">Data problems</h2>', _problems_html(c), '<h2 id="method">Method</h2>',
        "<ul>" + "".join(f"<li>{_e(n)}</li>" for n in METHOD_NOTES) + "</ul>",
        "<p>Tables: " + ", ".join(f'<a href="{n}.csv" title="{_e(descriptions[n])}">{n}.csv</a>'
                                  for n in descriptions if n in out_tables) + "</p>",
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


# summary.md
def _md_grid(group: pd.DataFrame, check_known: bool) -> pd.DataFrame:
    """``format.grid_frame`` of one machine, device and mode; without a check no cell gets a
    dagger and nothing is recommended."""
    frame = fmt.grid_frame(group if check_known else group.assign(safe=True))
    if check_known:
        picked = group.groupby("regime", sort=False)["recommended"].any().to_numpy()
        frame.loc[~picked, "recommended"] = "none: no safe strategy correct here"
    else:
        frame["recommended"] = "— (no check file)"
        frame[f"vs {BASELINE}"] = ""
    return frame


def _md_check(c: Content) -> str:
    if c.check is None:
        return ("**Correctness check missing** (neither in the results nor a file): nothing is "
                "recommended, since which "
                "strategies are safe is unknown. Pass `--check FILE` (written by "
                "`birnn-bench check --json FILE`).")
    safe = ", ".join(f"`{n}`" for n in c.check.safe) or "none"
    return (f"Correctness check `{c.check.source}` (torch {c.check.torch}): safe, and so the "
            f"only strategies ever recommended: {safe}.")


def _md_answer(c: Content) -> list[str]:
    out = [*(f"**{note}.**" for note in c.lost), *([""] if c.lost else [])]
    if c.grid.empty:
        return [*out, "No usable paired ratios: no grid." if c.lost else "No paired ratios in "
                "these results (the `ratios.Paired*` benchmarks): no grid.", ""]
    out += [fmt.GRID_LEGEND, ""]
    for (machine, device_name, device, mode), group in tables.grid_groups(c.grid):
        out += [f"### {machine} · {device_name} ({device}) · {MODE_LABELS.get(mode, mode)}", "",
                f"Commit {str(group['commit'].iloc[0])[:8]}; cells: time over {BASELINE}'s.",
                "", fmt.markdown_table(_md_grid(group, c.check is not None)), ""]
    return out


def _md_strategies(c: Content) -> list[str]:
    if c.strategies.empty:
        return []
    out = ["## Per strategy", "",
           f"Geometric means only over regimes where the strategy and {BASELINE} are both "
           "correct (how many: after the value).", ""]
    for title, shown in fmt.strategy_tables(c.strategies, BASELINE, c.check is not None):
        out += [f"### {title}", "", fmt.markdown_table(shown), ""]
    return out


def _md_history(c: Content) -> list[str]:
    if not c.has_history:
        return [NO_HISTORY]
    commits = c.commits
    changed = commits[(commits["regressions"] > 0) | (commits["improvements"] > 0)]
    lines = [f"{len(commits)} commit(s) measured; {history.RULES}", ""]
    if changed.empty:
        return [*lines, "No change that counts between consecutive commits."]
    return lines + [f"- `{str(r.commit)[:8]}` on {r.machine} (against "
                    f"`{str(r.previous_commit)[:8]}`): {r.what}" for r in changed.itertuples()]


def render_markdown(c: Content) -> str:
    """summary.md."""
    parts = [
        "# birnn-bench report: summary", "",
        f"{sources_text(c)}. Full report with figures: `index.html`.", "", _md_check(c), "",
        "## The answer at a glance", "", *_md_answer(c), *_md_strategies(c),
        "## History", "", *_md_history(c), "",
        "## Data problems", "",
        *([f"- {p.severity}: `{p.path}`: {p.message}" for p in c.problems] or [NO_PROBLEMS]),
        *(["", f"{c.hidden_problems} note(s) on older, partial results files left out "
               "(history only)."] if c.hidden_problems else []), "",
        "## Method", "", *[f"- {n}" for n in METHOD_NOTES], "",
    ]
    return "\n".join(parts)
