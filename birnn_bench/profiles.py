"""Profiles: what each strategy launches and where it waits, per phase (prepare / run / extract).
``ops``: ATen operators counted by a ``TorchDispatchMode`` below autograd and composite ops (it
sees operators with kernels, not Python calls), exact and the same in every process. CUDA only
(None on CPU, never 0), from ``torch.profiler``: ``kernels`` that ran and ``host_syncs`` (calls
that block the host), each in the phase of the host call that issued it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch.profiler import ProfilerActivity, profile, record_function
from torch.utils._python_dispatch import TorchDispatchMode

from birnn_bench._rnn import extract_dims
from birnn_bench.bench import BenchCase
from birnn_bench.measure import synchronize

PHASES = ("prepare", "run", "extract")
#: Profiler range names of the phases (visible in the Chrome trace, inside ``birnn::forward``).
PHASE_RANGES = {phase: f"birnn::{phase}" for phase in PHASES}
#: CUDA runtime / driver calls that block the host until the device has caught up.
SYNC_CALLS = frozenset({
    "cudaDeviceSynchronize", "cudaStreamSynchronize", "cudaEventSynchronize", "cudaMemcpy",
    "cudaMemcpy2D", "cudaMemcpyFromSymbol", "cudaMemcpyToSymbol", "cuCtxSynchronize",
    "cuStreamSynchronize", "cuEventSynchronize", "cuMemcpyDtoH", "cuMemcpyDtoH_v2",
    "cuMemcpyHtoD", "cuMemcpyHtoD_v2", "cuMemcpy", "cuMemcpy2D_v2"})
#: Kineto activity kinds of host-side CUDA API calls and of host ranges.
RUNTIME_KINDS = frozenset({"cuda_runtime", "cuda_driver"})
HOST_KINDS = frozenset({"cpu_op", "user_annotation", "python_function"})

PhaseCounts = dict[str, int]


class OpCounter(TorchDispatchMode):
    """Counts every ATen op (``func.name()``, e.g. ``aten::select.int``) dispatched inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.ops[func.name()] += 1
        return out


def _forward_by_phase(case: BenchCase, around: Callable[[str], AbstractContextManager]) -> None:
    """One inference forward of ``case``, each phase inside ``around(phase)``."""
    strategy, rnn, lengths = case.strategy, case.rnn, case.lengths
    with torch.no_grad():
        with around("prepare"):
            prepared = strategy.prepare(case.x, lengths, rnn.batch_first)
        with around("run"):
            ran = strategy.run(rnn, prepared)
        with around("extract"):
            strategy.extract(ran, lengths, *extract_dims(rnn))


def count_ops(case: BenchCase) -> dict[str, Counter[str]]:
    """ATen ops the dispatcher runs in one inference forward of ``case``, per phase:
    ``{"prepare": Counter({"aten::sort": 1, ...}), "run": ..., "extract": ...}``."""
    counters = {phase: OpCounter() for phase in PHASES}
    _forward_by_phase(case, counters.__getitem__)
    synchronize(case.x.device)
    return {phase: counter.ops for phase, counter in counters.items()}


@dataclass(frozen=True)
class TraceEvent:
    """One profiler activity, reduced to what the counts need (stand-ins are easy to build)."""

    name: str
    kind: str  # kineto activity type: cpu_op, user_annotation, cuda_runtime, kernel, gpu_memcpy...
    start_ns: int
    end_ns: int
    # Kineto's ids: a torch op's own id; for a CUDA runtime call and the device work it issued,
    # the CUPTI correlation id they share; ``linked`` is the id of the torch op around them.
    correlation: int = 0
    linked: int = 0


def trace_events(prof: profile) -> list[TraceEvent]:
    """The kineto activities of a finished ``torch.profiler.profile``."""
    return [TraceEvent(e.name(), e.activity_type(), e.start_ns(), e.end_ns(), e.correlation_id(),
                       e.linked_correlation_id())
            for e in prof.profiler.kineto_results.events()]  # type: ignore[union-attr]


def _phase_at(time_ns: int, windows: dict[str, tuple[int, int]]) -> str | None:
    for phase, (start, end) in windows.items():
        if start <= time_ns < end:
            return phase
    return None


class CudaCounts(NamedTuple):
    kernels: PhaseCounts
    host_syncs: PhaseCounts


def cuda_counts(events: list[TraceEvent]) -> CudaCounts:
    """Kernels and host-blocking calls per phase. A kernel counts in the phase whose range holds
    the host call that issued it (it runs later, on the device's own clock)."""
    names = {name: phase for phase, name in PHASE_RANGES.items()}
    windows = {names[e.name]: (e.start_ns, e.end_ns) for e in events
               if e.name in names and e.kind in HOST_KINDS}
    counts = CudaCounts(dict.fromkeys(PHASES, 0), dict.fromkeys(PHASES, 0))
    runtime = {e.correlation: e for e in events if e.kind in RUNTIME_KINDS}
    ops = {e.correlation: e for e in events if e.kind == "cpu_op"}
    for e in runtime.values():
        phase = _phase_at(e.start_ns, windows)
        if phase is not None and e.name in SYNC_CALLS:
            counts.host_syncs[phase] += 1
    for e in events:
        if e.kind != "kernel":
            continue
        # The issuer: the runtime call with the kernel's CUPTI correlation id, else the torch op
        # it is linked to (torch and CUPTI ids are separate counters: the runtime match first).
        issuer = runtime.get(e.correlation) or (ops.get(e.linked) if e.linked else None)
        phase = None if issuer is None else _phase_at(issuer.start_ns, windows)
        if phase is not None:
            counts.kernels[phase] += 1
    return counts


def _profiled_forward(case: BenchCase, *, record_shapes: bool = False) -> profile:
    """One inference forward under torch.profiler, a range per phase inside a forward range."""
    cuda = torch.device(case.device).type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities, record_shapes=record_shapes) as prof:
        with record_function(f"birnn::forward[{case.strategy.name}]"):
            _forward_by_phase(case, lambda phase: record_function(PHASE_RANGES[phase]))
        if cuda:  # outside the ranges: the device work lands in the trace, the wait counts nowhere
            torch.cuda.synchronize(case.device)
    return prof


def config_of(case: BenchCase) -> dict[str, Any]:
    """The workload's regime fields (the suite's names), from its spec."""
    spec = case.spec
    return {"device": spec.device, "cell": spec.cell, "batch": spec.batch,
            "max_len": spec.max_len, "lengths": spec.lengths, "hidden": spec.hidden_size,
            "layers": spec.num_layers, "dtype": spec.dtype}


@dataclass(frozen=True)
class Profile:
    """Everything ``profile_case`` finds for one grid point; CUDA-only metrics None on CPU."""

    strategy: str
    config: dict[str, Any]
    ops: dict[str, Counter[str]]
    kernels: PhaseCounts | None
    host_syncs: PhaseCounts | None

    def per_phase(self, metric: str) -> PhaseCounts | None:
        """``phase -> count`` for ``ops`` (summed over op names), ``kernels`` or ``host_syncs``."""
        value = getattr(self, metric)
        if value is None:
            return None
        if metric == "ops":
            return {phase: sum(value[phase].values()) for phase in PHASES}
        return dict(value)

    def total(self, metric: str) -> int | None:
        """The count over the whole forward (all phases); None where the metric is n/a."""
        phases = self.per_phase(metric)
        return None if phases is None else sum(phases.values())


def profile_case(case: BenchCase) -> Profile:
    """The op counts of one point and, on CUDA, its kernels and host syncs."""
    ops = count_ops(case)
    kernels = host_syncs = None
    if torch.device(case.device).type == "cuda":
        kernels, host_syncs = cuda_counts(trace_events(_profiled_forward(case)))
    return Profile(case.strategy.name, config_of(case), ops, kernels, host_syncs)


def trace_name(case: BenchCase) -> str:
    """A file name for the point's trace: ``<strategy>-<device>-<cell>-b<batch>-...json``."""
    c = config_of(case)
    return (f"{case.strategy.name}-{c['device']}-{c['cell']}-b{c['batch']}-t{c['max_len']}-"
            f"{c['lengths']}-h{c['hidden']}-l{c['layers']}-{c['dtype']}.json")


def write_chrome_trace(case: BenchCase, path: str | Path) -> Path:
    """Exports one inference forward of ``case`` as a Chrome trace (chrome://tracing, Perfetto),
    ranges ``birnn::forward[<strategy>]`` > ``birnn::prepare`` / ``run`` / ``extract``. A
    directory ``path`` gets ``trace_name(case)`` in it."""
    path = Path(path)
    if path.is_dir():
        path = path / trace_name(case)
    path.parent.mkdir(parents=True, exist_ok=True)
    _profiled_forward(case, record_shapes=True).export_chrome_trace(str(path))
    return path
