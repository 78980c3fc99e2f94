"""The findings' side inputs (``birnn-bench check --json``, ``scripts/resolution.py --json``,
``scripts/crosscheck.py --json``, ``birnn-bench deploy --json``, ``scripts/kernels.py
--json``), validated: text in, data out.
Every error is an :class:`InputError` whose message starts with the file's name."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from birnn_bench.hardware import describe

CHECK_FACTORS = ("cell", "num_layers", "proj_size", "layout", "lengths", "dtype", "padded")
DEPLOY_COLUMNS = ("strategy", "cell", "layers", "device", "technology", "status")
DEPLOY_STATUSES = ("works", "fails", "wrong", "unavailable")
CROSSCHECK_COLUMNS = ("device", "cell", "batch", "max_len", "lengths", "hidden", "layers",
                      "strategy", "asv_median_s", "torch_median_s", "ratio")
_REGIME = ("regime", "cell", "layers", "batch", "max_len", "hidden", "lengths", "dtype")
KERNEL_COLUMNS = (*_REGIME, "strategy", "onednn", "family", "run_ops")
KERNEL_TIMING_COLUMNS = (*_REGIME, "onednn", "ratio", "ratio_low", "ratio_high")


class InputError(ValueError):
    """An input file is missing something the findings need; the message names the file."""


def _json(text: str, name: str) -> Any:
    if not text.strip():
        raise InputError(f"{name}: is empty (0 bytes of JSON)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{name}: is not valid JSON: {err.msg} at line {err.lineno} column "
                         f"{err.colno}") from None


def _rows(data: Any, name: str, what: str, needed: tuple[str, ...], key: str = "rows"
          ) -> list[dict]:
    rows = data.get(key) if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise InputError(f"{name}: not a {what} file (no '{key}' list)")
    for i, row in enumerate(rows):
        missing = set(needed) - set(row) if isinstance(row, dict) else set(needed)
        if missing:
            raise InputError(f"{name}: {key[:-1]} {i} lacks {', '.join(sorted(missing))} "
                             "(written by an older version?)")
    return rows


def parse_check(text: str, name: str = "check.json") -> dict:
    """``birnn-bench check --json``: ``{torch, tolerances, rows, summary}``, its summary checked
    against its rows."""
    data = _json(text, name)
    what = "birnn-bench check --json"
    rows = _rows(data, name, what, (*CHECK_FACTORS, "strategy", "max_len", "fwd_ok", "bwd_ok",
                                    "passed"))
    summary = data.get("summary")
    if not rows or not isinstance(summary, dict):
        raise InputError(f"{name}: 'rows' must be a non-empty list and 'summary' an object "
                         f"(write it with: {what} FILE)")
    for strategy, info in summary.items():
        if not isinstance(info, dict) or not {"passed", "total"} <= set(info):
            raise InputError(f"{name}: summary of {strategy!r} lacks 'passed'/'total'")
        mine = [r for r in rows if r["strategy"] == strategy]
        if len(mine) != info["total"] or sum(bool(r["passed"]) for r in mine) != info["passed"]:
            raise InputError(f"{name}: summary of {strategy!r} ({info['passed']}/"
                             f"{info['total']}) disagrees with its rows")
    return data


def parse_crosscheck(text: str, name: str = "crosscheck.json") -> dict:
    """``scripts/crosscheck.py --json``; ``source`` is set to ``name``."""
    data = _json(text, name)
    _rows(data, name, "scripts/crosscheck.py --json", CROSSCHECK_COLUMNS)
    return {**data, "source": name}


def parse_kernels(text: str, name: str = "kernels.json") -> dict:
    """``scripts/kernels.py --json`` (one machine); ``source`` is set to ``name``."""
    data = _json(text, name)
    what = "scripts/kernels.py --json"
    _rows(data, name, what, KERNEL_COLUMNS)
    _rows(data, name, what, KERNEL_TIMING_COLUMNS, key="timings")
    missing = [k for k in ("machine", "hardware", "padded", "packed") if k not in data]
    if missing or not isinstance(data["hardware"], dict):
        raise InputError(f"{name}: lacks {', '.join(missing) or 'a hardware object'} (written "
                         "by an older version?)")
    return {**data, "source": name}


def parse_deploy(text: str, name: str = "deploy.json") -> pd.DataFrame:
    """``birnn-bench deploy --json`` -> one row per strategy x cell x layers x device x
    technology (``source`` = ``name``; ``machine``: its recorded hardware, described;
    ``torch``: the version it ran under)."""
    data = _json(text, name)
    rows = _rows(data, name, "birnn-bench deploy --json", DEPLOY_COLUMNS)
    for i, row in enumerate(rows):
        if row["status"] not in DEPLOY_STATUSES:
            raise InputError(f"{name}: row {i} has status {row['status']!r}, expected one of "
                             f"{', '.join(DEPLOY_STATUSES)}")
    frame = pd.DataFrame(rows)
    for column in ("detail", "note"):
        frame[column] = frame[column].fillna("").astype(str) if column in frame else ""
    frame["source"] = name
    facts, found = data.get("hardware"), data.get("versions")
    frame["machine"] = describe(facts) if isinstance(facts, dict) and facts else \
        "machine not recorded (written before deploy recorded it)"
    frame["torch"] = str(found.get("torch") or "?") if isinstance(found, dict) else "?"
    return frame
