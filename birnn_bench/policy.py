"""``strategy="auto"``: the strategy the findings recommend for this device and workload shape.

The rules live in ``auto_policy.json`` beside this file, WRITTEN by the findings command from
committed benchmark results (``python -m analysis findings``); nothing here is typed in by hand.
Only strategies that passed every condition of the correctness matrix may appear in it, and the
lookup refuses anything else, so ``auto`` is correct wherever the matrix is.

The file is package data (``[tool.setuptools.package-data]`` in pyproject.toml) and is read
through ``importlib.resources``, so an installed wheel finds it as a checkout does. An install
without it is broken: ``auto`` then raises instead of quietly answering ``hn_index``.
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from birnn_bench.strategies import BASELINE

if TYPE_CHECKING:
    if sys.version_info >= (3, 11):
        from importlib.resources.abc import Traversable
    else:  # importlib.abc's, deprecated from 3.12
        from importlib.abc import Traversable

POLICY_NAME = "auto_policy.json"
DEFAULT_STRATEGY = BASELINE  # what "auto" falls back to without a policy


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


def _shipped_policy() -> Traversable:
    """The policy file as the installed package holds it."""
    return resources.files(__package__ or "birnn_bench").joinpath(POLICY_NAME)


@lru_cache(maxsize=4)
def load_policy(path: Path | None = None) -> tuple[tuple[Rule, ...], frozenset[str]]:
    """(rules, strategies allowed because they passed the whole correctness matrix).

    ``path`` None: the policy shipped in the package. It must be there: without it the install
    is broken (e.g. a wheel built without its package data), and this raises FileNotFoundError
    rather than let ``auto`` pass for a recommendation. An explicit ``path`` that does not exist
    means no policy: ``hn_index`` everywhere, with a warning.
    """
    if path is None:
        shipped = _shipped_policy()
        if not shipped.is_file():
            raise FileNotFoundError(
                f"birnn_bench/{POLICY_NAME} is missing from the installed package ({shipped}): "
                "strategy='auto' cannot be resolved. Reinstall birnn-bench from a wheel that "
                "carries its package data, or pass an explicit strategy.")
        where, text = str(shipped), shipped.read_text(encoding="utf-8")
    else:
        path = Path(path)
        if not path.exists():
            warnings.warn(f"{path}: no auto policy there; strategy='auto' falls back to "
                          f"{DEFAULT_STRATEGY!r}", UserWarning, stacklevel=2)
            return (), frozenset({DEFAULT_STRATEGY})
        where, text = str(path), path.read_text(encoding="utf-8")
    data = json.loads(text)
    allowed = frozenset(data["correct_everywhere"])
    rules = tuple(Rule(**{k: rule[k] for k in Rule.__dataclass_fields__})
                  for rule in data["rules"])
    for rule in rules:
        if rule.strategy not in allowed:
            raise ValueError(f"{where}: rule {rule} names {rule.strategy!r}, which is not "
                             f"correct on every condition ({sorted(allowed)})")
    return rules, allowed


def choose(device: torch.device, num_layers: int, batch: int, lengths: torch.Tensor,
           steps: int, path: Path | None = None) -> str:
    """The nearest measured regime's strategy (same device; layers, then length pattern, then
    batch on a log scale), else ``hn_index``. ``path``: a policy file other than the shipped
    one (see ``load_policy``)."""
    rules, _ = load_policy(path)
    mine = [r for r in rules if r.device == device.type]
    if not mine:
        return DEFAULT_STRATEGY
    pattern = length_pattern(lengths, steps)

    def distance(rule: Rule) -> tuple[float, float, float]:
        return (abs(rule.layers - num_layers), float(rule.lengths != pattern),
                abs(math.log2(rule.batch) - math.log2(batch)))

    return min(mine, key=distance).strategy
