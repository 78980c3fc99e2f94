"""Two commits compared series by series, by the thresholds ``asv.conf.json`` sets
(``history.Limits``, which the report's history uses too); a paired ratio counts when the
quotient of the two commits' 99% intervals lies beyond 1 +- the process-level A/A
(``history.interval_change``); absolute times never count. Commits are paired by name, not by
date: a base newer than its head (a branch behind main) compares the same way.
Pure functions: the configuration as a dict, frames in and out."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from analysis.model.history import ABSOLUTE, COLUMNS, KEYS, RATIO, Limits, asv_name, interval_change
from analysis.model.paired import MODES

EXTRA = ["previous_commit", "previous_value", "previous_low", "previous_high", "change",
         "judged", "threshold", "relative"]


def compare(points: pd.DataFrame, base: str, head: str, limits: Limits,
            ratio_tolerance: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Every series (``history.series`` rows) measured at both ``base`` and ``head``: head's
    row with ``previous_*`` = base's, ``change`` ("regression" = worse, "improvement", or ""),
    ``judged``, ``threshold`` (NaN for ratios and what is never judged) and ``relative`` (head
    over base, minus 1). ``ratio_tolerance``: the process-level A/A per mode
    (``analysis.model.resolution.tolerances``) a paired ratio's change must exceed."""
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
