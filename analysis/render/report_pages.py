"""The report's two pages, from its content (``analysis.model.report.Content``): ``html``, one
self-contained file (inline CSS, figures as base64 PNG, nothing loaded from anywhere), and
``markdown``, the same grids and counts as ``summary.md``."""

from __future__ import annotations

import base64
import html
from datetime import datetime, timezone

import pandas as pd

from analysis.load import problems
from analysis.model import deployability, tables
from analysis.model import numbers as num
from analysis.model.paired import MODE_LABELS
from analysis.model.report import Content
from analysis.render import format as fmt
from analysis.render import report_answer as ra
from analysis.render.report_answer import slug
from birnn_bench.oracle import TOLERANCES
from birnn_bench.strategies import BASELINE

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:1.5rem auto;
max-width:1400px;padding:0 1.2rem;color:#1b1b1b;line-height:1.45}
h1{margin:0 0 .2rem}h2{border-bottom:2px solid #ddd;padding-bottom:.2rem;margin-top:2.2rem}
h3{margin:1.4rem 0 .3rem;font-size:1.05rem}
.meta{color:#555;font-size:.9rem;margin:.2rem 0}
.check{background:#eef5ff;border-left:4px solid #0072B2;padding:.4rem .8rem;font-size:.92rem}
.check.missing{background:#fff4e5;border-left-color:#d55e00}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0;max-width:100%}
th,td{border:1px solid #d0d0d0;padding:.22rem .5rem;text-align:left;vertical-align:top;
overflow-wrap:break-word}
th{background:#eceff3;color:#1b1b1b}
table.compact{font-size:.8rem}table.compact td,table.compact th{padding:.15rem .35rem}
table.compact th{overflow-wrap:anywhere}
#table-history-commits td:first-child,#table-environment td:first-child{white-space:nowrap}
table.grid{font-size:.78rem}
table.grid td,table.grid th{padding:.18rem .3rem;overflow-wrap:normal}
table.grid td.c{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
table.grid th.s{text-align:center;vertical-align:bottom;font-weight:600}
table.grid tr>th:first-child{font-weight:600;min-width:7.5rem}
table.grid td.pick,.legend .pick{font-weight:700;background:#d4e6f7;
box-shadow:inset 0 0 0 2px #0b5394}
.legend .pick{padding:0 .3rem}
table.grid td.tied,.legend .tied{background:#e3f1e0}
table.grid td.wrong,.legend .wrong{background:#eeeeee;color:#595959}
.floor{display:inline-block;font-size:.68rem;font-weight:600;color:#7a3b00;
border:1px solid #c98a4b;border-radius:3px;padding:0 .2rem;line-height:1.2}
table.grid td.c .floor{display:block;margin:.1rem 0 0 auto;width:max-content}
table.grid td.rec{white-space:nowrap;line-height:1.25}
table.grid td.rec small{color:#444}
.unresolved{color:#9c4a00}table.grid td.aa{white-space:nowrap}
ul.answer{padding-left:1.2rem}ul.answer li{margin:.25rem 0}
p.agree{font-weight:600}
.legend{font-size:.85rem;color:#333;max-width:70rem}
.legend .tied,.legend .wrong{padding:0 .3rem}
.problem-error{color:#a33}.problem-warning{color:#7a5c00}
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:.88rem}
nav a{margin-right:.8rem}
details summary{cursor:pointer;color:#0b5394}
"""

MAJOR_SECTIONS = (("answer", "The answer"), ("grid", "Compare grid"),
                  ("strategies", "Per strategy"),
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
    "decides only when its A/A's half-width is within ±2% and it is not significant (else "
    "unresolved); then the "
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
def answer_html(c: Content) -> str:
    """The Answer block: the sections whose points were all rejected first, then the answer
    lines, the machines' agreement and differences."""
    lost = "".join(f'<p class="problem-error"><b>{_e(note)}</b></p>' for note in c.lost)
    if c.grid.empty:
        return lost + _no_grid_html(c)
    if c.check is None:
        return lost + "<p>No answer: which strategies are safe is unknown (see above).</p>"
    return lost + ra.answer_html(c.answer, c.agreement, c.differences, c.facts)


def _no_grid_html(c: Content) -> str:
    if c.lost:
        return "<p>No usable paired ratios: no grid.</p>"
    return ("<p>No paired ratios in these results (the <code>ratios.Paired*</code> "
            "benchmarks; results recorded before them hold absolute times only, which "
            "compare processes, not strategies): no grid. Run the suite at this commit to "
            "add them.</p>")


def _grids_html(c: Content) -> str:
    if c.grid.empty:
        return _no_grid_html(c)
    machines = [str(m) for m in c.loaded.data["machine"].dropna().unique()]
    return ra.grids_html(c.grid, machines, c.check is not None,
                         c.check.summary if c.check is not None else None)


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


def table_html(df: pd.DataFrame, table_id: str | None = None, classes: str | None = None) -> str:
    """``df`` as an HTML table; its id ``table-<table_id>`` (never a section's id)."""
    if df.empty:
        return "<p><em>(no rows)</em></p>"
    return df.to_html(index=False, table_id=f"table-{table_id}" if table_id else None, na_rep="",
                      border=0, escape=True, classes=classes)


def figure_html(name: str, png: dict[str, bytes], alt: str, caption: str) -> str:
    if name not in png:
        return ""
    data = base64.b64encode(png[name]).decode("ascii")
    return (f'<figure id="fig-{name}"><img alt="{_e(alt)}" src="data:image/png;base64,{data}">'
            f'<figcaption>{_e(caption)} (<a href="{name}.png">{name}.png</a> / '
            f'<a href="{name}.svg">{name}.svg</a>)</figcaption></figure>')


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
             "max abs error against the float64 oracle over the dtype's tolerance (cells: right "
             "or WRONG, then that quotient). "
             '<a href="correctness.csv">correctness.csv</a></p>']
    for (machine, device_name, device), group in wide.groupby(tables.DEVICE, sort=True):
        shown = group.drop(columns=tables.DEVICE).rename(columns={"label": "regime"})
        shown = shown.dropna(axis=1, how="all")
        wrong = int(shown.iloc[:, 1:].astype(str).apply(lambda col: col.str.startswith("WRONG"))
                    .to_numpy().sum())
        parts.append(f"<details><summary>{_e(fmt.device_title(machine, device_name, device))}: "
                     f"{len(shown)} regimes, {wrong} wrong cells</summary>"
                     f"{table_html(shown, slug('correctness', machine, device), 'compact')}"
                     "</details>")
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
                 "<p>Measured by: " + "; ".join(ra.inline_html(s) for s in
                                                deployability.deploy_sources(c.deploy)) + ".</p>",
                 table_html(deployability.deploy_table(c.deploy), "deployability", "compact")]
        details = deployability.deploy_details(c.deploy)
        if not details.empty:
            parts += ["<details><summary>Why (each distinct message)</summary>",
                      table_html(details, "deployability-details", "compact"), "</details>"]
    parts.append("<h3>torch.compile against eager</h3>")
    if compiled.empty:
        parts.append("<p>No compiled.Compiled results.</p>")
    else:
        shown = pd.DataFrame({
            "machine": compiled["machine"], "regime": compiled["label"],
            "strategy": compiled["strategy"], "compiled / eager": [
                num.ratio_interval(r, lo, hi) for r, lo, hi in zip(
                compiled["ratio"], compiled["low"], compiled["high"], strict=True)],
            "verdict": compiled["verdict"], "compile": compiled["compile_s"].map(num.seconds),
            "compiled output": ["right" if ok else "WRONG" for ok in compiled["correct"]]})
        parts += ["<p>Unpaired: eager and compiled were timed in separate processes, so the "
                  "interval combines asv's two 99% intervals (conservative). "
                  '<a href="compiled.csv">compiled.csv</a></p>', table_html(shown, "compiled")]
    return "\n".join(parts)


def _history_html(c: Content, png: dict[str, bytes]) -> str:
    if not c.has_history:
        return f"<p>{NO_HISTORY}</p>"
    commits, judged = c.commits, c.history[c.history["judged"]]
    hardware = c.history.drop_duplicates(["machine", "commit"]).set_index(
        ["machine", "commit"])["hardware"]
    mixed = hardware.groupby(level="machine").nunique()
    mixed = [str(m) for m in mixed[mixed > 1].index]
    shown = pd.DataFrame({
        "machine": commits["machine"],
        "hardware": [hardware.get((m, k), "") for m, k in
                     zip(commits["machine"], commits["commit"], strict=True)],
        "commit": commits["commit"].astype(str).str[:8],
        "date": pd.to_datetime(commits["date"]).dt.strftime("%Y-%m-%d %H:%M"),
        "against": commits["previous_commit"].fillna("").astype(str).str[:8],
        "worse": commits["regressions"], "better": commits["improvements"],
        "what changed": commits["what"]})
    return "\n".join([
        *(f'<p class="problem-warning"><b>{_e(m)} holds results of more than one hardware</b>: '
          "its series split at the change (a difference there is the machine, not the code); "
          'see <a href="#problems">Data problems</a>.</p>' for m in mixed),
        figure_html("history", png, "History", "One column per machine name and hardware "
                    "with two commits or more; above: changes that count, per commit; below: "
                    "one line per strategy over a fixed set of regimes.")
        or "<p>No series has two commits with points of one quantity: nothing to draw.</p>",
        f"<p>{html.escape(c.history_rules[0].upper() + c.history_rules[1:])} "
        f"{judged.groupby(['machine', 'benchmark', 'regime', 'strategy', 'variant']).ngroups}"
        ' judged series. <a href="regressions.csv">regressions.csv</a>, '
        '<a href="history_summary.csv">history_summary.csv</a></p>',
        table_html(shown, "history-commits", "compact")])


def _problems_html(c: Content) -> str:
    note = (f"<p>{c.hidden_problems} note(s) on older, partial results files left out: the "
            "tables use each benchmark's newest complete run, and those files only add "
            "history.</p>") if c.hidden_problems else ""
    if not c.problems:
        return f"<p>{NO_PROBLEMS}</p>{note}"
    kinds = problems.grouped(c.problems)
    shown = kinds.rename(columns={"kind": "problem", "action": "what clears it"})
    items = "".join(f'<li class="problem-{_e(p.severity)}"><b>{_e(p.severity)}</b>: '
                    f"<code>{_e(p.path)}</code>: {_e(p.message)}</li>" for p in c.problems)
    return (f"<p>{len(c.problems)} problem(s) of {len(kinds)} kind(s); every message in "
            '<a href="problems.csv">problems.csv</a>.</p>'
            + table_html(shown, "problems", "compact")
            + f"<details><summary>Each message ({len(c.problems)})</summary><ul>{items}</ul>"
            f"</details>{note}")


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
        '<h2 id="answer">The answer</h2>', answer_html(c),
        '<h2 id="grid">The Compare grid</h2>', _grids_html(c),
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
        "<p>One row per machine name and hardware; commits oldest first, each with the "
        "number of benchmarks it measured.</p>",
        table_html(out_tables["environment"], "environment", "compact"),
        '<h2 id="problems">Data problems</h2>', _problems_html(c), '<h2 id="method">Method</h2>',
        "<ul>" + "".join(f"<li>{_e(n)}</li>" for n in METHOD_NOTES) + "</ul>",
        "<p>Tables: " + ", ".join(f'<a href="{n}.csv" title="{_e(descriptions[n])}">{n}.csv</a>'
                                  for n in descriptions if n in out_tables) + "</p>",
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


# summary.md
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
    if c.check is None:
        return [*out, "No answer: which strategies are safe is unknown (see above).", ""]
    return out + ra.answer_markdown(c.answer, c.agreement, c.differences, c.facts)


def _md_grids(c: Content) -> list[str]:
    if c.grid.empty:
        return []
    out = ["## The Compare grid", "", fmt.GRID_LEGEND, ""]
    summary = c.check.summary if c.check is not None else None
    for (machine, device_name, device, mode), group in tables.grid_groups(c.grid):
        out += [f"### {machine} · {device_name} ({device}) · {MODE_LABELS.get(mode, mode)}", "",
                f"Commit {str(group['commit'].iloc[0])[:8]}; cells: time over {BASELINE}'s.",
                "", *ra.grid_markdown(group, c.check is not None, summary)]
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
    lines = [f"{len(commits)} commit(s) measured; {c.history_rules}", ""]
    if changed.empty:
        return [*lines, "No change that counts between consecutive commits."]
    return lines + [f"- `{str(r.commit)[:8]}` on {r.machine} (against "
                    f"`{str(r.previous_commit)[:8]}`): {r.what}" for r in changed.itertuples()]


def render_markdown(c: Content) -> str:
    """summary.md."""
    parts = [
        "# birnn-bench report: summary", "",
        f"{sources_text(c)}. Full report with figures: `index.html`.", "", _md_check(c), "",
        "## The answer", "", *_md_answer(c), *_md_grids(c), *_md_strategies(c),
        "## History", "", *_md_history(c), "",
        "## Data problems", "",
        *([f"- {r.severity} ×{r.count}: {r.kind} ({r.files}). What clears it: {r.action}."
           for r in problems.grouped(c.problems).itertuples()] or [NO_PROBLEMS]),
        *(["", "Every message: `problems.csv`."] if c.problems else []),
        *(["", f"{c.hidden_problems} note(s) on older, partial results files left out "
               "(history only)."] if c.hidden_problems else []), "",
        "## Method", "", *[f"- {n}" for n in METHOD_NOTES], "",
    ]
    return "\n".join(parts)
