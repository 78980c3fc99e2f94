"""Output helpers of ``check`` and ``deploy``: dataclass rows as CSV, and the CLI's ``--json`` /
``--csv`` files (checked before any work, written after it)."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any


def dataclass_csv(rows: Sequence[Any], row_type: type) -> str:
    """One CSV line per dataclass instance, the fields of ``row_type`` as the header."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[f.name for f in fields(row_type)])
    writer.writeheader()
    writer.writerows(asdict(row) for row in rows)
    return buffer.getvalue()


def write_outputs(rows: Sequence[Any],
                  outputs: Sequence[tuple[Path | None, Callable[[Any], str]]]) -> None:
    """Writes ``render(rows)`` to each given path (parents created), saying so on stdout."""
    for path, render in outputs:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(rows))
            print(f"wrote {path}")


def check_output_paths(outputs: Sequence[tuple[str, Path | None]]) -> None:
    """Refuses, before any work and creating nothing, an output path that could not be written:
    ValueError ``"<option>: <why>"`` for each (option name, path or None) pair."""
    seen: dict[Path, str] = {}
    for option, path in outputs:
        if path is None:
            continue
        _check_output_path(option, path)
        try:
            key = path.resolve()
        except (OSError, RuntimeError):  # a symlink loop: compare the spelled-out path
            key = path.absolute()
        if key in seen:
            raise ValueError(f"{option}: {str(path)!r} is also the file of {seen[key]}")
        seen[key] = option


def _check_output_path(option: str, path: Path) -> None:
    shown = repr(str(path))
    if path.is_dir():
        raise ValueError(f"{option}: {shown} is a directory; expected a file to write")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise ValueError(f"{option}: {shown} exists and is not writable")
        return
    # The nearest existing ancestor must be a directory we may create entries in.
    ancestor = path.absolute()
    while ancestor != ancestor.parent:
        if ancestor.is_symlink() and not ancestor.exists():
            raise ValueError(f"{option}: cannot create {shown}: {str(ancestor)!r} is a broken "
                             "symbolic link")
        ancestor = ancestor.parent
        if ancestor.exists():
            break
    if not ancestor.is_dir():
        raise ValueError(f"{option}: cannot create {shown}: {str(ancestor)!r} is not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ValueError(f"{option}: cannot create {shown}: directory {str(ancestor)!r} is not "
                         "writable")
