"""Two commits compared series by series, by the thresholds ``asv.conf.json`` sets.

``regressions_thresholds`` (the largest threshold whose pattern matches a series' asv name, asv's
default 5% when none does) and ``regressions_first_commits`` set to null (never judged), read
the way asv's dashboard reads them; a paired ratio counts when the quotient of the two commits'
99% intervals lies beyond 1 +- the process-level A/A (``history.interval_change``); absolute
times never count. Commits are paired by
name, not by date: a base newer than its head (a branch behind main) compares the same way.
Pure functions: the configuration as a dict, frames in and out."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.history import ABSOLUTE, COLUMNS, KEYS, RATIO, interval_change
from analysis.paired import MODES

#: asv's threshold where no pattern of ``regressions_thresholds`` matches.
ASV_DEFAULT_THRESHOLD = 0.05
#: The error series of ``history`` is the verdict asv's dashboard shows as its own benchmark.
ASV_ALIASES = {"strategies.Error.track_max_abs_error": "strategies.Error.track_error_verdict"}
EXTRA = ["previous_commit", "previous_value", "previous_low", "previous_high", "change",
         "judged", "threshold", "relative"]


@dataclass(frozen=True)
class Limits:
    """``regressions_thresholds`` as (pattern, threshold) and the never-judged patterns."""

    thresholds: tuple[tuple[str, float], ...]
    never: tuple[str, ...]

    @classmethod
    def from_conf(cls, conf: dict) -> Limits:
        """From a loaded ``asv.conf.json``; ValueError naming a bad entry."""
        thresholds = []
        for pattern, value in (conf.get("regressions_thresholds") or {}).items():
            try:
                re.compile(pattern)
                thresholds.append((pattern, float(value)))
            except (re.error, TypeError, ValueError):
                raise ValueError(f"regressions_thresholds: {pattern!r}: {value!r} is not a "
                                 "pattern with a number") from None
        never = tuple(p for p, first in (conf.get("regressions_first_commits") or {}).items()
                      if first is None)
        return cls(tuple(thresholds), never)

    def threshold(self, name: str) -> float | None:
        """The relative change beyond which series ``name`` counts; None: never judged."""
        if any(re.match(p, name) for p in self.never):
            return None
        found = [value for pattern, value in self.thresholds if re.match(pattern, name)]
        return max(found) if found else ASV_DEFAULT_THRESHOLD

    def describe(self, name: str) -> str:
        """``1%`` / ``any change`` / ``never judged`` for series ``name``."""
        value = self.threshold(name)
        return "never judged" if value is None else "any change" if value == 0 else f"{value:.0%}"


def asv_name(benchmark: str, regime: object, strategy: object, variant: str = "") -> str:
    """A series' name as asv's regression detection matches it: ``bench('regime', 'strategy')``
    (plus the values of extra parameters, e.g. ``compile=eager``)."""
    extra = [repr(part.split("=", 1)[1]) for part in variant.split(",") if "=" in part]
    params = ", ".join([repr(str(regime)), repr(str(strategy)), *extra])
    return f"{ASV_ALIASES.get(benchmark, benchmark)}({params})"


def compare(points: pd.DataFrame, base: str, head: str, limits: Limits,
            ratio_tolerance: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Every series (``history.series`` rows) measured at both ``base`` and ``head``: head's
    row with ``previous_*`` = base's, ``change`` ("regression" = worse, "improvement", or ""),
    ``judged``, ``threshold`` (NaN for ratios and what is never judged) and ``relative`` (head
    over base, minus 1). ``ratio_tolerance``: the process-level A/A per mode
    (``analysis.resolution.tolerances``) a paired ratio's change must exceed."""
    rows = points[points["commit"].astype(str).isin([base, head])]
    after = rows[rows["commit"].astype(str) == head]
    before = rows[rows["commit"].astype(str) == base][[*KEYS, "commit", "value", "low", "high"]]
    before = before.rename(columns={c: f"previous_{c}" for c in ("commit", "value", "low",
                                                                  "high")})
    out = after.merge(before.drop_duplicates(KEYS, keep="last"), on=KEYS, how="inner")
    if out.empty:
        return pd.DataFrame(columns=[*COLUMNS, *EXTRA])
    change, judged, thresholds = [], [], []
    for row in out.itertuples(index=False):
        limit = None if row.kind in (ABSOLUTE, RATIO) else limits.threshold(
            asv_name(row.benchmark, row.regime, row.strategy, row.variant))
        thresholds.append(np.nan if limit is None else limit)
        if row.kind == RATIO:
            mode = MODES.get(str(row.benchmark).rsplit(".", 1)[0], "")
            verdict = interval_change((row.previous_value, row.previous_low, row.previous_high),
                                      (row.value, row.low, row.high),
                                      (ratio_tolerance or {}).get(mode, 0.0))
            change.append({"slower": "regression", "faster": "improvement"}.get(verdict, ""))
            judged.append(True)
        elif limit is None:
            change.append("")
            judged.append(False)
        else:
            before_value, value = float(row.previous_value), float(row.value)
            change.append("regression" if value > before_value * (1 + limit) else
                          "improvement" if value < before_value * (1 - limit) else "")
            judged.append(True)
    out = out.assign(change=change, judged=judged, threshold=thresholds)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["relative"] = out["value"].astype(float) / out["previous_value"].astype(float) - 1
    return out[[*COLUMNS, *EXTRA]].reset_index(drop=True)
