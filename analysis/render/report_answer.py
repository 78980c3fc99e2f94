"""The top of the report's pages and of FINDINGS: the Answer block (``model.answer``: one line
per machine, device, mode and cell; whether the machines agree; where their ratios differ, with
the hardware facts) and the Compare grids, the recommended cell highlighted. HTML and Markdown
from the same tables; pure (DataFrames in, text out)."""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping

import pandas as pd

from analysis.model import numbers as num
from analysis.model import paired, tables
from analysis.model.answer import LINE_KEYS
from analysis.model.paired import MODE_LABELS
from analysis.render import format as fmt
from birnn_bench.compare import RESOLVED
from birnn_bench.strategies import BASELINE

#: Rows of the machines' differences shown on a page (the CSV holds them all).
SHOWN_DIFFERENCES = 15
DIFFERENCE_RULE = ("both machines measured correct, whose paired ratios differ by more than "
                   "their resolution: the quotient of the two 99% intervals lies beyond 1 ± the "
                   "larger of the two regimes' A/A half-widths (and the process-level A/A of "
                   "docs/resolution.json, when given)")


def _cells(n: int) -> str:
    return f"{n} cell{'s' if n != 1 else ''} (device, mode, regime, strategy)"


def _e(value: object) -> str:
    return html.escape(str(value))


def inline_html(markdown: str) -> str:
    """The Markdown marks the generated texts use (`code`, **bold**, ~~struck~~) as HTML."""
    text = html.escape(markdown, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    return re.sub(r"~~(.+?)~~", r"<s>\1</s>", text)


def slug(*parts: object) -> str:
    """An HTML id from ``parts`` (letters, digits, ``-``)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", "-".join(str(p) for p in parts)).strip("-").lower()


def _heading(machine: str, hardware: str, device: str, commit: str) -> str:
    return (f"{machine} · {hardware or 'hardware not recorded'} · {device}, commit "
            f"{str(commit)[:8]}")


def _groups(lines: pd.DataFrame) -> list[tuple[tuple, pd.DataFrame]]:
    return list(lines.groupby(["machine", "hardware", "device"], sort=False)) \
        if not lines.empty else []


def _difference_frame(differences: pd.DataFrame, limit: int | None) -> pd.DataFrame:
    shown = differences.head(limit) if limit else differences
    fixed = ["mode", "regime", "label", "strategy", "apart"]
    machines = [c for c in shown.columns if c not in fixed]
    return pd.DataFrame({
        "mode": shown["mode"].map(lambda m: MODE_LABELS.get(m, m)).str.replace(
            " (forward)", "", regex=False),
        "regime": shown["label"], "strategy": shown["strategy"],
        **{m: shown[m].fillna("—") for m in machines},
        "apart": shown["apart"].map(num.ratio)})


def answer_markdown(lines: pd.DataFrame, agreement: str, differences: pd.DataFrame,
                    facts: pd.DataFrame, level: str = "###") -> list[str]:
    """The Answer block as Markdown lines (a heading per machine and device, one list item per
    mode and cell, the agreement, the differences with the hardware facts)."""
    if lines.empty:
        return ["No paired ratios: no answer measured yet.", ""]
    out = [_RULE, ""]
    for (machine, hardware, device), mine in _groups(lines):
        out += [f"{level} {_heading(machine, hardware, device, mine['commit'].iloc[0])}", "",
                *[f"- {t}" for t in mine["text"]], ""]
    out += [agreement, ""]
    if not differences.empty:
        shown = _difference_frame(differences, SHOWN_DIFFERENCES)
        more = len(differences) - len(shown)
        out += [f"Where the machines' ratios differ ({_cells(len(differences))} "
                f"{DIFFERENCE_RULE}; "
                "widest first" + (f", {more} more in machines_differ.csv" if more else "")
                + "):", "", fmt.markdown_table(shown), "",
                "The hardware that explains it:", "", fmt.markdown_table(facts), ""]
    return out


_RULE = (f"Per machine, device, mode and cell: the recommended strategy (correct on every "
         f"condition of the check, and significantly faster than `{BASELINE}` in a regime whose "
         f"A/A resolves, else `{BASELINE}`) with its time over `{BASELINE}`'s and 99% interval; "
         "split by the workload axes where the recommendation changes.")


def answer_html(lines: pd.DataFrame, agreement: str, differences: pd.DataFrame,
                facts: pd.DataFrame) -> str:
    """The Answer block of index.html: ``<ul class="answer">`` per machine and device, one
    ``<li>`` per mode and cell (``data-*``: its keys and the recommended strategies)."""
    if lines.empty:
        return "<p>No paired ratios: no answer measured yet.</p>"
    parts = [f'<p class="meta">{inline_html(_RULE)}</p>']
    for (machine, hardware, device), mine in _groups(lines):
        parts.append(f'<h3 id="{slug("answer", machine, device)}">'
                     f"{_e(_heading(machine, hardware, device, mine['commit'].iloc[0]))}</h3>")
        items = "".join(
            "<li " + " ".join(f'data-{k.replace("_", "-")}="{_e(row[k])}"' for k in LINE_KEYS)
            + f' data-recommended="{_e(row["strategies"])}">{inline_html(row["text"])}</li>'
            for _, row in mine.iterrows())
        parts.append(f'<ul class="answer">{items}</ul>')
    parts.append(f'<p class="agree">{inline_html(agreement)}</p>')
    if not differences.empty:
        shown = _difference_frame(differences, SHOWN_DIFFERENCES)
        more = len(differences) - len(shown)
        parts += [f'<h3 id="answer-differences">Where the machines\' ratios differ</h3>'
                  f"<p>{_cells(len(differences))} {_e(DIFFERENCE_RULE)}; widest first"
                  + (f", {more} more in " if more else ". All in ")
                  + '<a href="machines_differ.csv">machines_differ.csv</a>.</p>',
                  shown.to_html(index=False, border=0, classes="compact",
                                table_id="table-machines-differ"),
                  "<p>The hardware that explains it:</p>",
                  facts.to_html(index=False, border=0, classes="compact",
                                table_id="table-machine-facts")]
    return "\n".join(parts)


# the Compare grids


def legend_html() -> str:
    """``format.GRID_LEGEND`` with its Markdown marks as HTML (the recommended cell framed, tied
    cells shaded, the floor tagged)."""
    text = inline_html(fmt.GRID_LEGEND)
    text = text.replace("<b>Bold</b>", '<span class="pick">Framed, bold</span>', 1)
    text = re.sub(r"<s>(.+?)</s> ✗", r'<span class="wrong"><s>\1</s> ✗</span>', text, count=1)
    text = text.replace("≈:", '<span class="tied">≈</span> (shaded):', 1)
    text = text.replace(f"; {fmt.FLOOR}:", f'; <span class="floor">{fmt.FLOOR}</span>:', 1)
    return f'<p class="legend">{text}</p>'


def cell_html(row: pd.Series, check_known: bool, summary: Mapping | None = None) -> str:
    """One strategy's cell: its ratio; framed and bold = recommended, shaded ≈ = a safe strategy
    tied with it, struck ✗ on grey = wrong here, † = right here but not safe, "floor" = the
    fastest measured here, a pitfall (with why in its title)."""
    text = _e(num.ratio(row["ratio"]))
    title = num.ratio_interval(row["ratio"], row["low"], row["high"])
    error = row.get("error", float("nan"))
    if isinstance(error, int | float) and math.isfinite(error):
        title += f"; error {error:.2g}"
    classes = ["c"]
    if not row["correct"]:
        classes.append("wrong")
        text, title = f"<s>{text}</s> ✗", title + "; wrong here"
    elif check_known and row["recommended"]:
        classes.append("pick")
        title += "; recommended"
    elif check_known and row.get("tied_with_recommended", False):
        classes.append("tied")
        text += " ≈"
    if check_known and row["correct"] and not row["safe"]:
        text += f" {fmt.DAGGER}"
        title += "; not safe: " + fmt.why_pitfall(str(row["strategy"]), summary)
    if check_known and fmt.is_floor_pitfall(row):
        text += f' <span class="floor">{fmt.FLOOR}</span>'
        title += "; the floor: fastest measured here, never a choice"
    return (f'<td class="{" ".join(classes)}" data-strategy="{_e(row["strategy"])}" '
            f'title="{_e(title)}">{text}</td>')


def _recommended_html(pick: pd.Series | None, check_known: bool) -> str:
    if not check_known:
        return "— (no check file)"
    if pick is None:
        return "none: no safe strategy correct here"
    name, how = fmt.recommended_text(pick)
    name, _, interval = name.partition(" ")
    css = ' class="unresolved"' if how.startswith("unresolved") else ""
    return f"{inline_html(name)}<br><small{css}>{_e(how)} {_e(interval)}</small>"


def grid_html(group: pd.DataFrame, check_known: bool, summary: Mapping | None = None) -> str:
    """The Compare grid of ONE machine, device and mode: rows regimes, columns strategies
    (registry order), then the recommendation (safe strategies only) with its interval and
    outcome, and the baseline's A/A (marked when it leaves the regime unresolved)."""
    order = paired.strategy_order(group["strategy"])
    heads = "".join(f'<th class="s">{_e(n).replace("_", "_<wbr>")}</th>' for n in order)
    body = [f'<tr><th>regime</th>{heads}<th>recommended</th><th>A/A</th></tr>']
    for regime, rows in group.groupby("regime", sort=False):
        cells = {r["strategy"]: cell_html(r, check_known, summary) for _, r in rows.iterrows()}
        picked = rows[rows["recommended"]]
        rec = _recommended_html(None if picked.empty else picked.iloc[0], check_known)
        aa = rows[rows["strategy"] == BASELINE]
        aa_text = num.interval(aa.iloc[0]["aa_low"], aa.iloc[0]["aa_high"]) if not aa.empty else ""
        resolved = bool(rows["resolved"].iloc[0])
        aa_cell = (f'<td class="aa">{_e(aa_text)}</td>' if resolved else
                   f'<td class="aa unresolved" title="wider than ±{RESOLVED:.0%} or excludes '
                   f'1: nothing decided here">{_e(aa_text)} ?</td>')
        body.append(f'<tr data-regime="{_e(regime)}"><th>{_e(rows.iloc[0]["label"])}</th>'
                    + "".join(cells.get(n, "<td></td>") for n in order)
                    + f'<td class="rec">{rec}</td>{aa_cell}</tr>')
    note = fmt.floor_notes(group, summary) if check_known else ""
    return (f'<table class="grid">{"".join(body)}</table>'
            + (f'<p class="legend">{inline_html(note)}</p>' if note else ""))


def grids_html(grid: pd.DataFrame, machines: list[str], check_known: bool,
               summary: Mapping | None = None) -> str:
    """Every grid (machine, device, mode) with the legend once above them; ``machines``: all
    machines of the results (those without paired ratios are named)."""
    parts = [legend_html()]
    without = sorted(set(machines) - {str(m) for m in grid["machine"].unique()})
    if without:
        parts.append(f'<p class="meta">No paired ratios from {_e(", ".join(without))}: '
                     "results recorded before the ratios.Paired* benchmarks hold absolute "
                     "times only; they add correctness and history below.</p>")
    for (machine, device_name, device, mode), group in tables.grid_groups(grid):
        parts += [f'<h3 id="{slug("grid", machine, device, mode)}">'
                  f"{_e(fmt.device_title(machine, device_name, device))} · "
                  f"{_e(MODE_LABELS.get(mode, mode))}</h3>"
                  f'<p class="meta">commit {_e(str(group["commit"].iloc[0])[:8])}, '
                  f"{group['regime'].nunique()} regime(s); cells: time over {BASELINE}'s</p>",
                  grid_html(group, check_known, summary)]
    return "\n".join(parts)


def grid_markdown(group: pd.DataFrame, check_known: bool,
                  summary: Mapping | None = None) -> list[str]:
    """``format.grid_frame`` of one machine, device and mode, with its floor note; without a
    check no cell gets a dagger or a floor, and nothing is recommended."""
    if not check_known:
        plain = group.assign(safe=True, recommended=False, tied_with_recommended=False,
                             floor=False)
        frame = fmt.grid_frame(plain)
        frame["recommended"] = "— (no check file)"
        frame[f"vs {BASELINE}"] = ""
        return [fmt.markdown_table(frame), ""]
    note = fmt.floor_notes(group, summary)
    return [fmt.markdown_table(fmt.grid_frame(group)), "", *([note, ""] if note else [])]
