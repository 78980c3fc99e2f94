"""What a loaded value may be: the rules ``load.results`` holds every value to. A JSON boolean,
string, list or object is never a number (``true`` is not 1); ``null`` / ``NaN`` is asv's "not
measured", not a problem. Whatever fails is reported and left out, never guessed. (Regime ids
are ``benchmarks.regimes.Regime``'s: built and parsed there.)"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

#: Units whose values are counts of something (whole numbers >= 0).
COUNT_UNITS = ("ops", "kernels", "syncs", "threads")
_COMMIT = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
_HEX = re.compile(r"[0-9a-fA-F]+")
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
    plausible: tuple[float, float] | None = None  # what a real measurement lies within

    def breaks_minimum(self, value: Any) -> Any:
        return value <= self.minimum if self.strict else value < self.minimum

    def bound(self) -> str:
        return f"{'> ' if self.strict else '>= '}{self.minimum:g}"

    def implausible(self, value: Any) -> Any:
        low, high = self.plausible  # type: ignore[misc]
        return (value < low) | (value > high)

    def range(self) -> str:
        low, high = self.plausible  # type: ignore[misc]
        return f"outside {low:g}..{high:g}, the plausible range"


#: asv's 99% interval: +-inf means "no estimate" (one sample) and the lower end may fall below
#: 0 (a Laplace posterior), so only the type is judged.
CI_RULE = Rule("a number", finite=False)
#: ``stats_number`` / ``stats_repeat``: how many calls and samples asv took.
TALLY_RULE = Rule("a count of calls or samples", 1.0, integral=True)
_COUNTS = (0.0, 1e9)  # ops, kernels, syncs of one forward: tens to thousands
#: Every series' unit (as ``benchmarks/`` defines it) -> what its values may be, with the range
#: a real measurement lies within; beyond it a value is a corrupt file or a broken clock, not
#: data (each range leaves orders of magnitude of room):
#: seconds 1e-9..1e4: a call runs some instructions (>= 1 ns at any clock) and asv stops a
#: benchmark at its timeout (<= 3600 s here); bytes and instructions 1..1e13: a forward
#: allocates and executes something, 10 TB is more memory than any machine has and 1e13
#: instructions an hour at 3 GHz; abs error 0..1e6: LSTM/GRU/tanh states lie in [-1, 1], so a
#: real error is <= 2 (1e6 leaves room for a relu RNN); error / tolerance 0..1e15: 1e6 over the
#: smallest tolerance (1e-9); the verdict 0 or 1; counts 0..1e9 (a forward's ops are tens to
#: thousands); a ratio to the baseline (``RATIO_RULE``) 1e-3..1e3: both run the same rnn work,
#: measured ratios are 0.5-5x.
SERIES_RULES: dict[str, Rule] = {
    "seconds": Rule("a time in seconds", 0.0, strict=True, plausible=(1e-9, 1e4)),
    "bytes": Rule("a byte count", 0.0, strict=True, plausible=(1.0, 1e13)),
    "instructions": Rule("instructions per call", 0.0, strict=True, plausible=(1.0, 1e13)),
    "abs error": Rule("an error (abs error)", 0.0, plausible=(0.0, 1e6)),
    "error / tolerance": Rule("an error (error / tolerance)", 0.0, plausible=(0.0, 1e15)),
    "wrong (1) or right (0)": Rule("a verdict (wrong 1, right 0)", 0.0, integral=True,
                                   plausible=(0.0, 1.0)),
    **{unit: Rule(f"a count of {unit}", 0.0, integral=True, plausible=_COUNTS)
       for unit in COUNT_UNITS},
}
RATIO_RANGE = (1e-3, 1e3)


def value_rule(kind: str, unit: str) -> Rule:
    """The rule for a benchmark's values (``result``, and its quartiles): ``SERIES_RULES`` by
    unit, else by what the benchmark measures (``kind``)."""
    if unit in SERIES_RULES:
        return SERIES_RULES[unit]
    if kind == "ratio" or is_ratio(unit):
        return Rule(f"a ratio ({unit})", 0.0, strict=True, plausible=RATIO_RANGE)
    if kind == "error" or "error" in unit:
        return replace(SERIES_RULES["abs error"], what=f"an error ({unit})")
    if kind == "time":
        return SERIES_RULES["seconds"]
    if kind == "memory":
        return SERIES_RULES["bytes"]
    return Rule(f"a number ({unit or 'no unit'})")


def type_name(value: Any) -> str:
    """How a message names the JSON type of ``value`` (``a JSON boolean``, ``a string``)."""
    names = ((type(None), "null"), (bool, "a JSON boolean"), (str, "a string"),
             (list | tuple, "a list"), (dict, "a JSON object"))
    return next((name for types, name in names if isinstance(value, types)),
                f"a {type(value).__name__}")


def numbers(values: Sequence[Any] | None, n: int) -> tuple[np.ndarray, dict[int, str]]:
    """``values`` as float64 (``None`` -> NaN) and, per index that is not a number, why
    (``true`` never becomes 1.0, ``"1.5"`` never 1.5)."""
    if values is None:
        return np.full(n, np.nan), {}
    if set(map(type, values)) <= {float, int, type(None)}:  # what asv writes: one numpy call
        try:
            return np.array(values, dtype=np.float64), {}
        except OverflowError:  # an int beyond float64: judged one by one below
            pass
    out = np.full(n, np.nan)
    bad: dict[int, str] = {}
    for i, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, int | float | None):
            bad[i] = type_name(value)
        elif value is not None:
            try:
                out[i] = float(value)
            except OverflowError:
                bad[i] = "too large for a float"
    return out, bad


def violations(values: np.ndarray, rule: Rule) -> dict[int, str]:
    """Per index whose (non-NaN) value breaks ``rule``: why."""
    bad: dict[int, str] = {}
    present = ~np.isnan(values)
    if rule.finite:
        for i in np.flatnonzero(present & np.isinf(values)):
            bad[int(i)] = "infinite"
    with np.errstate(invalid="ignore"):
        if rule.minimum is not None:
            for i in np.flatnonzero(present & rule.breaks_minimum(values)):
                bad.setdefault(int(i), f"not {rule.bound()}")
        if rule.plausible is not None:
            for i in np.flatnonzero(present & rule.implausible(values)):
                bad.setdefault(int(i), rule.range())
        if rule.integral:
            frac = (present & np.isfinite(values)
                    & ((values != np.floor(values)) | (np.abs(values) > _MAX_EXACT)))
            for i in np.flatnonzero(frac):
                bad.setdefault(int(i), "not a whole number")
    return bad


def sample_problems(samples: Sequence[Any], rule: Rule) -> dict[int, str]:
    """Per point whose raw samples cannot be used (``None`` / ``[]``: not recorded): why.
    One numpy pass when all are plain numbers within the rule (what asv writes)."""
    points = [p for p in samples if p]
    if all(type(p) is list for p in points):
        flat = list(itertools.chain.from_iterable(points))
        if set(map(type, flat)) <= _NUMBER_TYPES:
            with contextlib.suppress(OverflowError):
                values = np.array(flat, dtype=np.float64)
                if not np.isnan(values).any() and not violations(values, rule):
                    return {}
    return {i: why for i, point in enumerate(samples)
            if point and (why := _sample_problem(point, rule)) is not None}


def _sample_problem(samples: Any, rule: Rule) -> str | None:
    if not isinstance(samples, list):
        return f"{type_name(samples)}, not a list of samples"
    for value in samples:
        if type(value) not in _NUMBER_TYPES:  # bool is not int here: true is no sample
            return f"holds {type_name(value)}, not {rule.what}"
    try:
        low, high, total = float(min(samples)), float(max(samples)), float(sum(samples))
    except OverflowError:
        return "holds a number too large for a float"
    if math.isnan(total) or math.isinf(total):
        return "holds a NaN or infinite sample"
    if rule.minimum is not None and rule.breaks_minimum(low):
        return f"holds {low:g}, not {rule.bound()}"
    for value in (low, high):
        if rule.plausible is not None and rule.implausible(value):
            return f"holds {value:g}, {rule.range()} of {rule.what}"
    return None


def show(value: Any, limit: int = 40) -> str:
    """A raw JSON value as the file spells it, shortened (``true``, ``"abc"``, ``[1, 2]``)."""
    try:
        text = json.dumps(value, allow_nan=True)
    except (TypeError, ValueError, RecursionError):
        text = type_name(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


#: What was left out: asv column, point index (-1: the whole column), the raw value, why.
LeftOut = tuple[str, int, Any, str]


def judge_columns(row: dict[str, Any], n: int, kind: str, unit: str
                  ) -> tuple[dict[str, np.ndarray], list[LeftOut]] | str:
    """asv's columns of one benchmark (``n`` points), judged: float arrays per number column
    (NaN where not measured or left out), ``samples`` (an object array of tuples or None) when
    recorded, and what was left out. A point whose ``result`` is left out loses its statistics
    and samples too. A string instead: why the benchmark cannot be read at all."""
    value = value_rule(kind, unit)
    quartile = replace(value, integral=False)  # quartiles of counts need not be whole
    rules = {"result": value, "stats_ci_99_a": CI_RULE, "stats_ci_99_b": CI_RULE,
             "stats_q_25": quartile, "stats_q_75": quartile, "stats_number": TALLY_RULE,
             "stats_repeat": TALLY_RULE}
    out: dict[str, np.ndarray] = {}
    left_out: list[LeftOut] = []
    for key, rule in rules.items():
        values = row.get(key)
        if values is not None and (not isinstance(values, list) or len(values) != n):
            return f"column {key!r} has the wrong length"
        floats, bad = numbers(values, n)
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
        if any(samples):
            bad = sample_problems(samples, quartile)
            kept = np.array([tuple(s) if isinstance(s, list) and s else None for s in samples]
                            + [None], dtype=object)[:-1]  # the None: no 2-D array of tuples
            kept[sorted(dead | set(bad))] = None
            left_out += [("samples", i, samples[i], bad[i]) for i in sorted(set(bad) - dead)]
            out["samples"] = kept
    elif samples is not None:
        left_out.append(("samples", -1, samples, "not one list per point; samples ignored"))
    return out, left_out


def left_out_message(bench: str, names: Sequence[str], params: Sequence[Sequence[str]],
                     left_out: Sequence[LeftOut], shown: int = 3) -> tuple[str, str]:
    """(message, severity) of one benchmark's left-out values: how many, the first few with
    their point; ``error`` when a point's value itself was left out, else ``warning``."""
    def point(index: int) -> str:  # asv's order: the last parameter varies fastest
        if not names:
            return "(no parameters)"
        where = np.unravel_index(index, tuple(len(p) for p in params))
        return ", ".join(f"{name}={values[int(at)]}"
                         for name, values, at in zip(names, params, where, strict=True))

    items = [f"{key} {show(raw)}" + (f" at ({point(i)})" if i >= 0 else "") + f": {why}"
             for key, i, raw, why in left_out[:shown]]
    more = f"; and {len(left_out) - shown} more" if len(left_out) > shown else ""
    points = len({i for key, i, _, _ in left_out if key == "result"})
    what = (f"{points} point(s) left out (kept as not measured)" if points
            else "the points are kept")
    return (f"{bench}: {len(left_out)} value(s) not usable, {what}: " + "; ".join(items) + more,
            "error" if points else "warning")


def commit_problem(commit: Any) -> str | None:
    """Why ``commit`` is not a commit hash (40 or 64 hex digits), or None."""
    if isinstance(commit, str) and _COMMIT.fullmatch(commit):
        return None
    if isinstance(commit, str):
        return "too short" if _HEX.fullmatch(commit) else "not hex digits"
    number = isinstance(commit, int | float) and not isinstance(commit, bool)
    return "a number" if number else type_name(commit)


def run_date(date: Any) -> tuple[pd.Timestamp | None, str | None]:
    """A run's date (given in ms since 1970), or None and why when it is not one pandas can
    represent (None for ``None``: no date recorded, nothing wrong)."""
    if date is None:
        return None, None
    if isinstance(date, bool) or not isinstance(date, int | float):
        return None, f"{type_name(date)}, not milliseconds since 1970"
    try:
        return pd.Timestamp(int(date), unit="ms", tz="UTC"), None
    except (OverflowError, ValueError):
        return None, "not a date pandas can represent"


def _same_points(one: dict[str, Any], other: dict[str, Any]) -> bool:
    """Two chunks hold the same points in the same order."""
    return one["n"] == other["n"] and one["params"].keys() == other["params"].keys() and all(
        np.array_equal(codes, other["params"][key]) for key, codes in one["params"].items())


def outside_intervals(chunks: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """An estimate with its 99% interval in two more series (``<name>_low``, ``_high``, of
    the same points: the paired ratios) lies within it, as the engine writes it; a point
    where it does not is corrupt: its three values are left out (in ``chunks``, the loader's
    chunks of one file) and named in the (message, severity) returned."""
    notes = []
    by_name = {chunk["name"]: chunk for chunk in chunks}
    for name, estimate in by_name.items():
        low, high = by_name.get(f"{name}_low"), by_name.get(f"{name}_high")
        if low is None or high is None or not (_same_points(estimate, low)
                                               and _same_points(estimate, high)):
            continue
        e, lo, hi = (chunk["rows"]["value"] for chunk in (estimate, low, high))
        with np.errstate(invalid="ignore"):
            bad = ~(np.isnan(e) | np.isnan(lo) | np.isnan(hi)) & ~((lo <= e) & (e <= hi))
        if not bad.any():
            continue
        names, params, points = estimate["where"]
        short = name.rsplit(".", 1)[-1]
        notes.append(left_out_message(name, names, params, [
            ("result", int(points[i]), float(e[i]), f"outside its own 99% interval "
             f"[{lo[i]:g}, {hi[i]:g}] ({short}_low, _high; left out with it)")
            for i in np.flatnonzero(bad)]))
        for chunk in (estimate, low, high):
            for column, values in chunk["rows"].items():
                if column == "samples":
                    values[bad] = None
                elif column == "rejected":
                    values[bad] = True
                elif column != "device_name":
                    values[bad] = np.nan
    return notes
