"""Statistics used wherever timings are compared (recommend, crosscheck, analysis).

Bootstrap intervals with a fixed seed, so the same samples always give the same verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

CONFIDENCE = 0.95
N_BOOT = 2000
SEED = 0


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class Comparison:
    """``ratio`` = median(slower) / median(faster), with its bootstrap interval."""

    ratio: Interval
    significant: bool  # the whole interval lies above 1


def _samples(values: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float).ravel()
    array = array[np.isfinite(array)]
    if array.size == 0:
        raise ValueError(f"{name}: no finite samples")
    return array


def _bootstrap_medians(samples: np.ndarray, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    picks = rng.integers(0, samples.size, size=(n_boot, samples.size))
    return np.median(samples[picks], axis=1)


def median_interval(samples: ArrayLike, confidence: float = CONFIDENCE, n_boot: int = N_BOOT,
                    seed: int = SEED) -> Interval:
    values = _samples(samples, "samples")
    boot = _bootstrap_medians(values, np.random.default_rng(seed), n_boot)
    tail = (1 - confidence) / 2
    return Interval(float(np.median(values)), float(np.quantile(boot, tail)),
                    float(np.quantile(boot, 1 - tail)))


def ratio_interval(numerator: ArrayLike, denominator: ArrayLike, confidence: float = CONFIDENCE,
                   n_boot: int = N_BOOT, seed: int = SEED) -> Interval:
    """median(numerator) / median(denominator) with a bootstrap interval."""
    num, den = _samples(numerator, "numerator"), _samples(denominator, "denominator")
    rng = np.random.default_rng(seed)
    ratios = _bootstrap_medians(num, rng, n_boot) / _bootstrap_medians(den, rng, n_boot)
    tail = (1 - confidence) / 2
    return Interval(float(np.median(num) / np.median(den)), float(np.quantile(ratios, tail)),
                    float(np.quantile(ratios, 1 - tail)))


def compare(slower: ArrayLike, faster: ArrayLike, confidence: float = CONFIDENCE) -> Comparison:
    """Is ``faster`` really faster? Significant when the ratio's interval excludes 1."""
    ratio = ratio_interval(slower, faster, confidence)
    return Comparison(ratio=ratio, significant=ratio.low > 1.0)


def permutation_p(a: ArrayLike, b: ArrayLike, permutations: int = 4000, seed: int = SEED) -> float:
    """Two-sided permutation test of equal medians (deterministic: fixed seed)."""
    x, y = _samples(a, "a"), _samples(b, "b")
    observed = abs(np.median(x) - np.median(y))
    pooled = np.concatenate([x, y])
    rng = np.random.default_rng(seed)
    shuffled = rng.permuted(np.tile(pooled, (permutations, 1)), axis=1)
    diff = np.abs(np.median(shuffled[:, :x.size], axis=1) - np.median(shuffled[:, x.size:],
                                                                         axis=1))
    return float((np.sum(diff >= observed - 1e-15) + 1) / (permutations + 1))


def round_medians(samples: ArrayLike, per_round: int, rounds: int = 2) -> np.ndarray:
    """Medians of the samples of each asv round (process), in order.

    asv runs a timing benchmark in ``rounds`` separate processes, each taking ``repeat``
    samples, and appends them in order: with a count that is a multiple of ``per_round`` (the
    suite's ``repeat``), every chunk of ``per_round`` consecutive samples is one process, or an
    aligned part of one (splitting finer only makes ``reproduced_in_every_round`` stricter).
    Otherwise (processes took a variable number of samples, e.g. asv's default ``repeat``) the
    samples are split into ``rounds`` near-equal chunks (default: asv's default two rounds).
    Fewer chunks when a chunk would hold
    fewer than two samples.
    """
    values = _samples(samples, "samples")
    per_round = int(per_round)
    if per_round >= 2 and values.size % per_round == 0 and values.size >= 2 * per_round:
        chunks = values.size // per_round
    else:
        chunks = max(1, min(int(rounds), values.size // 2))
    return np.array([np.median(chunk) for chunk in np.array_split(values, chunks)])


def reproduced_in_every_round(slower: ArrayLike, faster: ArrayLike, per_round: int,
                              rounds: int = 2) -> bool:
    """Every round of ``slower`` is slower than every round of ``faster`` (their per-round
    medians, ``round_medians``, do not overlap).

    Samples within one process are not independent evidence: on a shared machine a whole
    process can land on a slow CPU or a noisy minute (FINDINGS.md quotes the spread measured on
    this project's 2-core box), and a test that pools samples then calls that a difference
    between strategies. A difference must hold in each process. With a single round (too few
    samples to split) this says True and leaves the verdict to the test on the samples.
    """
    slow = round_medians(slower, per_round, rounds)
    fast = round_medians(faster, per_round, rounds)
    if slow.size < 2 or fast.size < 2:
        return True
    return bool(slow.min() > fast.max())
