"""Reading asv's JSON files (orjson when installed, else stdlib ``json``). Nothing here raises
for bad data: every defect is returned or recorded as a :class:`Problem` naming the file and what
is wrong with it, so that the caller can load the rest."""

from __future__ import annotations

import ast
import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.load import judge
from birnn_bench import hardware

try:
    import orjson as _orjson
except ImportError:  # pragma: no cover
    _orjson = None

BENCHMARKS_API_VERSION = 2  # asv's benchmarks.json format
RESULTS_API_VERSION = 2  # asv's results file format


@dataclass(frozen=True)
class Problem:
    """Something wrong with one file (or the tree): ``error`` means skipped, ``warning`` means
    loaded with a caveat."""

    path: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.severity}: {self.path}: {self.message}"


@dataclass
class Benchmark:
    """One entry of ``benchmarks.json``: what its results files' columns mean."""

    name: str
    param_names: tuple[str, ...]
    kind: str
    unit: str
    version: str | None


def kind_of(bench_type: str, unit: str) -> str:
    """``time`` / ``memory`` / ``error`` / ``ratio`` / ``track``: what a benchmark measures."""
    if bench_type == "time":
        return "time"
    if judge.is_ratio(unit):
        return "ratio"
    if bench_type in ("peakmem", "mem") or unit == "bytes":
        return "memory"
    if "error" in unit:
        return "error"
    return "track"


def read_config(config: str | Path) -> dict[str, Any]:
    """An ``asv.conf.json`` (with its comments), read as asv reads it; ``ValueError`` saying what
    is wrong when ``config`` is not a readable asv configuration."""
    from asv import util

    try:
        conf = util.load_json(str(config), js_comments=True)
    except OSError as err:
        raise ValueError(f"cannot be read ({err.strerror or err})") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"is not UTF-8 text ({err.reason} at byte {err.start})") from None
    except (ValueError, RecursionError, util.UserError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(f"is not valid JSON ({first})") from None
    if not isinstance(conf, dict):
        raise ValueError(f"holds a JSON {type(conf).__name__}, expected an asv configuration "
                         "object")
    return conf


def default_results_dir(config: str | Path) -> Path:
    """The ``results_dir`` that an ``asv.conf.json`` names (relative to the config's folder);
    ``ValueError`` as ``read_config``, or naming a bad results_dir."""
    config = Path(config)
    results = read_config(config).get("results_dir", "results")
    if not isinstance(results, str) or not results:
        raise ValueError(f"its results_dir is {judge.show(results)}, expected a folder name")
    return (config.parent / results).resolve()


def literal(text: str) -> Any:
    """An asv parameter value (its ``repr()``) as Python; the text itself when not a literal."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def _parse_json(raw: bytes) -> Any:
    """``json.loads``, through orjson (4x faster) when installed and the file is plain asv output.

    asv writes a bare ``NaN`` (not JSON, rejected by orjson) for every skipped point, after ``[``
    or ``, ``: rewritten to ``null`` (both mean "no value"). Any other ``NaN``, ``Infinity`` or a
    file orjson rejects goes to stdlib ``json``, whose error messages are the ones reported."""
    if _orjson is not None and b"Infinity" not in raw:
        nulls = raw.replace(b", NaN", b", null").replace(b"[NaN", b"[null")
        if b"NaN" not in nulls:
            with contextlib.suppress(_orjson.JSONDecodeError):
                return _orjson.loads(nulls)
    return json.loads(raw)


def read_json(path: Path) -> tuple[Any, str | None]:
    """``(data, None)``, or ``(None, what is wrong with the file)``: never raises for bad data."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        return None, f"cannot be read ({err.strerror or err})"
    if not raw.strip():
        return None, "is empty (0 bytes of JSON)"
    try:
        return _parse_json(raw), None
    except UnicodeDecodeError as err:
        return None, f"is not UTF-8 text ({err.reason} at byte {err.start})"
    except json.JSONDecodeError as err:
        where = f"line {err.lineno} column {err.colno} (char {err.pos} of {len(raw)})"
        # An error in the last bytes of the file: it ends early (an interrupted write or copy).
        hint = "truncated" if err.pos >= len(raw.rstrip()) - 64 else "corrupt"
        return None, f"is not valid JSON ({hint}): {err.msg} at {where}"
    except RecursionError:
        return None, "nests lists or objects too deeply to be read (RecursionError)"
    except (ValueError, OverflowError) as err:  # e.g. an integer of more than 4300 digits
        return None, f"cannot be read: {type(err).__name__}: {str(err)[:120]}"


def read_benchmarks(path: Path, problems: list[Problem]) -> dict[str, Benchmark] | None:
    """``benchmarks.json`` by name; None (an error in ``problems``) when it is missing or
    unreadable, entries that describe no benchmark left out with a warning."""
    if not path.is_file():
        problems.append(Problem(str(path), "missing: asv writes it next to the machine folders "
                                "on every run; without it no parameter has a name, so nothing "
                                "can be loaded"))
        return None
    data, error = read_json(path)
    if error is None and not isinstance(data, dict):
        error = f"holds a JSON {type(data).__name__}, expected an object of benchmarks"
    if error is not None:
        problems.append(Problem(str(path), f"{error}; nothing can be loaded without it"))
        return None
    version = data.get("version")
    if version != BENCHMARKS_API_VERSION:
        problems.append(Problem(str(path), f"format version {version!r}, expected "
                                f"{BENCHMARKS_API_VERSION} (another asv version?); read anyway",
                                "warning"))
    out = {}
    for name, info in data.items():
        if name == "version":
            continue
        names = info.get("param_names") or [] if isinstance(info, dict) else None
        if not isinstance(info, dict) or "type" not in info or not isinstance(names, list) \
                or not all(isinstance(n, str) for n in names):
            problems.append(Problem(str(path), f"entry {name!r} is not a benchmark description; "
                                    "ignored", "warning"))
            continue
        unit = str(info.get("unit", ""))
        out[name] = Benchmark(name, tuple(names), kind_of(str(info["type"]), unit), unit,
                              info.get("version"))
    return out


def read_machine(path: Path, problems: list[Problem]) -> dict[str, Any]:
    """A ``machine.json``; empty (with a warning) when missing, unreadable or not an object."""
    if not path.exists():
        problems.append(Problem(str(path), "missing (`asv machine` writes it; `asv publish` "
                                "needs it); machine details left blank", "warning"))
        return {}
    if not path.is_file():
        problems.append(Problem(str(path), "is not a file; machine details left blank",
                                "warning"))
        return {}
    data, error = read_json(path)
    if error is None and not isinstance(data, dict):
        error = f"holds a JSON {type(data).__name__}, expected an object"
    if error is not None:
        problems.append(Problem(str(path), f"{error}; machine details left blank", "warning"))
        return {}
    return data


def results_problem(data: Any) -> str | None:
    """Why ``data`` is not an asv results object, or None."""
    if not isinstance(data, dict):
        what = "only JSON null" if data is None else f"a JSON {type(data).__name__}"
        return f"holds {what}, expected an asv results object"
    version = data.get("version")
    if version != RESULTS_API_VERSION:
        return (f"asv results format version {version!r}, expected {RESULTS_API_VERSION} "
                "(written by another asv version, or not an asv results file)")
    for key in ("commit_hash", "result_columns", "results"):
        if key not in data:
            return f"not an asv results file: no {key!r} key"
    if not isinstance(data["results"], dict) or not isinstance(data["result_columns"], list):
        return "not an asv results file: 'results' / 'result_columns' have the wrong type"
    if data["results"] and all(row is None for row in data["results"].values()):
        return f"every benchmark's row is null ({len(data['results'])}): nothing measured"
    return None


def machine_disagrees(path: Path, recorded: dict[str, Any],
                      files: list[tuple[str, dict[str, str]]]) -> list[Problem]:
    """Warnings where a machine folder's ``machine.json`` names another machine than its
    folder, or records hardware that none of its results files was measured on."""
    found = []
    named = recorded.get("machine")
    if named is not None and str(named) != path.parent.name:
        found.append(Problem(str(path), f"names machine {named!r}, but sits in the folder "
                             f"{path.parent.name!r} (asv keys results by the folder)", "warning"))
    apart = [hardware.differences(recorded, facts) for _, facts in files]
    if files and all(apart):
        found.append(Problem(str(path), f"records other hardware than every results file "
                             f"beside it ({apart[0][0]}, ...): edited or copied from another "
                             "machine", "warning"))
    return found


def mixed_hardware(machine: str, files: list[tuple[str, dict[str, str]]]) -> Problem | None:
    """A Problem when one machine name holds results of different hardware (facts that both
    files record and that differ: ``birnn_bench.hardware.differences``)."""
    groups: list[tuple[dict[str, str], list[str]]] = []
    for name, facts in files:
        for known, names in groups:
            if not hardware.differences(known, facts):
                names.append(name)
                break
        else:
            groups.append((facts, [name]))
    if len(groups) < 2:
        return None
    parts = [f"{hardware.describe(facts)} ({len(names)} file(s): "
             f"{', '.join(Path(n).name[:8] for n in names)})" for facts, names in groups]
    return Problem(machine, f"one machine name, {len(groups)} different hardware: "
                   + "; ".join(parts) + ". Ratios differ between CPUs, so a change between "
                   "them in the history is the machine, not the code (the history splits the "
                   "series there); new runs belong under a name of their own (the main job "
                   "derives one from the hardware)", "warning")
