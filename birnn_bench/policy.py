"""``strategy="auto"``: the strategy the findings recommend for this device and workload shape,
from ``auto_policy.json`` (package data written by ``python -m analysis findings``), whose rules
may name only strategies correct on every condition of the correctness matrix."""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import torch

from birnn_bench.strategies import BASELINE

POLICY_NAME = "auto_policy.json"


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
    # uniform lengths fill ~1/2 of T on average, the skewed (u**3) distribution ~1/4.
    return "uniform" if float(lengths.double().mean()) / steps >= 3 / 8 else "skewed"


def _shipped_policy():  # -> importlib.resources Traversable
    return resources.files(__package__ or "birnn_bench").joinpath(POLICY_NAME)


@lru_cache(maxsize=4)
def load_policy(path: Path | None = None) -> tuple[tuple[Rule, ...], frozenset[str]]:
    """(rules, strategies allowed because they passed the whole correctness matrix).

    ``path`` None: the shipped policy, which must be there (else the install is broken and this
    raises FileNotFoundError rather than let ``auto`` pass for a recommendation). An explicit
    ``path`` that does not exist means no policy: ``hn_index`` everywhere, with a warning.
    """
    source = _shipped_policy() if path is None else Path(path)
    if path is None and not source.is_file():
        raise FileNotFoundError(
            f"birnn_bench/{POLICY_NAME} is missing from the installed package ({source}): "
            "strategy='auto' cannot be resolved. Reinstall birnn-bench from a wheel that "
            "carries its package data, or pass an explicit strategy.")
    if path is not None and not source.exists():
        warnings.warn(f"{source}: no auto policy there; strategy='auto' falls back to "
                      f"{BASELINE!r}", UserWarning, stacklevel=2)
        return (), frozenset({BASELINE})
    data = json.loads(source.read_text(encoding="utf-8"))
    allowed = frozenset(data["correct_everywhere"])
    rules = tuple(Rule(**{k: rule[k] for k in Rule.__dataclass_fields__}) for rule in data["rules"])
    for rule in rules:
        if rule.strategy not in allowed:
            raise ValueError(f"{source}: rule {rule} names {rule.strategy!r}, which is not "
                             f"correct on every condition ({sorted(allowed)})")
    return rules, allowed


def choose(device: torch.device, num_layers: int, batch: int, lengths: torch.Tensor,
           steps: int, path: Path | None = None) -> str:
    """The nearest measured regime's strategy (same device; layers, then length pattern, then
    batch on a log scale), else ``hn_index``. ``path``: another policy file (``load_policy``)."""
    rules, _ = load_policy(path)
    mine = [r for r in rules if r.device == device.type]
    if not mine:
        return BASELINE
    pattern = length_pattern(lengths, steps)

    def distance(rule: Rule) -> tuple[float, float, float]:
        return (abs(rule.layers - num_layers), float(rule.lengths != pattern),
                abs(math.log2(rule.batch) - math.log2(batch)))

    return min(mine, key=distance).strategy
