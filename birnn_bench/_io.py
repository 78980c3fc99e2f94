"""Output helpers of the command lines (``birnn-bench`` and ``python -m analysis``): dataclass
rows as CSV, the files written after the work, and THE check of every output path (``--json``,
``--csv``, ``--out``, ``--profile``, ``--policy``, ...) before it."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
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
    """``check_output`` of each (option name, file path or None) pair, and no file twice."""
    seen: dict[Path, str] = {}
    for option, path in outputs:
        if path is None:
            continue
        check_output(option, path)
        key = Path(os.path.abspath(path))  # no links by now: the spelled path is the file
        if key in seen:
            raise ValueError(f"{option} {path}: is also the file of {seen[key]}")
        seen[key] = option


def check_output(flag: str, path: Path, *, folder: bool = False, kind: str = "",
                 force: bool = False, earlier: Sequence[str] = (),
                 inputs: Sequence[Path] = (), replaced: bool = False) -> None:
    """Refuses, before any work and leaving nothing behind, an output path that could not be
    written or should not be: ValueError ``"<flag> <path>: <why>"``. Refused: a path that is a
    symbolic link or passes through one (the error names the resolved path, which is accepted);
    a file where a folder is wanted or the reverse; what this process may not create or write
    (asked with ``os.access`` and then tried: a temporary folder made and removed where the
    output would go, an existing file opened for appending, since root passes ``os.access``
    where ``/proc`` still refuses). A ``folder`` that exists and holds anything but ``inputs``
    must be an earlier output of ``kind`` (its ``MARKER``, or every name of ``earlier``: what
    it held before the marker existed) unless ``force``. A file the writer ``replaced`` whole
    (written beside it, then renamed over it) must be a regular file: a device such as
    ``/dev/null`` would be swapped for a file of that name."""
    path = Path(path)
    shown = f"{flag} {path}"
    _refuse_links(shown, path)
    if folder and path.exists() and not path.is_dir():
        raise ValueError(f"{shown}: is an existing file, not a folder (give a folder to write "
                         "into)")
    if not folder and path.is_dir():
        raise ValueError(f"{shown}: is a folder, not a file")
    if path.exists():
        if folder:
            if not os.access(path, os.W_OK | os.X_OK):
                raise ValueError(f"{shown}: the folder is not writable")
            if not force:  # before trying: a refused folder gets not even a temporary entry
                _refuse_foreign_folder(shown, path, kind, earlier, inputs)
            _try_creating(shown, path, "the folder refuses new files")
            return
        if not (path.is_file() or (path.is_char_device() and not replaced)):
            # a FIFO would block the writer; a device renamed over would be gone
            raise ValueError(f"{shown}: exists and is not a regular file")
        if not os.access(path, os.W_OK):
            raise ValueError(f"{shown}: the file is not writable")
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_NONBLOCK", 0)))
        except OSError as err:
            raise ValueError(f"{shown}: cannot be written ({err.strerror or err})") from None
        return
    ancestor = Path(os.path.abspath(path)).parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ValueError(f"{shown}: cannot be created: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ValueError(f"{shown}: cannot be created: {ancestor} is not writable")
    _try_creating(shown, ancestor, f"cannot be created: {ancestor} refuses new entries")


def _first_link(path: Path) -> Path | None:
    """The first symbolic link on the path as spelled (relative to the working folder, which
    the system gives without links), or None. Below a missing component nothing exists."""
    current = Path(path.anchor) if path.is_absolute() else Path.cwd()
    for part in path.parts[1:] if path.is_absolute() else path.parts:
        current = current.parent if part == ".." else current / part
        if current.is_symlink():
            return current
        if part != ".." and not current.exists():
            return None
    return None


def _refuse_links(shown: str, path: Path) -> None:
    link = _first_link(path)
    if link is None:
        return
    where = ("is a symbolic link" if link == Path(os.path.abspath(path))
             else f"passes through the symbolic link {link}")
    arrow = f"({link} -> {os.readlink(link)})"
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):  # a loop of links
        raise ValueError(f"{shown}: {where} {arrow}, which loops; give a path without links") \
            from None
    if not link.exists():
        raise ValueError(f"{shown}: {where} to nothing {arrow}; give a path without links")
    raise ValueError(f"{shown}: {where} {arrow}; outputs are not written through links (one "
                     f"could send them anywhere): give the resolved path {resolved} to write "
                     "there")


def _try_creating(shown: str, folder: Path, why: str) -> None:
    """Creates and removes a temporary folder in ``folder``: what ``os.access`` cannot tell."""
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".birnn-bench-probe-", dir=folder))
    except OSError as err:
        raise ValueError(f"{shown}: {why} ({err.strerror or err})") from None


def _refuse_foreign_folder(shown: str, folder: Path, kind: str, earlier: Sequence[str],
                           inputs: Sequence[Path]) -> None:
    own_inputs = {Path(os.path.abspath(p)) for p in inputs}
    names = sorted(entry.name for entry in os.scandir(folder)
                   if Path(os.path.abspath(folder / entry.name)) not in own_inputs)
    if not names or is_earlier_output(folder, kind, earlier):
        return
    examples = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    raise ValueError(f"{shown}: holds {len(names)} entr{'y' if len(names) == 1 else 'ies'} "
                     f"({examples}) and is no earlier {kind or 'output'} of this tool (no "
                     f"{MARKER} in it), so writing there could replace files of the same names: "
                     "give a new or empty folder, or pass --force to write into it anyway")


#: The file that marks a folder as an output of this tool: ``output_marker``'s JSON.
MARKER = ".birnn-bench-output.json"


def output_marker(kind: str, names: Sequence[str]) -> bytes:
    """The contents of ``MARKER`` for a folder of ``kind`` ("report", "profile") holding
    ``names``."""
    return json.dumps({"tool": "birnn-bench", "output": kind, "files": sorted(names)},
                      indent=1).encode("utf-8")


def write_marker(folder: Path, kind: str, names: Sequence[str]) -> None:
    """Writes ``MARKER`` into ``folder`` (a link at its name is replaced, never followed)."""
    marker = folder / MARKER
    marker.unlink(missing_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    with os.fdopen(os.open(marker, flags, 0o666), "wb") as handle:
        handle.write(output_marker(kind, names))


def marker_files(folder: Path, kind: str) -> list[str]:
    """The files ``folder``'s ``MARKER`` says an earlier ``kind`` output produced (plain names
    only; [] without a readable marker of that kind)."""
    marker = folder / MARKER
    if not marker.is_file() or marker.is_symlink():
        return []
    try:
        data = json.loads(marker.read_bytes()[:1 << 20])
    except (OSError, ValueError):
        return []
    if not (isinstance(data, dict) and data.get("tool") == "birnn-bench"
            and data.get("output") == kind and isinstance(data.get("files"), list)):
        return []
    return [n for n in data["files"] if isinstance(n, str) and n and n not in (".", "..", MARKER)
            and "/" not in n and "\\" not in n and "\0" not in n]


def is_earlier_output(folder: Path, kind: str, earlier: Sequence[str] = ()) -> bool:
    """``folder`` holds this tool's ``MARKER`` for ``kind`` (a regular file), or every name of
    ``earlier`` (``kind``'s files from before the marker)."""
    marker = folder / MARKER
    if marker.is_file() and not marker.is_symlink():
        try:
            data = json.loads(marker.read_bytes()[:1 << 20])
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict) and data.get("tool") == "birnn-bench" \
                and data.get("output") == kind:
            return True
    return bool(earlier) and all((folder / name).is_file() for name in earlier)
