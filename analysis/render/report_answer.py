"""The top of the report's pages and of FINDINGS: the Answer block (``model.answer``: one line
per machine, device, mode and cell; whether the machines agree; where their ratios differ, with
the hardware facts) and the Compare grids, the recommended cell highlighted. HTML and Markdown
from the same tables; pure (DataFrames in, text out)."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

import pandas as pd

from analysis.model import numbers as num
from analysis.model.paired import MODE_LABELS
from analysis.render import format as fmt
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
