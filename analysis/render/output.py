"""Writing the report's files safely: only regular files, only inside the output folder, never
through a link (a link at a name is replaced, not followed), and nothing from the results that a
spreadsheet (CSV injection) or a Markdown viewer (raw HTML, links) would run."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from birnn_bench._io import MARKER, marker_files, output_marker

if TYPE_CHECKING:
    from analysis.render.report import Report

#: Characters that make a spreadsheet read a cell as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|nan)",
                           re.IGNORECASE)
_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")


def write_files(folder: Path, files: list[tuple[str, bytes]]) -> list[Path]:
    """Writes each (name, bytes) to ``folder / name`` through a fresh temporary file that then
    replaces the name: complete or absent, never half written, never through a link. Every name
    is checked first, so a name blocked by a folder leaves the folder as it was."""
    for name, _ in files:
        if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
            raise ValueError(f"{name!r} is not a plain file name")
        if (folder / name).is_dir() and not (folder / name).is_symlink():
            raise IsADirectoryError(21, "a folder is in the way of the file", str(folder / name))
    written = []
    for name, data in files:
        tmp = folder / f".{name}.{secrets.token_hex(6)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            with os.fdopen(os.open(tmp, flags, 0o666), "wb") as handle:
                handle.write(data)
            os.replace(tmp, folder / name)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        written.append(folder / name)
    return written


def neutralise(value: Any) -> Any:
    """A CSV cell that a spreadsheet would read as a formula (not a plain number), prefixed with
    ``'``; a carriage return in text becomes a newline (the csv writer quotes a cell with a
    newline, not one with a bare carriage return, which readers take for the end of the row)."""
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        value = "'" + value
    return value.replace("\r\n", "\n").replace("\r", "\n")


def csv_text(table: pd.DataFrame) -> str:
    """``table`` as CSV (no index) with every text cell and column name neutralised."""
    out = table.copy(deep=False)
    out.columns = [neutralise(str(c)) for c in out.columns]
    for i in range(out.shape[1]):
        column = out.iloc[:, i]
        if not (pd.api.types.is_numeric_dtype(column)
                or pd.api.types.is_datetime64_any_dtype(column)):
            out.isetitem(i, column.astype(object).map(neutralise))
    return out.to_csv(index=False)


def markdown_safe(text: str) -> str:
    """Markdown in which raw HTML and link syntax show as text."""
    text = _ENTITY.sub("&amp;", text)
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("](", "]\\(").replace("![", "!\\[")


def write_report(out_dir: str | Path, report: Report) -> list[Path]:
    """Writes index.html, summary.md, the CSV tables, the figures (PNG + SVG) and the marker of
    a report folder, its manifest (the files written), into ``out_dir`` safely
    (``analysis.render.output``); then removes the files an earlier report there produced (its
    manifest) that this one does not. Returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = [("index.html", report.html.encode("utf-8")),
             ("summary.md", markdown_safe(report.markdown).encode("utf-8"))]
    files += [(f"{name}.csv", csv_text(table).encode("utf-8"))
              for name, table in report.tables.items()]
    files += [(f"{name}.{ext}", data) for name in report.png
              for ext, data in (("png", report.png[name]), ("svg", report.svg[name]))]
    names = [name for name, _ in files]
    earlier = marker_files(out, "report")
    # Marks the folder as a report (a later run may write into it without --force) and lists
    # what it holds: the next report removes what it no longer produces, nothing else.
    files.append((MARKER, output_marker("report", names)))
    written = write_files(out, files)
    for name in sorted(set(earlier) - set(names)):
        stale = out / name
        if stale.is_symlink() or stale.is_file():
            stale.unlink()
    return written
