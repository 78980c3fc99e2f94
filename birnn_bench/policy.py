"""``strategy="auto"``: the strategy the findings recommend for this device and workload shape.

The rules live in ``auto_policy.json`` beside this file, WRITTEN by the findings command from
committed benchmark results (``python -m analysis findings``); nothing here is typed in by hand.
Only strategies that passed every condition of the correctness matrix may appear in it, and the
lookup refuses anything else, so ``auto`` is correct wherever the matrix is.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

POLICY_PATH = Path(__file__).with_name("auto_policy.json")
DEFAULT_STRATEGY = "hn_index"


@dataclass(frozen=True)
class Rule:
    device: str  # "cpu" or "cuda"
    layers: int
    batch: int
    lengths: str  # "equal", "uniform" or "skewed"
    strategy: str


def length_pattern(lengths: torch.Tensor, steps: int) -> str:
    """Which measured distribution a batch resembles: all full, about half, or long-tailed."""
    if bool((lengths == steps).all()):
        return "equal"
    mean_fill = float(lengths.double().mean()) / steps
    # uniform lengths fill ~1/2 of T on average, the skewed (u**3) distribution ~1/4.
    return "uniform" if mean_fill >= 3 / 8 else "skewed"


@lru_cache(maxsize=4)
def load_policy(path: Path = POLICY_PATH) -> tuple[tuple[Rule, ...], frozenset[str]]:
    """(rules, strategies allowed because they passed the whole correctness matrix)."""
    if not path.exists():
        return (), frozenset({DEFAULT_STRATEGY})
    data = json.loads(path.read_text())
    allowed = frozenset(data["correct_everywhere"])
    rules = tuple(Rule(**{k: rule[k] for k in Rule.__dataclass_fields__})
                  for rule in data["rules"])
    for rule in rules:
        if rule.strategy not in allowed:
            raise ValueError(f"{path}: rule {rule} names {rule.strategy!r}, which is not "
                             f"correct on every condition ({sorted(allowed)})")
    return rules, allowed


def choose(device: torch.device, num_layers: int, batch: int, lengths: torch.Tensor,
           steps: int, path: Path = POLICY_PATH) -> str:
    """The nearest measured regime's strategy (same device; layers, then length pattern, then
    batch on a log scale), else ``hn_index``."""
    rules, _ = load_policy(path)
    mine = [r for r in rules if r.device == device.type]
    if not mine:
        return DEFAULT_STRATEGY
    pattern = length_pattern(lengths, steps)

    def distance(rule: Rule) -> tuple[float, float, float]:
        return (abs(rule.layers - num_layers), float(rule.lengths != pattern),
                abs(math.log2(rule.batch) - math.log2(batch)))

    return min(mine, key=distance).strategy
