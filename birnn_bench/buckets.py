"""The cost model of the ``bucketed`` strategy: how to cut a batch sorted by length into buckets.

One bucket of ``n`` sequences padded to its longest, ``L`` steps, costs
``per_call + per_step * L + per_token * n * L`` (a padded run of every layer in both directions:
a fixed price per call, the recurrence's price per step whatever the batch, the price per padded
token). ``plan_buckets`` chooses the number of buckets and the cut points that minimise the sum,
exactly, in O(B) after the sort. With ``per_step = 0`` this is "padded tokens x per-token cost +
buckets x per-call cost"; the step term is there because a GRU's step costs about six tokens on
the CPU (``DEFAULT_COSTS``), so leaving it out would cut GRU batches too finely.

The constants depend on the machine, the cell and its size: ``DEFAULT_COSTS`` are shipped
(measured on the project's 2-core AMD EPYC box), ``birnn_bench.bench.measure_bucket_costs``
measures them for a given rnn shape, ``fit_costs`` fits them to timed samples. Only the ratios
matter to the plan, not the unit.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import torch


@dataclass(frozen=True)
class BucketCosts:
    """Seconds per padded-bucket call, per time step of it, per padded token of it."""

    per_call: float
    per_step: float
    per_token: float

    def __post_init__(self) -> None:
        for name in ("per_call", "per_step", "per_token"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name}: expected a finite number >= 0, got {value!r}")

    def bucket(self, count: int, longest: int) -> float:
        """The modelled cost of one bucket of ``count`` sequences padded to ``longest`` steps."""
        return self.per_call + self.per_step * longest + self.per_token * count * longest


#: Shipped per ``nn.RNNBase.mode``: one layer, hidden 128, input 64, float32, inference, one
#: thread, measured by ``measure_bucket_costs`` (3 runs of 30 rounds, rounded) on a 2-core AMD
#: EPYC (AVX512) in 2026-12; ``RNN_RELU`` takes the ``RNN_TANH`` figures. A padded LSTM call pays
#: ~0.2 ms per direction whatever its size (oneDNN), a GRU's step is as dear as ~5 tokens.
DEFAULT_COSTS: dict[str, BucketCosts] = {
    "LSTM": BucketCosts(per_call=4.4e-4, per_step=3.2e-6, per_token=4.1e-6),
    "GRU": BucketCosts(per_call=3.0e-4, per_step=2.5e-5, per_token=5.1e-6),
    "RNN_TANH": BucketCosts(per_call=1.7e-4, per_step=9.1e-6, per_token=1.95e-6),
    "RNN_RELU": BucketCosts(per_call=1.7e-4, per_step=9.1e-6, per_token=1.95e-6),
}


def costs_for(mode: str) -> BucketCosts:
    """The constants the ``bucketed`` strategy plans with for an rnn of ``mode`` (``rnn.mode``):
    those ``birnn-bench tune`` measured on this hardware when its policy has them, else the
    shipped ones."""
    return _measured().get(mode) or DEFAULT_COSTS[mode]


@lru_cache(maxsize=1)
def _measured() -> dict[str, BucketCosts]:
    """``bucket_costs`` of the policy entry measured on this hardware (read once; the import is
    here because ``policy`` imports the registry, which imports this module)."""
    from birnn_bench import policy

    found = policy.measured_here("cpu")
    return {mode: BucketCosts(**values) for mode, values in
            (found.bucket_costs if found is not None else {}).items()}


def plan_buckets(sorted_lengths: list[int], per_call: float, per_step: float,
                 per_token: float) -> list[int]:
    """Cut points ``[0, c_1, ..., B]`` over lengths sorted in DESCENDING order: bucket ``r`` is
    ``sorted_lengths[c_r:c_{r+1}]``, padded to its first (longest) length. The plan minimises the
    summed ``BucketCosts.bucket`` exactly.

    Equal lengths never straddle a cut (splitting them adds a call and saves nothing), so the
    dynamic programme runs over the m distinct lengths: best[k] = min over g < k of best[g] +
    per_call + per_step * L_g + per_token * L_g * (start_k - start_g). For a fixed g that is a
    line in start_k whose slope per_token * L_g falls as g grows while start_k rises, so a
    monotone convex hull answers each k in amortised O(1): O(m) in all. Plain floats and lists:
    TorchScript compiles it, and it runs on every forward."""
    count = len(sorted_lengths)
    starts = [0]
    for i in range(1, count):
        if sorted_lengths[i] != sorted_lengths[i - 1]:
            starts.append(i)
    starts.append(count)
    groups = len(starts) - 1
    best = [0.0] * (groups + 1)
    parent = [0] * (groups + 1)
    # The hull: lines (slope, intercept, group) with strictly falling slopes; hull[head:] is live.
    slopes: list[float] = []
    intercepts: list[float] = []
    owners: list[int] = []
    head = 0
    for k in range(1, groups + 1):
        g = k - 1
        longest = float(sorted_lengths[starts[g]])
        slope = per_token * longest
        intercept = best[g] + per_call + per_step * longest - slope * starts[g]
        add = True
        if len(slopes) > head and slopes[-1] <= slope:  # equal slopes (per_token = 0 or ties)
            if intercepts[-1] <= intercept:
                add = False
            else:
                slopes.pop()
                intercepts.pop()
                owners.pop()
        while add and len(slopes) - head >= 2 and (
                (intercept - intercepts[-2]) * (slopes[-2] - slopes[-1])
                <= (intercepts[-1] - intercepts[-2]) * (slopes[-2] - slope)):
            slopes.pop()  # the last line is nowhere below both its neighbours
            intercepts.pop()
            owners.pop()
        if add:
            slopes.append(slope)
            intercepts.append(intercept)
            owners.append(g)
        head = min(head, len(slopes) - 1)
        x = float(starts[k])
        while len(slopes) - head >= 2 and (slopes[head + 1] * x + intercepts[head + 1]
                                           <= slopes[head] * x + intercepts[head]):
            head += 1
        best[k] = slopes[head] * x + intercepts[head]
        parent[k] = owners[head]
    cuts = [count]
    k = groups
    while k > 0:
        k = parent[k]
        cuts.append(starts[k])
    cuts.reverse()
    return cuts


def plan_cost(sorted_lengths: Sequence[int], cuts: Sequence[int], costs: BucketCosts) -> float:
    """The modelled cost of the buckets ``cuts`` (as ``plan_buckets`` returns them)."""
    return sum(costs.bucket(end - start, sorted_lengths[start])
               for start, end in itertools.pairwise(cuts))


def fit_costs(samples: Sequence[tuple[int, int, float]]) -> BucketCosts:
    """The non-negative constants that best fit ``(batch, steps, seconds)`` samples of a padded
    call, in relative error (a 1 ms and a 100 ms call weigh alike): least squares over every
    subset of the three terms, keeping the best fit whose constants are all >= 0."""
    if len(samples) < 3:
        raise ValueError(f"samples: expected at least 3 (batch, steps, seconds), got "
                         f"{len(samples)}")
    for batch, steps, seconds in samples:
        if batch < 1 or steps < 1 or not (math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"samples: ({batch}, {steps}, {seconds}) is not a call of batch "
                             ">= 1, steps >= 1 taking > 0 seconds")
    seconds = torch.tensor([s for _, _, s in samples], dtype=torch.float64)
    features = torch.tensor([[1.0, steps, batch * steps] for batch, steps, _ in samples],
                            dtype=torch.float64) / seconds.unsqueeze(1)
    ones = torch.ones(len(samples), 1, dtype=torch.float64)
    best: tuple[float, list[float]] | None = None
    for size in (3, 2, 1):
        for terms in itertools.combinations(range(3), size):
            solution = torch.linalg.lstsq(features[:, terms], ones).solution.squeeze(1)
            if bool((solution < 0).any()):
                continue
            full = torch.zeros(3, dtype=torch.float64)
            full[list(terms)] = solution
            residual = float(((features @ full) - 1).square().sum())
            if best is None or residual < best[0]:
                best = (residual, full.tolist())
    assert best is not None  # one term alone always fits with a positive constant
    return BucketCosts(*best[1])
