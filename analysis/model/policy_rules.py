"""The auto policy (``birnn_bench/auto_policy.json``) from the Compare grid: grid in, dict out.

One entry per machine, keyed by the hardware its results were measured on (the loader's
``facts``), since the fastest safe strategy differs between CPUs; ``birnn_bench.policy`` applies
an entry only on matching hardware. A rule per regime and mode: the strategy the grid recommends
there (a safe strategy significantly faster than the baseline in a resolved comparison, by the
one rule), else the baseline; and only safe strategies."""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping
from typing import Any

import pandas as pd

from birnn_bench.policy import VERSION
from birnn_bench.strategies import BASELINE

COMMAND = "bash scripts/findings.sh"
RULE = ("per machine (its hardware), device, cell, mode, full length or not, layers, batch, T, "
        "hidden size, length pattern and dtype: the strategy the Compare grid recommends (a safe "
        "strategy significantly faster than {b}, 99% interval below 1, in a regime whose A/A "
        "resolves), else {b}")


def rule_of(row: Any) -> dict[str, Any]:
    """A policy rule from one recommended row of ``analysis.model.paired.grid`` (or of ``tune``)."""
    return {"device": str(row.device), "cell": str(row.cell), "mode": str(row.mode),
            "full_length": str(row.lengths) == "equal", "layers": int(row.layers),
            "batch": int(row.batch), "max_len": int(row.max_len), "hidden": int(row.hidden),
            "lengths": str(row.lengths), "dtype": str(row.dtype), "strategy": str(row.strategy),
            "ratio": _round(row.ratio), "low": _round(row.low), "high": _round(row.high)}


def auto_policy(grid: pd.DataFrame, safe: Collection[str], facts: Mapping[str, str],
                baseline: str = BASELINE) -> dict[str, Any]:
    """``{"version", "correct_everywhere", "machines", "generated_from"}`` from
    ``analysis.model.paired.grid``; ``facts``: machine -> the JSON of its hardware facts (the
    loader's ``facts`` column of the commit the grid shows)."""
    allowed = list(safe)
    picks = grid[grid["recommended"]] if not grid.empty else grid
    machines = []
    for (machine, commit), group in (picks.groupby(["machine", "commit"], sort=True)
                                     if not picks.empty else []):
        rules = [rule_of(r) for r in group.sort_values(["mode", "regime"]).itertuples()
                 if str(r.strategy) in allowed]
        machines.append({"machine": str(machine), "commit": str(commit),
                         "hardware": json.loads(facts.get(str(machine), "{}")),
                         "rules": rules})
    return {"version": VERSION, "correct_everywhere": allowed, "machines": machines,
            "generated_from": {"command": COMMAND, "baseline": baseline,
                               "rule": RULE.format(b=baseline)}}


def _round(value: float) -> float | None:
    return float(f"{value:.4g}") if math.isfinite(value) else None


def policy_json(policy: Mapping[str, Any]) -> str:
    """The policy file's text: strict JSON (no NaN), stable across runs."""
    return json.dumps(policy, indent=2, allow_nan=False) + "\n"
