"""What a loaded value may be: the rules ``analysis.load`` holds every value to, and regime ids.

Every value of a results file is judged against its benchmark's unit before it enters the frame:
times (``seconds``) and byte counts must be finite and > 0, errors (``abs error``) finite and
>= 0, counts (``ops``, ``kernels``, ``syncs``, ``threads``) finite, whole and >= 0, ratios
(``x <baseline>``, the ``ratios`` benchmarks) finite and > 0. A JSON boolean, a string, a list
or an object where a number belongs is never a number (``true`` is not 1). ``null`` / ``NaN`` is
asv's "not measured" and is not a problem. Whatever fails is reported and left out, never
guessed.

Regime ids (``benchmarks/regimes.py``, ``Regime.id``) look like
``cpu-lstm-L2-B64-T128-H128-skewed-float32``: ``parse_regime`` reads one back into the grid's
columns, ``regime_id`` writes one from them (for results recorded before regimes had ids).
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Units whose values are counts of something (whole numbers >= 0).
COUNT_UNITS = ("ops", "kernels", "syncs", "threads")
#: The columns a regime id encodes, in the id's order.
REGIME_FIELDS = ("device", "cell", "layers", "batch", "max_len", "hidden", "lengths", "dtype")
REGIME_INTS = ("layers", "batch", "max_len", "hidden")
REGIME_EXAMPLE = "cpu-lstm-L2-B64-T128-H128-skewed-float32"
_WORD = r"[A-Za-z][A-Za-z0-9_]*"
_INT = r"[1-9][0-9]*"
_REGIME = re.compile(
    rf"(?P<device>{_WORD})-(?P<cell>{_WORD})-L(?P<layers>{_INT})-B(?P<batch>{_INT})"
    rf"-T(?P<max_len>{_INT})-H(?P<hidden>{_INT})-(?P<lengths>[A-Za-z0-9_.:]+(?:-[A-Za-z0-9_.:]+)*)"
    rf"-(?P<dtype>{_WORD})")
#: Largest whole number a float64 holds exactly: counts, ``number`` and ``repeat`` stay below.
_MAX_EXACT = 2.0 ** 53
_NUMBER_TYPES = {float, int}


def is_ratio(unit: str) -> bool:
    """``x hn_index`` and the like: a ratio against a named baseline."""
    return unit.startswith("x ") and len(unit) > 2


@dataclass(frozen=True)
class Rule:
    """What one column of a benchmark may hold (``NaN`` = not measured is always allowed)."""

    what: str  # "a time in seconds": how messages name the value
    minimum: float | None = None
    strict: bool = False  # value > minimum (else >=)
    integral: bool = False
    finite: bool = True


ANY_NUMBER = Rule("a number", finite=False)


def value_rule(kind: str, unit: str) -> Rule:
    """The rule for a benchmark's values (``result``, and its quartiles)."""
    if unit in COUNT_UNITS:
        return Rule(f"a count of {unit}", 0.0, integral=True)
    if kind == "ratio" or is_ratio(unit):
        return Rule(f"a ratio ({unit})", 0.0, strict=True)
    if kind == "error" or "error" in unit:
        return Rule(f"an error ({unit})", 0.0)
    if unit == "seconds" or kind == "time":
        return Rule("a time in seconds", 0.0, strict=True)
    if unit == "bytes" or kind == "memory":
        return Rule("a byte count", 0.0, strict=True)
    if unit == "instructions":
        return Rule("instructions per call", 0.0, strict=True)
    return Rule(f"a number ({unit or 'no unit'})")


def quartile_rule(rule: Rule) -> Rule:
    """Quartiles of the samples: the value's sign rule, not necessarily whole numbers."""
    return Rule(rule.what, rule.minimum, rule.strict, False, rule.finite)


#: asv's 99% interval: +-inf means "no estimate" (one sample) and the lower end may fall below
#: 0 (a Laplace posterior), so only the type is judged.
CI_RULE = ANY_NUMBER
#: ``stats_number`` / ``stats_repeat``: how many calls and samples asv took.
TALLY_RULE = Rule("a count of calls or samples", 1.0, integral=True)


def type_name(value: Any) -> str:
    """How a message names the JSON type of ``value`` (``a JSON boolean``, ``a string``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a JSON boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a JSON object"
    return f"a {type(value).__name__}"


def numbers(values: Sequence[Any] | None, n: int) -> tuple[np.ndarray, dict[int, str]]:
    """``values`` as float64 (``None`` -> NaN) and, per index that is not a number, why.

    Fast path: a list of plain floats / ints / None (what asv writes) goes through numpy in one
    call; anything else is judged one by one, so ``true`` never becomes 1.0 and ``"1.5"``
    never 1.5.
    """
    if values is None:
        return np.full(n, np.nan), {}
    kinds = set(map(type, values))
    if kinds <= {float, int, type(None)}:
        try:
            return np.array(values, dtype=np.float64), {}
        except OverflowError:  # an int beyond float64: judged one by one below
            pass
    out = np.full(n, np.nan)
    bad: dict[int, str] = {}
    for i, value in enumerate(values):
        if value is None:
            continue
        if isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool)):
            try:
                out[i] = float(value)
            except OverflowError:
                bad[i] = "too large for a float"
        else:
            bad[i] = type_name(value)
    return out, bad


def violations(values: np.ndarray, rule: Rule) -> dict[int, str]:
    """Per index whose (non-NaN) value breaks ``rule``: why."""
    bad: dict[int, str] = {}
    present = ~np.isnan(values)
    if rule.finite:
        for i in np.flatnonzero(present & np.isinf(values)):
            bad[int(i)] = "infinite"
    finite = present & np.isfinite(values)
    if rule.minimum is not None:
        with np.errstate(invalid="ignore"):
            low = values <= rule.minimum if rule.strict else values < rule.minimum
        sign = "> " if rule.strict else ">= "
        for i in np.flatnonzero(present & low):
            bad.setdefault(int(i), f"not {sign}{rule.minimum:g}")
    if rule.integral:
        with np.errstate(invalid="ignore"):
            frac = finite & ((values != np.floor(values)) | (np.abs(values) > _MAX_EXACT))
        for i in np.flatnonzero(frac):
            bad.setdefault(int(i), "not a whole number")
    return bad


def sample_problem(samples: Any, rule: Rule) -> str | None:
    """Why one point's raw samples cannot be used (None when they can)."""
    if not isinstance(samples, list):
        return f"{type_name(samples)}, not a list of samples"
    for value in samples:
        if type(value) not in _NUMBER_TYPES:  # bool is not int here: true is no sample
            return f"holds {type_name(value)}, not {rule.what}"
    try:
        low, total = float(min(samples)), float(sum(samples))
    except OverflowError:
        return "holds a number too large for a float"
    if math.isnan(total) or math.isinf(total):
        return "holds a NaN or infinite sample"
    if rule.minimum is not None and (low <= rule.minimum if rule.strict else low < rule.minimum):
        return f"holds {low:g}, not {'> ' if rule.strict else '>= '}{rule.minimum:g}"
    return None


def sample_problems(samples: Sequence[Any], rule: Rule) -> dict[int, str]:
    """Per point whose raw samples cannot be used (``None`` / ``[]``: not recorded): why.

    One numpy pass over every sample when all are plain numbers within the rule (what asv
    writes); point by point only when something is off."""
    points = [p for p in samples if p]
    if all(type(p) is list for p in points):
        flat = list(itertools.chain.from_iterable(points))
        if set(map(type, flat)) <= _NUMBER_TYPES:
            try:
                values = np.array(flat, dtype=np.float64)
            except OverflowError:
                values = None
            if values is not None and not violations(values, rule) \
                    and not np.isnan(values).any():
                return {}
    bad = {}
    for i, point in enumerate(samples):
        if point:
            why = sample_problem(point, rule)
            if why is not None:
                bad[i] = why
    return bad


def show(value: Any, limit: int = 40) -> str:
    """A raw JSON value as the file spells it, shortened (``true``, ``"abc"``, ``[1, 2]``)."""
    try:
        text = json.dumps(value, allow_nan=True)
    except (TypeError, ValueError, RecursionError):
        text = type_name(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_point(names: Sequence[str], params: Sequence[Sequence[str]], index: int) -> str:
    """``device='cpu', cell='lstm', ...``: the parameter values of point ``index`` of the
    product of ``params`` (asv's order: the last parameter varies fastest)."""
    if not names:
        return "(no parameters)"
    where = np.unravel_index(index, tuple(len(p) for p in params))
    return ", ".join(f"{name}={values[int(at)]}"
                     for name, values, at in zip(names, params, where, strict=True))


def parse_regime(text: Any) -> dict[str, Any] | None:
    """The columns of a regime id (ints as ints), or None when ``text`` is not one."""
    if not isinstance(text, str):
        return None
    match = _REGIME.fullmatch(text)
    if match is None:
        return None
    return {name: int(match[name]) if name in REGIME_INTS else match[name]
            for name in REGIME_FIELDS}


def regime_id(device: Any, cell: Any, layers: Any, batch: Any, max_len: Any, hidden: Any,
              lengths: Any, dtype: Any) -> str:
    """``benchmarks/regimes.py``'s ``Regime.id`` of these values."""
    return f"{device}-{cell}-L{layers}-B{batch}-T{max_len}-H{hidden}-{lengths}-{dtype}"


def regime_codes(names: Sequence[str], values: Sequence[Sequence[Any]], local: np.ndarray,
                 code: Callable[[str, Any], int]) -> dict[str, Any]:
    """Per-row codes of the regime columns of a block of points (``local``: each parameter's
    index per row; ``values``: the parameter values, evaluated; ``code(column, value)``: the
    loader's code of a value).

    With a ``regime`` parameter: the grid's columns read from its ids (a column given as a
    parameter of its own keeps that one), ``__device_names__`` (device per id, index per row)
    and, when some ids are not ids, ``__bad_regimes__`` (those ids, a mask of their rows).
    Without one but with every grid column: the ``regime`` column those columns make. Else
    nothing."""
    out: dict[str, Any] = {}
    if "regime" in names:
        at = list(names).index("regime")
        parsed = [parse_regime(v) for v in values[at]]
        for name in REGIME_FIELDS:
            if name not in names:
                lookup = np.array([code(name, p[name]) if p else -1 for p in parsed],
                                  dtype=np.int32)
                out[name] = lookup[local[at]]
        if "device" not in names:
            out["__device_names__"] = ([p["device"] if p else "" for p in parsed], local[at])
        bad = [i for i, p in enumerate(parsed) if p is None]
        if bad:
            out["__bad_regimes__"] = ([show(values[at][i]) for i in bad],
                                      np.isin(local[at], bad))
    elif all(name in names for name in REGIME_FIELDS):
        axes = [list(names).index(name) for name in REGIME_FIELDS]
        ids = [code("regime", regime_id(*combo))
               for combo in itertools.product(*(values[a] for a in axes))]
        flat = np.ravel_multi_index(tuple(local[a] for a in axes),
                                    tuple(len(values[a]) for a in axes))
        out["regime"] = np.array(ids, dtype=np.int32)[flat]
    return out


# -- one benchmark's columns, one file's fields ------------------------------------------------

#: What was left out: asv column, point index (-1: the whole column), the raw value, why.
LeftOut = tuple[str, int, Any, str]
#: asv's columns of numbers, per point.
NUMBER_COLUMNS = ("result", "stats_ci_99_a", "stats_ci_99_b", "stats_q_25", "stats_q_75",
                  "stats_number", "stats_repeat")
_COMMIT = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
_HEX = re.compile(r"[0-9a-fA-F]+")


def column_rules(kind: str, unit: str) -> dict[str, Rule]:
    """The rule of each of asv's number columns for a benchmark of this kind and unit."""
    rule = value_rule(kind, unit)
    return {"result": rule, "stats_q_25": quartile_rule(rule),
            "stats_q_75": quartile_rule(rule), "stats_ci_99_a": CI_RULE,
            "stats_ci_99_b": CI_RULE, "stats_number": TALLY_RULE, "stats_repeat": TALLY_RULE}


def judge_columns(row: dict[str, Any], n: int, kind: str, unit: str
                  ) -> tuple[dict[str, np.ndarray], list[LeftOut]] | str:
    """asv's columns of one benchmark (``n`` points), judged: float arrays per number column
    (NaN where not measured or left out), ``samples`` (an object array of tuples or None) when
    recorded, and what was left out. A point whose ``result`` is left out loses its statistics
    and samples too. A string instead: why the benchmark cannot be read at all."""
    rules = column_rules(kind, unit)
    out: dict[str, np.ndarray] = {}
    left_out: list[LeftOut] = []
    for key in NUMBER_COLUMNS:
        values = row.get(key)
        if values is not None and (not isinstance(values, list) or len(values) != n):
            return f"column {key!r} has the wrong length"
        floats, bad = numbers(values, n)
        rule = rules[key]
        whys = {i: f"{why}, not {rule.what}" for i, why in bad.items()}
        for i, why in violations(floats, rule).items():
            whys.setdefault(i, f"{why}, for {rule.what}")
        left_out += [(key, i, values[i], whys[i]) for i in sorted(whys)]  # type: ignore[index]
        floats[list(whys)] = np.nan
        out[key] = floats
    dead = {i for key, i, _, _ in left_out if key == "result"}
    for floats in out.values():
        floats[sorted(dead)] = np.nan
    samples = row.get("samples")
    if isinstance(samples, list) and len(samples) == n:
        if any(s for s in samples):
            bad = sample_problems(samples, quartile_rule(rules["result"]))
            kept = np.array([tuple(s) if isinstance(s, list) and s else None for s in samples]
                            + [None], dtype=object)[:-1]
            for i in sorted(dead | set(bad)):
                kept[i] = None
                if i not in dead:
                    left_out.append(("samples", i, samples[i], bad[i]))
            out["samples"] = kept
    elif samples is not None:
        left_out.append(("samples", -1, samples, "not one list per point; samples ignored"))
    return out, left_out


def left_out_message(bench: str, names: Sequence[str], params: Sequence[Sequence[str]],
                     left_out: Sequence[LeftOut], shown: int = 3) -> tuple[str, str]:
    """(message, severity) of one benchmark's left-out values: how many, the first few with
    their point; ``error`` when a point's value itself was left out, else ``warning``."""
    items = [f"{key} {show(raw)}"
             + (f" at ({describe_point(names, params, i)})" if i >= 0 else "") + f": {why}"
             for key, i, raw, why in left_out[:shown]]
    more = f"; and {len(left_out) - shown} more" if len(left_out) > shown else ""
    points = len({i for key, i, _, _ in left_out if key == "result"})
    what = (f"{points} point(s) left out (kept as not measured)" if points
            else "the points are kept")
    return (f"{bench}: {len(left_out)} value(s) not usable, {what}: " + "; ".join(items) + more,
            "error" if points else "warning")


def commit_problem(commit: Any) -> str | None:
    """Why ``commit_hash`` is not a commit hash (40 or 64 hex digits), or None."""
    if isinstance(commit, str) and _COMMIT.fullmatch(commit):
        return None
    if isinstance(commit, str):
        return "too short" if _HEX.fullmatch(commit) else "not hex digits"
    return "a number" if isinstance(commit, int | float) and not isinstance(commit, bool) \
        else type_name(commit)


def date_problem(date: Any) -> str | None:
    """Why ``date`` is not a date (milliseconds since 1970 that pandas can represent), or None.
    ``None`` (no date) is not a problem."""
    import pandas as pd

    if date is None:
        return None
    if isinstance(date, bool) or not isinstance(date, int | float):
        return f"{type_name(date)}, not milliseconds since 1970"
    try:
        pd.Timestamp(int(date), unit="ms", tz="UTC")
    except (OverflowError, ValueError):
        return "not a date pandas can represent"
    return None
