"""Profiles: what each strategy launches and where it waits.

Time and memory say how much a strategy costs; a profile says why. For one grid point
(``BenchCase``) and each phase of the strategy (prepare / run / extract) this module counts:

* ``ops``: ATen operators as the dispatcher runs them, from a ``TorchDispatchMode`` (under
  ``no_grad``). A dispatch mode sits BELOW autograd and below every CompositeImplicitAutograd
  decomposition: it sees the operators that have kernels, not the functions Python called. So
  ``nn.LSTM`` is not one op here. On CPU (torch 2.13) an LSTM on a padded batch, or on a
  PackedSequence whose sequences all have the same length, reaches ``aten::mkldnn_rnn_layer``
  once per layer and direction; a PackedSequence of unequal lengths falls back to ATen's
  step-by-step cell, hundreds of ``addmm`` / ``sigmoid_`` / ``mul`` per call, and so does a GRU
  always (oneDNN's rnn is used for LSTM only). On CUDA cuDNN should take every case (one
  ``aten::_cudnn_rnn`` per call; not checked on a GPU yet). ``pad_packed_sequence`` likewise
  shows as the slices and copies it is made of. These counts are exact and repeat from run to
  run and process to process.
* ``calls``: ATen operators as the strategy's Python code called them (the outermost ATen ranges
  of ``torch.profiler`` inside each phase; the profiler records no overload, so ``aten::select``
  where ``ops`` says ``aten::select.int``): here ``aten::lstm`` IS one call, and
  ``aten::_pad_packed_sequence`` one; no-op calls such as ``.to()`` of a tensor already there
  count too. Deterministic as well.
* CUDA only (``None`` on CPU, never 0), from ``torch.profiler`` with ``ProfilerActivity.CUDA``,
  each device activity attributed to the phase whose range holds the runtime call that issued it:
  ``kernels`` (kernels that ran), ``memcpy_count`` / ``memcpy_bytes`` (``gpu_memcpy`` activities,
  host-device and device-device), ``host_syncs`` (CUDA API calls that block the host until the
  device catches up: ``cudaStreamSynchronize``, ``cudaDeviceSynchronize``, ``cudaEventSynchronize``,
  synchronous ``cudaMemcpy``... made inside the phase; a blocking ``.to("cuda")`` of a pageable
  CPU tensor counts, since PyTorch synchronises the stream after such a copy);
  ``sync_warnings`` (what PyTorch itself flags with ``torch.cuda.set_sync_debug_mode("warn")``,
  a cross-check that sees only torch's own synchronising calls); ``transfers`` (cross-device
  copies as the dispatcher sees them: ``h2d`` / ``d2h`` / ``d2d`` counts and bytes).
* ``rnn_time_share``: a TIMING, not a count (it moves from run to run; keep it out of the
  ``track_`` benchmarks): on CPU, the wall time inside the rnn operators (``aten::lstm`` /
  ``aten::gru`` / ``aten::rnn_tanh`` / ``aten::rnn_relu``, their children included, e.g.
  ``mkldnn_rnn_layer``) over the wall time of the three phases (the rest is the strategy's other
  ops and the Python between them); on CUDA, the device time of the work those operators issued
  over the device time of all work the forward issued.

``write_chrome_trace`` exports one forward call as a Chrome trace (chrome://tracing, Perfetto)
with a range per phase. ``rows`` flattens profiles into tidy rows for the report.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile, record_function
from torch.utils._python_dispatch import TorchDispatchMode

from birnn_bench import grid
from birnn_bench.bench import BenchCase, NotApplicable
from birnn_bench.strategies import STRATEGIES, Strategy

Tensor = torch.Tensor

PHASES = ("prepare", "run", "extract")
#: Profiler range names (visible in the Chrome trace).
RANGE_PREFIX = "birnn::"
FORWARD_RANGE = RANGE_PREFIX + "forward"
PHASE_RANGES = {phase: RANGE_PREFIX + phase for phase in PHASES}
#: The operators that are "the rnn" for rnn_time_share (profiler names, no overload).
RNN_OPS = frozenset({"aten::lstm", "aten::gru", "aten::rnn_tanh", "aten::rnn_relu"})
#: CUDA runtime / driver calls that block the host until the device has caught up.
SYNC_CALLS = frozenset({
    "cudaDeviceSynchronize", "cudaStreamSynchronize", "cudaEventSynchronize", "cudaMemcpy",
    "cudaMemcpy2D", "cudaMemcpyFromSymbol", "cudaMemcpyToSymbol",
    "cuCtxSynchronize", "cuStreamSynchronize", "cuEventSynchronize", "cuMemcpyDtoH",
    "cuMemcpyDtoH_v2", "cuMemcpyHtoD", "cuMemcpyHtoD_v2", "cuMemcpy", "cuMemcpy2D_v2",
})
#: Kineto activity kinds of host-side CUDA API calls and of device work.
RUNTIME_KINDS = frozenset({"cuda_runtime", "cuda_driver"})
DEVICE_WORK_KINDS = frozenset({"kernel", "gpu_memcpy", "gpu_memset"})
HOST_KINDS = frozenset({"cpu_op", "user_annotation", "python_function"})
#: The message of torch.cuda.set_sync_debug_mode("warn").
SYNC_WARNING = "called a synchronizing CUDA operation"
#: Deterministic per-phase counts: what the track_ benchmarks and the exact-repeat test use.
COUNT_METRICS = ("ops", "calls", "kernels", "host_syncs", "memcpy_count", "memcpy_bytes",
                 "sync_warnings")
TRANSFER_KEYS = ("h2d", "h2d_bytes", "d2h", "d2h_bytes", "d2d", "d2d_bytes")
#: The grid point's parameters as rows carry them (grid.BENCH_PARAM_NAMES minus strategy).
CONFIG_NAMES = tuple(name for name in grid.BENCH_PARAM_NAMES if name != "strategy")

PhaseCounts = dict[str, int]


# ---------------------------------------------------------------------------------------------
# dispatch level: ATen ops and cross-device copies


def transfer_of(name: str, args: tuple, kwargs: dict, out: Any) -> tuple[str, int] | None:
    """``(direction, bytes)`` when the op ``name`` copies across devices, else None.

    ``direction`` is ``h2d`` (from the CPU), ``d2h`` (to the CPU) or ``d2d`` (between two
    non-CPU devices). Reading a scalar off the device (``.item()``) is a ``d2h`` of one element.
    """
    if name == "aten::_local_scalar_dense":
        src = args[0]
        if isinstance(src, Tensor) and src.device.type != "cpu":
            return "d2h", src.element_size()
        return None
    if name == "aten::_to_copy":
        src, dst = args[0], out
    elif name.startswith("aten::copy_"):
        src, dst = args[1] if len(args) > 1 else kwargs.get("src"), args[0]
    else:
        return None
    if not (isinstance(src, Tensor) and isinstance(dst, Tensor)) or src.device == dst.device:
        return None
    if src.device.type == "cpu":
        direction = "h2d"
    elif dst.device.type == "cpu":
        direction = "d2h"
    else:
        direction = "d2d"
    return direction, src.numel() * src.element_size()


class OpCounter(TorchDispatchMode):
    """Counts every ATen op (``func.name()``, e.g. ``aten::select.int``) dispatched inside it,
    and the cross-device copies among them (``transfers``: h2d / d2h / d2d counts and bytes)."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: Counter[str] = Counter()
        self.transfers: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = func.name()
        self.ops[name] += 1
        moved = transfer_of(name, args, kwargs, out)
        if moved is not None:
            direction, nbytes = moved
            self.transfers[direction] += 1
            self.transfers[direction + "_bytes"] += nbytes
        return out


@contextlib.contextmanager
def count_sync_warnings() -> Iterator[list[int]]:
    """Yields a one-element list that holds, on exit, how many synchronising CUDA operations
    PyTorch flagged inside (``torch.cuda.set_sync_debug_mode("warn")``)."""
    found = [0]
    previous = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield found
    finally:
        torch.cuda.set_sync_debug_mode(previous)
    found[0] = sum(SYNC_WARNING in str(w.message) for w in caught)


def _resolve(target: BenchCase | Strategy | str, rnn: Any, x: Any, lengths: Any
             ) -> tuple[Strategy, Any, Tensor, Tensor]:
    if isinstance(target, BenchCase):
        return target.strategy, target.rnn, target.x, target.lengths
    strategy = STRATEGIES[target] if isinstance(target, str) else target
    if rnn is None or x is None or lengths is None:
        raise ValueError("count_ops: pass a BenchCase, or a strategy with rnn, x and lengths")
    return strategy, rnn, x, lengths


def _phase_steps(strategy: Strategy, rnn: Any, x: Tensor, lengths: Tensor
                 ) -> list[tuple[str, Callable[[Any], Any]]]:
    return [
        ("prepare", lambda _: strategy.prepare(rnn, x, lengths)),
        ("run", lambda prepared: strategy.run(rnn, prepared)),
        ("extract", lambda ran: strategy.extract(rnn, ran, lengths)),
    ]


@dataclass
class _DispatchPass:
    ops: dict[str, Counter[str]]
    transfers: dict[str, Counter[str]]
    sync_warnings: dict[str, int] | None


def _dispatch_pass(strategy: Strategy, rnn: Any, x: Tensor, lengths: Tensor) -> _DispatchPass:
    cuda = x.device.type == "cuda"
    ops: dict[str, Counter[str]] = {}
    transfers: dict[str, Counter[str]] = {}
    syncs: dict[str, int] = {}
    value: Any = None
    with torch.no_grad():
        for phase, step in _phase_steps(strategy, rnn, x, lengths):
            with contextlib.ExitStack() as stack:
                found = stack.enter_context(count_sync_warnings()) if cuda else None
                counter = stack.enter_context(OpCounter())
                value = step(value)
            ops[phase], transfers[phase] = counter.ops, counter.transfers
            if found is not None:
                syncs[phase] = found[0]
    if cuda:
        torch.cuda.synchronize(x.device)
    return _DispatchPass(ops, transfers, syncs if cuda else None)


def count_ops(target: BenchCase | Strategy | str, rnn: Any = None, x: Tensor | None = None,
              lengths: Tensor | None = None) -> dict[str, Counter[str]]:
    """ATen ops the dispatcher runs in one inference forward, per phase:
    ``{"prepare": Counter({"aten::sort": 1, ...}), "run": ..., "extract": ...}``.

    ``target`` is a BenchCase (its rnn, x and lengths), or a Strategy / strategy name with
    ``rnn, x, lengths``. Counted below autograd and below composite decompositions (see the module
    docstring): ``nn.LSTM`` shows as the kernels it reaches, not as ``aten::lstm``.
    """
    return _dispatch_pass(*_resolve(target, rnn, x, lengths)).ops


# ---------------------------------------------------------------------------------------------
# profiler level: calls, CUDA activities, time shares


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
    nbytes: int | None = None  # gpu_memcpy only


_BYTES = re.compile(r'"bytes"\s*:\s*(\d+)')


def memcpy_bytes_of(metadata_json: str) -> int | None:
    """The ``"bytes": N`` kineto writes into a gpu_memcpy activity's metadata, if there."""
    found = _BYTES.search(metadata_json or "")
    return int(found.group(1)) if found else None


def trace_events(prof: profile) -> list[TraceEvent]:
    """The kineto activities of a finished ``torch.profiler.profile``."""
    events = []
    for e in prof.profiler.kineto_results.events():  # type: ignore[union-attr]
        kind = e.activity_type()
        nbytes = memcpy_bytes_of(e.metadata_json()) if kind == "gpu_memcpy" else None
        events.append(TraceEvent(e.name(), kind, e.start_ns(), e.end_ns(), e.correlation_id(),
                                 e.linked_correlation_id(), nbytes))
    return events


def _outermost(events: Iterable[TraceEvent]) -> list[TraceEvent]:
    """Events not nested inside another of the given events (by time range)."""
    kept: list[TraceEvent] = []
    end = -1
    for e in sorted(events, key=lambda e: (e.start_ns, -e.end_ns)):
        # After the current root ends, or overlapping it only partly (another thread's op).
        if e.start_ns >= end or e.end_ns > end:
            kept.append(e)
            end = e.end_ns
    return kept


def phase_windows(events: Iterable[TraceEvent]) -> dict[str, tuple[int, int]]:
    """``phase -> (start_ns, end_ns)`` of the phase ranges (host side)."""
    names = {name: phase for phase, name in PHASE_RANGES.items()}
    return {names[e.name]: (e.start_ns, e.end_ns) for e in events
            if e.name in names and e.kind in HOST_KINDS}


def _phase_at(time_ns: int, windows: dict[str, tuple[int, int]]) -> str | None:
    for phase, (start, end) in windows.items():
        if start <= time_ns < end:
            return phase
    return None


def calls_per_phase(events: list[TraceEvent]) -> dict[str, Counter[str]]:
    """The outermost ATen ops inside each phase range: what the strategy's code called."""
    windows = phase_windows(events)
    calls: dict[str, Counter[str]] = {phase: Counter() for phase in PHASES}
    for e in _outermost(e for e in events if e.kind == "cpu_op"):
        phase = _phase_at(e.start_ns, windows)
        if phase is not None:
            calls[phase][e.name] += 1
    return calls


def _rnn_intervals(events: list[TraceEvent]) -> list[tuple[int, int]]:
    rnn = [e for e in events if e.kind == "cpu_op" and e.name.split(".", 1)[0] in RNN_OPS]
    return [(e.start_ns, e.end_ns) for e in _outermost(rnn)]


def cpu_rnn_time_share(events: list[TraceEvent]) -> float | None:
    """Wall time inside the outermost rnn ops over the wall time of the three phases."""
    windows = phase_windows(events)
    total = sum(end - start for start, end in windows.values())
    if total <= 0:
        return None
    inside = sum(end - start for start, end in _rnn_intervals(events)
                 if _phase_at(start, windows) is not None)
    return inside / total


@dataclass
class CudaCounts:
    """Per-phase CUDA counts from the profiler (see the module docstring)."""

    kernels: PhaseCounts = field(default_factory=lambda: dict.fromkeys(PHASES, 0))
    host_syncs: PhaseCounts = field(default_factory=lambda: dict.fromkeys(PHASES, 0))
    memcpy_count: PhaseCounts = field(default_factory=lambda: dict.fromkeys(PHASES, 0))
    memcpy_bytes: PhaseCounts = field(default_factory=lambda: dict.fromkeys(PHASES, 0))
    rnn_time_share: float | None = None


def _issuer(work: TraceEvent, runtime: dict[int, TraceEvent], ops: dict[int, TraceEvent]
            ) -> TraceEvent | None:
    """The host event that issued device ``work``: the runtime call with its CUPTI correlation
    id, else the torch op it is linked to (torch and CUPTI ids are separate counters, so the
    runtime match is tried first)."""
    if work.correlation in runtime:
        return runtime[work.correlation]
    return ops.get(work.linked) if work.linked else None


def cuda_counts(events: list[TraceEvent]) -> CudaCounts:
    """Kernels, memcpys (count, bytes) and host-blocking calls per phase; device time share of
    the work issued from inside the rnn ops. Device work counts in the phase whose range holds
    the host call that issued it (it runs later, on the device's own clock)."""
    windows = phase_windows(events)
    counts = CudaCounts()
    runtime = {e.correlation: e for e in events if e.kind in RUNTIME_KINDS}
    ops = {e.correlation: e for e in events if e.kind == "cpu_op"}
    for e in runtime.values():
        phase = _phase_at(e.start_ns, windows)
        if phase is not None and e.name in SYNC_CALLS:
            counts.host_syncs[phase] += 1
    rnn = _rnn_intervals(events)
    busy = busy_rnn = 0
    for e in events:
        issuer = _issuer(e, runtime, ops) if e.kind in DEVICE_WORK_KINDS else None
        phase = None if issuer is None else _phase_at(issuer.start_ns, windows)
        if phase is None:
            continue
        if e.kind == "kernel":
            counts.kernels[phase] += 1
        elif e.kind == "gpu_memcpy":
            counts.memcpy_count[phase] += 1
            counts.memcpy_bytes[phase] += e.nbytes or 0
        busy += e.end_ns - e.start_ns
        if any(start <= issuer.start_ns < end for start, end in rnn):
            busy_rnn += e.end_ns - e.start_ns
    counts.rnn_time_share = busy_rnn / busy if busy > 0 else None
    return counts


def _profiled_forward(case: BenchCase, *, record_shapes: bool = False) -> profile:
    """One inference forward under torch.profiler, a range per phase inside a forward range."""
    cuda = torch.device(case.device).type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    steps = _phase_steps(case.strategy, case.rnn, case.x, case.lengths)
    with torch.no_grad(), profile(activities=activities, record_shapes=record_shapes) as prof:
        with record_function(f"{FORWARD_RANGE}[{case.strategy.name}]"):
            value: Any = None
            for phase, step in steps:
                with record_function(PHASE_RANGES[phase]):
                    value = step(value)
        if cuda:  # outside the ranges: the device work lands in the trace, the wait counts nowhere
            torch.cuda.synchronize(case.device)
    return prof


# ---------------------------------------------------------------------------------------------
# the profile of one grid point


def config_of(case: BenchCase) -> dict[str, Any]:
    """The grid point's parameters (``CONFIG_NAMES``), from its workload spec."""
    spec = case.spec
    return {"device": spec.device, "cell": spec.cell, "batch": spec.batch,
            "max_len": spec.max_len, "lengths": spec.lengths, "hidden": spec.hidden_size,
            "layers": spec.num_layers, "dtype": spec.dtype}


@dataclass(frozen=True)
class Profile:
    """Everything ``profile_case`` finds for one grid point. Per-phase dicts map each of
    ``PHASES`` to a count; CUDA-only metrics are None on CPU (not 0)."""

    strategy: str
    config: dict[str, Any]
    ops: dict[str, Counter[str]]
    calls: dict[str, Counter[str]]
    kernels: PhaseCounts | None
    host_syncs: PhaseCounts | None
    memcpy_count: PhaseCounts | None
    memcpy_bytes: PhaseCounts | None
    sync_warnings: PhaseCounts | None
    transfers: dict[str, PhaseCounts] | None  # TRANSFER_KEYS -> per phase
    rnn_time_share: float | None  # a timing: NOT deterministic

    def per_phase(self, metric: str) -> PhaseCounts | None:
        """``phase -> count`` for a ``COUNT_METRICS`` name (ops / calls summed over op names)."""
        value = getattr(self, metric)
        if value is None:
            return None
        if metric in ("ops", "calls"):
            return {phase: sum(value[phase].values()) for phase in PHASES}
        return dict(value)

    def total(self, metric: str) -> int | None:
        """The count over the whole forward (all phases); None where the metric is n/a."""
        phases = self.per_phase(metric)
        return None if phases is None else sum(phases.values())

    def top_ops(self, phase: str | None = None, n: int = 5) -> list[tuple[str, int]]:
        """The ``n`` most dispatched ops of a phase (or of the whole forward), most first, ties
        by name."""
        counts = self.ops[phase] if phase else sum(self.ops.values(), Counter())
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]

    def counts(self) -> dict[str, Any]:
        """The deterministic part, JSON-ready: equal across runs and processes."""
        out: dict[str, Any] = {"ops": {p: dict(sorted(self.ops[p].items())) for p in PHASES},
                               "calls": {p: dict(sorted(self.calls[p].items())) for p in PHASES}}
        for metric in COUNT_METRICS[2:]:
            out[metric] = getattr(self, metric)
        out["transfers"] = self.transfers
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "config": dict(self.config), **self.counts(),
                "rnn_time_share": self.rnn_time_share}


def profile_case(case: BenchCase) -> Profile:
    """Counts (dispatch pass, then one profiled forward) and the rnn time share of one point."""
    dispatched = _dispatch_pass(case.strategy, case.rnn, case.x, case.lengths)
    events = trace_events(_profiled_forward(case))
    cuda = torch.device(case.device).type == "cuda"
    device = cuda_counts(events) if cuda else None
    transfers = None
    if cuda:
        transfers = {key: {phase: dispatched.transfers[phase][key] for phase in PHASES}
                     for key in TRANSFER_KEYS}
    return Profile(
        strategy=case.strategy.name,
        config=config_of(case),
        ops=dispatched.ops,
        calls=calls_per_phase(events),
        kernels=device.kernels if device else None,
        host_syncs=device.host_syncs if device else None,
        memcpy_count=device.memcpy_count if device else None,
        memcpy_bytes=device.memcpy_bytes if device else None,
        sync_warnings=dispatched.sync_warnings,
        transfers=transfers,
        rnn_time_share=device.rnn_time_share if device else cpu_rnn_time_share(events),
    )


def profile_grid(name: str = "quick", device: str | None = "cpu",
                 strategies: Iterable[str] | None = None) -> list[Profile]:
    """Profiles of every point of a grid (``grid.GRIDS`` name), optionally one device's; points
    that are n/a here (no GPU, CUDA-only dtypes on CPU) are left out."""
    values = grid.bench_grid(name)
    if strategies is not None:
        values["strategy"] = tuple(strategies)
    if device is not None:
        values["device"] = (device,)
    found = []
    for combo in itertools.product(*values.values()):
        try:
            case = BenchCase.from_params(*combo)
        except NotApplicable:
            continue
        found.append(profile_case(case))
    return found


# ---------------------------------------------------------------------------------------------
# outputs: a Chrome trace, tidy rows


def trace_name(case: BenchCase) -> str:
    """A file name for the point's trace: ``<strategy>-<device>-<cell>-b<batch>-...json``."""
    c = config_of(case)
    return (f"{case.strategy.name}-{c['device']}-{c['cell']}-b{c['batch']}-t{c['max_len']}-"
            f"{c['lengths']}-h{c['hidden']}-l{c['layers']}-{c['dtype']}.json")


def write_chrome_trace(case: BenchCase, path: str | Path) -> Path:
    """Exports one inference forward of ``case`` as a Chrome trace (chrome://tracing or
    ui.perfetto.dev), ranges ``birnn::forward[<strategy>]`` > ``birnn::prepare`` /
    ``birnn::run`` / ``birnn::extract``. A directory ``path`` gets ``trace_name(case)`` in it."""
    path = Path(path)
    if path.is_dir():
        path = path / trace_name(case)
    path.parent.mkdir(parents=True, exist_ok=True)
    _profiled_forward(case, record_shapes=True).export_chrome_trace(str(path))
    return path


ROW_COLUMNS = ("strategy", *CONFIG_NAMES, "phase", "metric", "value")


def rows(profiles: Iterable[Profile], op_detail: bool = False) -> list[dict[str, Any]]:
    """Tidy rows ``ROW_COLUMNS``: per phase (``prepare`` / ``run`` / ``extract``) and ``total``,
    every ``COUNT_METRICS`` (value None where n/a on the device) and, on CUDA, every transfer
    key; ``rnn_time_share`` on ``total`` only. ``op_detail`` adds one row per dispatched op name
    (metric ``op:<name>``)."""
    out = []
    for prof in profiles:
        base = {"strategy": prof.strategy, **{k: prof.config[k] for k in CONFIG_NAMES}}

        def add(phase: str, metric: str, value: Any, base: dict = base) -> None:
            out.append({**base, "phase": phase, "metric": metric, "value": value})

        metrics: list[tuple[str, PhaseCounts | None]] = [
            (m, prof.per_phase(m)) for m in COUNT_METRICS]
        metrics += [(key, prof.transfers[key] if prof.transfers else None)
                    for key in TRANSFER_KEYS]
        for metric, phases in metrics:
            for phase in PHASES:
                add(phase, metric, None if phases is None else phases[phase])
            add("total", metric, None if phases is None else sum(phases.values()))
        add("total", "rnn_time_share", prof.rnn_time_share)
        if op_detail:
            for phase in PHASES:
                for op, n in sorted(prof.ops[phase].items()):
                    add(phase, f"op:{op}", n)
    return out


def write_rows(profiles: Iterable[Profile], path: str | Path, op_detail: bool = False) -> Path:
    """``rows`` as CSV (``.csv``, empty cell for None) or JSON (anything else)."""
    path = Path(path)
    table = rows(profiles, op_detail)
    if path.suffix == ".csv":
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=ROW_COLUMNS)
            writer.writeheader()
            writer.writerows(table)
    else:
        path.write_text(json.dumps(table, indent=1))
    return path
