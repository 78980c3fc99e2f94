"""Output helpers shared by ``check`` and ``deploy``: rows of a dataclass as CSV, and the CLI's
``--json`` / ``--csv`` files."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any


def dataclass_csv(rows: Sequence[Any], row_type: type) -> str:
    """One CSV line per dataclass instance, the fields of ``row_type`` as the header."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[f.name for f in fields(row_type)])
    writer.writeheader()
    for row in rows:
        writer.writerow(asdict(row))
    return buffer.getvalue()


def write_outputs(rows: Sequence[Any],
                  outputs: Sequence[tuple[Path | None, Callable[[Any], str]]]) -> None:
    """Writes ``render(rows)`` to each given path (parents created), saying so on stdout."""
    for path, render in outputs:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(rows))
            print(f"wrote {path}")
