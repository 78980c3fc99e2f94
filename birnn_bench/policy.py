"""``strategy="auto"``: the strategy measured fastest, among those correct everywhere, on THIS
hardware, for a call like this one.

A policy file holds, per machine (its hardware facts, ``birnn_bench.hardware``), rules learned
from paired comparisons: per device, cell, mode (inference or training step), whether every
length is full, layers, batch, T, hidden size, length pattern and dtype, the strategy the one
rule found significantly faster than ``hn_index`` in a resolved comparison, else ``hn_index``.
The answer differs between CPUs (oneDNN's speed does), so a rule applies only on the hardware it
was measured on. Files, first match wins: ``path`` given to ``choose``, ``$BIRNN_BENCH_POLICY``,
the local policy ``birnn-bench tune`` writes (``local_policy_path()``), the shipped
``auto_policy.json``. No machine entry for this hardware: ``hn_index``, with one warning that
names ``birnn-bench tune``. The lookup is cached per call shape: it never measures anything."""

from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import dataclass, field, fields
from functools import lru_cache
from importlib import resources
from pathlib import Path

import torch
from torch import nn

from birnn_bench import hardware
from birnn_bench.strategies import BASELINE

POLICY_NAME = "auto_policy.json"
POLICY_ENV = "BIRNN_BENCH_POLICY"
VERSION = 2
MODES = ("forward", "train_step")
CELLS = {nn.LSTM: "lstm", nn.GRU: "gru", nn.RNN: "rnn"}


@dataclass(frozen=True)
class Rule:
    device: str  # "cpu" or "cuda"
    cell: str
    mode: str  # "forward" (inference) or "train_step"
    full_length: bool  # every length equals T
    layers: int
    batch: int
    max_len: int
    hidden: int
    lengths: str  # "equal", "uniform" or "skewed"
    dtype: str
    strategy: str


@dataclass(frozen=True)
class Policy:
    source: str
    machine: str
    hardware: dict
    rules: tuple[Rule, ...]
    allowed: frozenset[str]
    #: ``bucketed``'s cost constants measured here by ``tune``, per ``rnn.mode`` (may be empty).
    bucket_costs: dict = field(default_factory=dict, hash=False, compare=False)


def local_policy_path() -> Path:
    """Where ``birnn-bench tune`` writes this user's policy: ``$BIRNN_BENCH_POLICY``, else
    ``$XDG_CONFIG_HOME/birnn-bench/policy.json`` (``~/.config`` by default)."""
    given = os.environ.get(POLICY_ENV)
    if given:
        return Path(given)
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "birnn-bench" / "policy.json"


def length_pattern(lengths: list[int], steps: int) -> str:
    """Which measured distribution a batch resembles: all full, about half, or long-tailed."""
    if min(lengths) == steps:
        return "equal"
    # uniform lengths fill ~1/2 of T on average, the skewed (u**3) distribution ~1/4.
    return "uniform" if sum(lengths) / len(lengths) / steps >= 3 / 8 else "skewed"


def _shipped_policy():  # -> importlib.resources Traversable
    return resources.files(__package__ or "birnn_bench").joinpath(POLICY_NAME)


def parse_policy(data: object, source: str) -> list[Policy]:
    """The machine entries of a policy file's JSON; ValueError naming ``source`` when it is not
    one, or a rule names a strategy that is not correct everywhere."""
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise ValueError(f"{source}: not an auto policy of version {VERSION} (rewrite it with "
                         "`birnn-bench tune` or `bash scripts/findings.sh`)")
    allowed = frozenset(data.get("correct_everywhere") or ())
    if BASELINE not in allowed:
        raise ValueError(f"{source}: its correct_everywhere lacks {BASELINE!r}")
    names = [f.name for f in fields(Rule)]
    found = []
    for entry in data.get("machines") or []:
        try:
            rules = tuple(Rule(**{k: rule[k] for k in names}) for rule in entry["rules"])
            facts = dict(entry["hardware"])
        except (KeyError, TypeError) as err:
            raise ValueError(f"{source}: a machine entry or rule lacks {err}") from None
        for rule in rules:
            if rule.strategy not in allowed:
                raise ValueError(f"{source}: rule {rule} names {rule.strategy!r}, which is not "
                                 f"correct on every condition ({sorted(allowed)})")
        costs = entry.get("bucket_costs") or {}
        if not isinstance(costs, dict):
            raise ValueError(f"{source}: bucket_costs is not an object")
        found.append(Policy(source, str(entry.get("machine", "?")), facts, rules, allowed,
                            costs))
    return found


@lru_cache(maxsize=8)
def read_policy(path: str | None = None) -> tuple[Policy, ...]:
    """The machine entries of one file (None: the shipped policy, which must be there; else the
    install is broken and this raises FileNotFoundError rather than let ``auto`` pass for a
    measured answer). A missing explicit file holds none."""
    if path is None:
        source = _shipped_policy()
        if not source.is_file():
            raise FileNotFoundError(
                f"birnn_bench/{POLICY_NAME} is missing from the installed package ({source}): "
                "strategy='auto' cannot be resolved. Reinstall birnn-bench from a wheel that "
                "carries its package data, or pass an explicit strategy.")
        name = f"the shipped birnn_bench/{POLICY_NAME}"
    else:
        source = Path(path)
        if not source.is_file():
            return ()
        name = str(source)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except ValueError as err:
        raise ValueError(f"{name}: not JSON ({err})") from None
    return tuple(parse_policy(data, name))


@lru_cache(maxsize=4)
def _here(device: str) -> dict[str, str]:
    return hardware.facts(device)


@lru_cache(maxsize=16)
def measured_here(device: str = "cpu", path: str | None = None) -> Policy | None:
    """The first machine entry measured on this hardware: ``path``, ``$BIRNN_BENCH_POLICY``,
    the local policy, the shipped one; None when none matches (quietly)."""
    # A CPU call's answer does not depend on a GPU in the box: that fact is left out for it.
    here = {k: v for k, v in _here(device).items() if device != "cpu" or k != "gpu"}
    places = ([path] if path is not None else []) + [str(local_policy_path()), None]
    for place in dict.fromkeys(places):
        for entry in read_policy(place):
            if entry.hardware and not hardware.differences(entry.hardware, here):
                return entry
    return None


@lru_cache(maxsize=16)
def find_policy(device: str = "cpu", path: str | None = None) -> Policy | None:
    """``measured_here``, with one warning naming ``birnn-bench tune`` when nothing matches,
    and one when an explicit ``path`` is not a file (the other places are looked in)."""
    if path is not None and not Path(path).is_file():
        warnings.warn(f"{path}: no auto policy there (not a file); looking in the other places",
                      UserWarning, stacklevel=3)
    local = local_policy_path()
    if local.exists() and not local.is_file():
        warnings.warn(f"{local} (${POLICY_ENV}, else the local policy): not a file, ignored",
                      UserWarning, stacklevel=3)
    found = measured_here(device, path)
    if found is not None:
        return found
    here = _here(device)
    warnings.warn(f"strategy='auto': no policy measured on this hardware "
                  f"({hardware.describe(here)}); using {BASELINE!r}. Run `birnn-bench tune` "
                  f"(a few minutes) to measure this machine; it writes {local}.",
                  UserWarning, stacklevel=3)
    return None


def clear_caches() -> None:
    """Forget the files read and the lookups made (after ``tune`` wrote a policy)."""
    from birnn_bench import buckets

    for cached in (read_policy, measured_here, find_policy, _lookup, buckets._measured):
        cached.cache_clear()


def _distance(rule: Rule, layers: int, batch: int, steps: int, hidden: int, pattern: str,
              dtype: str) -> tuple:
    return (abs(rule.layers - layers), float(rule.lengths != pattern), float(rule.dtype != dtype),
            abs(math.log2(rule.max_len) - math.log2(steps)),
            abs(math.log2(rule.batch) - math.log2(batch)),
            abs(math.log2(rule.hidden) - math.log2(hidden)))


@lru_cache(maxsize=1024)
def _lookup(device: str, cell: str, mode: str, full: bool, layers: int, batch: int, steps: int,
            hidden: int, pattern: str, dtype: str, path: str | None) -> str:
    found = find_policy(device, path)
    if found is None:
        return BASELINE
    mine = [r for r in found.rules if (r.device, r.cell, r.mode, r.full_length)
            == (device, cell, mode, full)]
    if not mine:
        return BASELINE
    return min(mine, key=lambda r: _distance(r, layers, batch, steps, hidden, pattern,
                                              dtype)).strategy


def call_mode(rnn: nn.RNNBase) -> str:
    """"train_step" when this call builds a graph to train through, else "forward"."""
    return "train_step" if rnn.training and torch.is_grad_enabled() else "forward"


def choose(rnn: nn.RNNBase, x: torch.Tensor, lengths: torch.Tensor, steps: int,
           path: str | Path | None = None) -> str:
    """The policy's strategy for this call: its device, cell, mode (``call_mode``), whether
    every length is full, then the nearest rule in layers, length pattern, dtype, T, batch and
    hidden size (log scales). ``lengths``: the validated CPU int64 lengths (no device sync)."""
    values = lengths.tolist()
    full = min(values) == steps
    return _lookup(x.device.type, CELLS.get(type(rnn), type(rnn).__name__.lower()),
                   call_mode(rnn), full, rnn.num_layers, len(values), steps, rnn.hidden_size,
                   length_pattern(values, steps), str(x.dtype).removeprefix("torch."),
                   None if path is None else str(path))
