"""Writing the report's files safely: only regular files, only inside the output folder, never
through a link, and nothing from the results that a spreadsheet or a Markdown viewer would run.

* ``write_file``: the bytes go to a fresh temporary file in the folder (created exclusively,
  never following a link), which then replaces the name. A symbolic link already at that name
  is replaced by the file, not written through: what it pointed to stays untouched.
* ``csv_text``: a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
  would be a formula in Excel / LibreOffice / Sheets (CSV injection); such text is prefixed with
  a single quote. Numbers (numeric columns, and text that is just a number like ``-0.5``) stay
  as they are. A carriage return inside text becomes a newline, so the cell is quoted and the
  row stays one row.
* ``markdown_safe``: text from the results (a machine named ``<script>``, a link) shows as text
  in a Markdown viewer: ``<`` and ``>`` become entities, an entity-like ``&`` is escaped, and
  ``](`` / ``![`` lose their link meaning.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Any

import pandas as pd

#: Characters that make a spreadsheet read a cell as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|nan)",
                           re.IGNORECASE)
_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")


def _plain_name(name: str) -> str:
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise ValueError(f"{name!r} is not a plain file name")
    return name


def _check_target(folder: Path, name: str) -> Path:
    target = folder / _plain_name(name)
    if target.is_dir() and not target.is_symlink():
        raise IsADirectoryError(21, "a folder is in the way of the file", str(target))
    return target


def write_files(folder: Path, files: list[tuple[str, bytes]]) -> list[Path]:
    """``write_file`` for each (name, bytes), after checking that no name is blocked by a
    folder (so a blocked name leaves the folder as it was); returns the paths written."""
    for name, _ in files:
        _check_target(folder, name)
    return [write_file(folder, name, data) for name, data in files]


def write_file(folder: Path, name: str, data: bytes) -> Path:
    """Writes ``data`` to ``folder / name`` as a regular file; returns that path.

    A symbolic link (or any non-folder) at that name is replaced, never followed; a folder there
    is an ``IsADirectoryError``. The file is complete or absent, never half written."""
    target = _check_target(folder, name)
    tmp = folder / f".{name}.{secrets.token_hex(6)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)  # renames onto the name: a link there is replaced, not followed
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def neutralise(value: Any) -> Any:
    """A CSV cell that a spreadsheet would read as a formula, prefixed with ``'``; a carriage
    return in text becomes a newline (the csv writer quotes a cell with a newline, not one
    with a bare carriage return, which readers take for the end of the row)."""
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        value = "'" + value
    return value.replace("\r\n", "\n").replace("\r", "\n") if "\r" in value else value


def csv_text(table: pd.DataFrame) -> str:
    """``table`` as CSV (no index) with every text cell and column name neutralised."""
    out = table.copy(deep=False)
    out.columns = [neutralise(str(c)) if not isinstance(c, str) else neutralise(c)
                   for c in out.columns]
    for i in range(out.shape[1]):
        column = out.iloc[:, i]
        if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column) \
                or pd.api.types.is_datetime64_any_dtype(column):
            continue
        if isinstance(column.dtype, pd.CategoricalDtype):
            column = column.astype(object)
        out.isetitem(i, column.map(neutralise))
    return out.to_csv(index=False)


def markdown_safe(text: str) -> str:
    """Markdown in which raw HTML and link syntax show as text."""
    text = _ENTITY.sub("&amp;", text)
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("](", "]\\(").replace("![", "!\\[")
