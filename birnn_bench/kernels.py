"""Which rnn kernels a strategy's call runs, with oneDNN on and off, and what the two CPU paths
cost against each other: the lever behind "the answer depends on the CPU".

The kernel family is read off the ATen ops the dispatcher runs in the strategy's ``run`` step
(``profiles.count_ops``, one inference forward), never assumed: a whole-sequence library call
(``aten::mkldnn_rnn_layer``: oneDNN; ``aten::_cudnn_rnn``, ``aten::miopen_rnn``), ATen's fused
cell kernel per step (``aten::_thnn_fused_lstm_cell`` / ``_gru_cell``), or ATen's cell written
out per step (a matrix product ``aten::addmm`` / ``aten::mm`` and pointwise ops per step and
direction). The counts are exact and repeat from process to process. ``time_paths`` times the
padded plain call (``hn_padded``) against the packed one (``hn_index``) with the paired engine,
under each oneDNN setting."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from birnn_bench import compare
from birnn_bench.bench import BenchCase, compare_strategies
from birnn_bench.measure import pinned
from birnn_bench.profiles import count_ops
from birnn_bench.strategies import BASELINE, STRATEGIES
from birnn_bench.workload import Workload, WorkloadSpec, build

ONEDNN, CUDNN, MIOPEN = "oneDNN", "cuDNN", "MIOpen"
FUSED, PER_STEP = "native fused", "native per-step"
#: Whole-sequence library calls, one op per layer and direction (names as the dispatcher gives
#: them below autograd; checked against this torch's registry by the tests).
LIBRARY_OPS = {ONEDNN: ("aten::mkldnn_rnn_layer",), CUDNN: ("aten::_cudnn_rnn",),
               MIOPEN: ("aten::miopen_rnn",)}
#: ATen's fused cell kernels, one per step, layer and direction (its CUDA path).
FUSED_OPS = ("aten::_thnn_fused_lstm_cell", "aten::_thnn_fused_gru_cell")
#: The matrix products of ATen's cells (input projections, one per step and direction): with
#: no fused cell beside them, the cell's gates are pointwise ops per step (its CPU path).
MATMUL_OPS = ("aten::addmm", "aten::mm")
KERNEL_OPS = (*(op for ops in LIBRARY_OPS.values() for op in ops), *FUSED_OPS, *MATMUL_OPS)
FAMILIES = (*LIBRARY_OPS, FUSED, PER_STEP)
#: The two CPU paths timed against each other: the plain call on the padded batch (its h_n read
#: as is: the kernel's cost, whatever its answer) and the packed call (the baseline).
PADDED, PACKED = "hn_padded", BASELINE


@contextmanager
def onednn(enabled: bool) -> Iterator[None]:
    """``torch.backends.mkldnn.enabled`` set for the block, restored after it. Only that flag:
    ``torch.backends.mkldnn.flags`` also resets oneDNN's TF32 and precision settings."""
    before = bool(torch.backends.mkldnn.enabled)
    torch.backends.mkldnn.enabled = enabled
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = before


def classify(ops: dict[str, int]) -> str:
    """The kernel family (``FAMILIES``) of one rnn run from its ATen op counts; several joined by
    " + " (a run that mixes paths), "none" when no rnn computation is among them."""
    found = [family for family, names in LIBRARY_OPS.items()
             if any(ops.get(n, 0) for n in names)]
    if any(ops.get(n, 0) for n in FUSED_OPS):
        found.append(FUSED)
    elif any(ops.get(n, 0) for n in MATMUL_OPS):
        found.append(PER_STEP)
    return " + ".join(found) or "none"


@dataclass(frozen=True)
class KernelUse:
    """What one strategy's rnn call ran, in one inference forward."""

    strategy: str
    onednn: bool  # torch.backends.mkldnn.enabled during the call
    family: str  # classify() of the run step's ops
    run_ops: int  # ATen ops of the run step (the rnn call(s)), all names
    kernel_ops: dict[str, int]  # the ops of KERNEL_OPS that ran, by name


def kernel_use(spec: WorkloadSpec, strategy: str, enabled: bool,
               workload: Workload | None = None) -> KernelUse:
    """The kernel family and op counts of ``strategy`` (a registry name) on ``spec`` (or
    ``workload``) with oneDNN ``enabled`` or not."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy: expected one of {sorted(STRATEGIES)}, got {strategy!r}")
    with onednn(enabled):
        ran = count_ops(BenchCase(spec, strategy, workload))["run"]
    return KernelUse(strategy=strategy, onednn=enabled, family=classify(ran),
                     run_ops=sum(ran.values()),
                     kernel_ops={n: ran[n] for n in KERNEL_OPS if ran.get(n, 0)})


def kernel_uses(spec: WorkloadSpec, strategies: Sequence[str] | None = None,
                workload: Workload | None = None) -> list[KernelUse]:
    """``kernel_use`` of each strategy (default: the registry's, in its order) with oneDNN on,
    then off, all on one workload (built from ``spec`` unless given)."""
    names = list(strategies) if strategies is not None else list(STRATEGIES)
    workload = workload if workload is not None else build(spec)
    return [kernel_use(spec, name, enabled, workload) for name in names
            for enabled in (True, False)]


@dataclass(frozen=True)
class PathTiming:
    """The padded plain call's time over the packed call's (paired engine), one oneDNN setting."""

    onednn: bool
    ratio: compare.Interval  # PADDED / PACKED, median of per-round ratios, 99% interval
    resolution: compare.Interval  # the packed call against itself in the same rounds (A/A)
    verdict: str  # compare.verdict: faster / slower / tied / unresolved
    padded_s: float  # median seconds per call
    packed_s: float
    rounds: int
    stopped: str


def time_paths(spec: WorkloadSpec, budget_s: float = 5.0, threads: int | None = None,
               workload: Workload | None = None, **engine: object) -> list[PathTiming]:
    """``PADDED`` against ``PACKED`` on ``spec`` (or ``workload``), inference, with oneDNN on and
    then off, each a paired comparison (``bench.compare_strategies``) of ``budget_s``, threads
    pinned (``measure.pinned``). ``engine``: more settings of ``compare.compare``."""
    workload = workload if workload is not None else build(spec)
    timings = []
    with pinned(threads):
        for enabled in (True, False):
            with onednn(enabled):
                found = compare_strategies(spec, [PADDED], baseline=PACKED, workload=workload,
                                           budget_s=budget_s, **engine)
            padded = found.ratios[PADDED]
            timings.append(PathTiming(
                onednn=enabled, ratio=padded.ratio, resolution=found.resolution,
                verdict=found.verdict(PADDED), padded_s=padded.seconds,
                packed_s=padded.baseline_seconds, rounds=padded.rounds, stopped=found.stopped))
    return timings
