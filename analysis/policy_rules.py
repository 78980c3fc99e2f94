"""The auto policy (``birnn_bench/auto_policy.json``) from the Compare grid: grid in, dict out.
``birnn_bench.policy`` looks a rule up by device, layers, length pattern and batch only (not the
cell, hidden size or dtype), so a rule names the strategy the grid recommends in EVERY machine,
regime and mode with those values, else the baseline; and only safe strategies."""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping
from typing import Any

import pandas as pd

from birnn_bench.strategies import BASELINE

KEY = ["device", "layers", "batch", "lengths"]
COMMAND = "bash scripts/findings.sh"
RULE = ("per device, layers, batch and length pattern: the strategy the Compare grid "
        "recommends (a safe strategy significantly faster than {b}, 99% interval below 1) in "
        "every regime, mode and machine measured with those values; {b} where they disagree")


def auto_policy(grid: pd.DataFrame, safe: Collection[str], baseline: str = BASELINE
                ) -> dict[str, Any]:
    """``{"correct_everywhere", "rules", "generated_from"}`` from ``analysis.paired.grid``."""
    allowed = list(safe)
    picks = grid[grid["recommended"] & grid["strategy"].isin(allowed)] if not grid.empty else grid
    rules = []
    for (device, layers, batch, lengths), group in (
            picks.groupby(KEY, sort=True) if not picks.empty else []):
        names = sorted(set(group["strategy"]))
        chosen = names[0] if len(names) == 1 else baseline
        if chosen not in allowed:
            continue  # no safe default to fall back to: the lookup takes a neighbour
        evidence = [{"machine": str(r.machine), "mode": str(r.mode), "regime": str(r.regime),
                     "recommended": str(r.strategy), "ratio": _round(r.ratio),
                     "low": _round(r.low), "high": _round(r.high)}
                    for r in group.sort_values(["machine", "mode", "regime"]).itertuples()]
        rules.append({"device": str(device), "layers": int(layers), "batch": int(batch),
                      "lengths": str(lengths), "strategy": chosen, "evidence": evidence})
    commits = sorted({(str(m), str(c)) for m, c in zip(grid.get("machine", []),
                                                        grid.get("commit", []), strict=True)})
    return {"correct_everywhere": allowed, "rules": rules,
            "generated_from": {"command": COMMAND, "baseline": baseline,
                               "rule": RULE.format(b=baseline),
                               "results": [{"machine": m, "commit": c} for m, c in commits]}}


def _round(value: float) -> float | None:
    return float(f"{value:.4g}") if math.isfinite(value) else None


def policy_json(policy: Mapping[str, Any]) -> str:
    """The policy file's text: strict JSON (no NaN), stable across runs."""
    return json.dumps(policy, indent=2, allow_nan=False) + "\n"
