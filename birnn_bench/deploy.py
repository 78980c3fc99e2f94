"""Deployability: does each strategy survive TorchScript, torch.compile, torch.export and ONNX?

Every check wraps the rnn and one registry strategy in ``StrategyModule`` (``forward(x, lengths)
-> (fwd, bwd)``), deploys it with one technology, and compares the deployed output with the EAGER
output of the same strategy (float32, max abs error <= ``TOLERANCE``) on ``probe_specs``: the
traced input, the same shape with other lengths, and two shapes the deployment never saw (another
batch and T, and a batch of one). A cell is

* ``works``: deployed, and every probe ran and matched eager;
* ``fails``: deploying raised, or a probe raised (``detail``: the stage and the first error line);
* ``wrong``: every probe ran but one differs from eager (``detail``: the max abs error);
* ``unavailable``: an optional dependency (onnx, onnxscript, onnxruntime) is not installed.

Technologies (``TECHNOLOGIES``, torch's defaults, what a team gets out of the box):

* ``script``: ``torch.jit.script``. The registry's step functions take the rnn as an argument,
  which TorchScript cannot type, so they never script as written; where the strategy's steps are
  a few lines of index/gather/pack code, ``ScriptPort`` transcribes them into a ``forward``
  (``SCRIPT_PORTS``) and that is what is scripted, checked against the registry's eager output.
* ``compile_fullgraph``: ``torch.compile(fullgraph=True)``.
* ``compile``: plain ``torch.compile``; ``graph_breaks`` counts dynamo's graph breaks on the
  first call (``torch._dynamo.utils.counters``: ``torch._dynamo.explain`` reports -1 or 0 breaks
  here, because dynamo skips the frames that touch an nn.LSTM/GRU instead of breaking inside
  them).
* ``export``: ``torch.export.export`` with a dynamic batch and T (``Dim(min=1)`` each).
* ``onnx``: ``torch.onnx.export`` with torch's default exporter (``dynamo=True`` in torch 2.13)
  and the same dynamic shapes, run with onnxruntime (CPU execution provider).

Opt-in variants (``OPT_IN_TECHNOLOGIES``): the switch that torch's own messages point to.

* ``compile_fullgraph_allow_rnn``: fullgraph with ``torch._dynamo.config.allow_rnn=True`` (the
  hint in dynamo's "Attempted to wrap RNN, GRU, or LSTM" error).
* ``export_while_loop``: ``torch.export.export`` inside
  ``torch.export._patches.register_{lstm,gru}_while_loop_decomposition()`` (what ``torch.onnx``
  uses for dynamic shapes; without it the CPU rnn kernel fixes T at the traced length).

Module-level imports are limited to torch and package modules that exist in every commit, so that
``benchmarks/deploy.py`` can load this file from the working tree for old commits too.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import itertools
import json
import logging
import math
import re
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from birnn_bench._io import dataclass_csv
from birnn_bench._rnn import batch_dim, out_size, time_dim
from birnn_bench.strategies import STRATEGIES
from birnn_bench.workload import WorkloadSpec, build

Tensor = torch.Tensor

TECHNOLOGIES = ("script", "compile_fullgraph", "compile", "export", "onnx")
OPT_IN_TECHNOLOGIES = ("compile_fullgraph_allow_rnn", "export_while_loop")
ALL_TECHNOLOGIES = TECHNOLOGIES + OPT_IN_TECHNOLOGIES
STATUSES = ("works", "fails", "wrong", "unavailable")
#: Max abs difference from the eager output of the same strategy (float32).
TOLERANCE = 1e-5
#: The pip names of the optional ONNX extras.
ONNX_PACKAGES = ("onnx", "onnxscript", "onnxruntime")
#: Small shapes: compiles and exports stay fast.
DEPLOY_SHAPE = {"input_size": 5, "hidden_size": 8, "batch": 4, "max_len": 6}


# ---------------------------------------------------------------------------------------------
# the deployed modules


class StrategyModule(nn.Module):
    """The rnn and one registry strategy as a module: ``forward(x, lengths) -> (fwd, bwd)``.

    ``forward`` runs the strategy's own ``prepare``, ``run`` and ``extract`` (what
    ``Strategy.__call__`` does), kept as function attributes so that ``torch.jit.script`` tries to
    compile the registry's code itself.
    """

    def __init__(self, rnn: nn.RNNBase, strategy_name: str) -> None:
        super().__init__()
        if strategy_name not in STRATEGIES:
            raise ValueError(f"strategy: expected one of {sorted(STRATEGIES)}, "
                             f"got {strategy_name!r}")
        strategy = STRATEGIES[strategy_name]
        self.rnn = rnn
        self.strategy_name = strategy_name
        self.prepare = strategy.prepare
        self.run_rnn = strategy.run
        self.extract = strategy.extract
        self.train(rnn.training)

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        return self.extract(self.rnn, self.run_rnn(self.rnn, self.prepare(self.rnn, x, lengths)),
                            lengths)


def _h_n(hidden: Tensor | tuple[Tensor, Tensor]) -> Tensor:
    if isinstance(hidden, Tensor):
        return hidden
    return hidden[0]


def _gather_last(seq: Tensor, lengths: Tensor, batch_first: bool) -> Tensor:
    # strategies.gather_at_last_step, with the layout as a flag.
    tdim = 1 if batch_first else 0
    index = (lengths - 1).to(seq.device)
    index = index.view(-1, 1, 1) if batch_first else index.view(1, -1, 1)
    return seq.gather(tdim, index.expand(index.shape[0], index.shape[1],
                                         seq.shape[-1])).squeeze(tdim)


#: Strategies whose steps ``ScriptPort`` transcribes (manual_two_rnn stacks layers by hand with
#: the functional kernels: not a trivial transcription, so it is scripted as written).
SCRIPT_PORTS = ("hn_index", "hn_first_layer", "last_step_naive", "chunk_view", "packed_unpack",
                "padded_gather", "hn_padded")
_PACKING_PORTS = ("hn_index", "hn_first_layer", "chunk_view", "packed_unpack")


class ScriptPort(nn.Module):
    """The registry steps of one strategy in ``SCRIPT_PORTS`` written into a scriptable forward.

    Same operations, same order; ``check_deploy`` compares it with the registry's eager output,
    so a transcription that drifted would show as ``wrong``.
    """

    def __init__(self, rnn: nn.RNNBase, strategy_name: str) -> None:
        super().__init__()
        if strategy_name not in SCRIPT_PORTS:
            raise ValueError(f"strategy: no TorchScript transcription of {strategy_name!r}; "
                             f"expected one of {SCRIPT_PORTS}")
        self.rnn = rnn
        self.strategy_name = strategy_name
        self.packs = strategy_name in _PACKING_PORTS
        self.batch_first = bool(rnn.batch_first)
        self.num_layers = int(rnn.num_layers)
        self.hidden = out_size(rnn)
        self.train(rnn.training)

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        name = self.strategy_name
        tdim = 1 if self.batch_first else 0
        hidden_out = self.hidden
        if self.packs:
            packed = pack_padded_sequence(x, lengths, batch_first=self.batch_first,
                                          enforce_sorted=False)
            packed_output, hidden = self.rnn(packed)
            h_n = _h_n(hidden)
            if name == "hn_index":
                last = h_n.view(self.num_layers, 2, h_n.shape[1], h_n.shape[2])[-1]
                return last[0], last[1]
            if name == "hn_first_layer":
                return h_n[0], h_n[1]
            output, _ = pad_packed_sequence(packed_output, batch_first=self.batch_first)
            if name == "chunk_view":
                halves = torch.chunk(output, 2, dim=2)
                fwd = _gather_last(halves[0], lengths, self.batch_first)
                return fwd, halves[1].select(tdim, 0)
            fwd = _gather_last(output[..., :hidden_out], lengths, self.batch_first)
            return fwd, output.select(tdim, 0)[..., hidden_out:]
        output, hidden = self.rnn(x)
        h_n = _h_n(hidden)
        if name == "hn_padded":
            return h_n[-2], h_n[-1]
        if name == "last_step_naive":
            last = output.select(tdim, -1)
            return last[:, :hidden_out], last[:, hidden_out:]
        fwd = _gather_last(output[..., :hidden_out], lengths, self.batch_first)
        return fwd, output.select(tdim, 0)[..., hidden_out:]


# ---------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class DeployResult:
    """One cell: a strategy on (cell, layers, device) deployed with one technology."""

    strategy: str
    cell: str
    layers: int
    device: str
    technology: str
    status: str
    detail: str
    graph_breaks: int | None = None
    build_seconds: float | None = None
    max_abs_error: float | None = None
    note: str = ""

    def verdict(self) -> tuple:
        """Everything but the wall-clock time: equal from run to run."""
        return tuple(v for k, v in asdict(self).items() if k != "build_seconds")


class _Failed(Exception):  # noqa: N818 (internal control flow: a stage that raised)
    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(stage)
        self.stage = stage
        self.error = error


_ANSI = re.compile(r"\x1b\[[0-9;]*m|\[[0-9;]*m(?=\S)")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")
_TORCH_LOGS_HINT = re.compile(r"\s*For more information, run with TORCH_LOGS=.*$")


def first_error_line(error: BaseException, limit: int = 200) -> str:
    """``Type: first line`` of the root cause, without colour codes or memory addresses.

    Follows explicit chaining (``raise ... from``) to the innermost cause; for TorchScript's
    "failed to compile it" wrapper, takes the first line of the reproduced error stack; for
    export's "Constraints violated", adds which dimension was specialized to what.
    """
    while error.__cause__ is not None:
        error = error.__cause__
    text = _ADDRESS.sub("0x...", _ANSI.sub("", str(error))).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[0] if lines else ""
    marker = "The error stack is reproduced here:"
    if marker in lines:
        after = lines[lines.index(marker) + 1:]
        if after:
            line = after[0].rstrip(":")
            where = next((x for x in after[1:] if x.startswith("File ")), "")
            match = re.search(r"File \"[^\"]*/([^/\"]+)\", line (\d+)", where)
            if match:
                line += f" ({match.group(1)}:{match.group(2)})"
    line = _TORCH_LOGS_HINT.sub("", line)
    if line.startswith("Constraints violated"):
        special = next((x for x in lines if "specialized it to be a constant" in x), "")
        match = re.search(r"marked (\w+) as dynamic but your code specialized it to be a "
                          r"constant \((\d+)\)", special)
        if match:
            line += f" {match.group(1)} specialized to the traced {match.group(2)}"
    line = f"{type(error).__name__}: {line}"
    return line if len(line) <= limit else line[: limit - 3] + "..."


# ---------------------------------------------------------------------------------------------
# inputs


def deploy_spec(cell: str = "lstm", layers: int = 1, device: str = "cpu",
                seed: int = 0) -> WorkloadSpec:
    """The traced workload of the deployability matrix (small, float32, uniform lengths)."""
    return WorkloadSpec(cell=cell, num_layers=layers, lengths="uniform", layout="batch_first",
                        dtype="float32", device=device, seed=seed, **DEPLOY_SHAPE)


def probe_specs(spec: WorkloadSpec) -> list[tuple[str, WorkloadSpec]]:
    """The inputs a deployment must get right: the traced one first, then new lengths on the
    same shape, a new batch and a longer T, and a batch of one (x and lengths only: every probe
    runs the traced spec's rnn)."""
    other_batch = spec.batch - 1 if spec.batch > 2 else spec.batch + 1
    probes = [
        ("traced", spec),
        ("new lengths", spec.with_(seed=spec.seed + 1)),
        ("new shape", spec.with_(batch=other_batch, max_len=spec.max_len + 3,
                                 seed=spec.seed + 2)),
        ("batch of one", spec.with_(batch=1, max_len=max(1, spec.max_len - 1),
                                    seed=spec.seed + 3)),
    ]
    return [(f"{label} (B={s.batch}, T={s.max_len})", s) for label, s in probes]


@dataclass
class _Case:
    module: StrategyModule
    probes: list[tuple[str, Tensor, Tensor]]
    expected: list[tuple[Tensor, Tensor]]


def _case(spec: WorkloadSpec, strategy: str) -> _Case:
    rnn, _, _ = build(spec)
    module = StrategyModule(rnn, strategy).eval()
    probes = []
    for label, probe in probe_specs(spec):
        _, x, lengths = build(probe)
        probes.append((label, x, lengths))
    with torch.no_grad():
        expected = [module(x, lengths) for _, x, lengths in probes]
    return _Case(module, probes, expected)


# ---------------------------------------------------------------------------------------------
# one technology


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Exporters print progress to stdout and warn through warnings and logging: keep the
    command's output to the matrix."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch._dynamo",
                                                   "torch.export", "torch._export",
                                                   "torch.fx.experimental.symbolic_shapes")]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _missing_onnx_packages() -> list[str]:
    missing = []
    for name in ONNX_PACKAGES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def onnx_available() -> bool:
    return not _missing_onnx_packages()


def _dynamic_shapes(module: StrategyModule) -> dict[str, dict[int, Any]]:
    batch = torch.export.Dim("batch", min=1)
    steps = torch.export.Dim("steps", min=1)
    rnn = module.rnn
    return {"x": {batch_dim(rnn): batch, time_dim(rnn): steps}, "lengths": {0: batch}}


_SCRIPT_IDS = itertools.count()


def _script(case: _Case) -> tuple[Callable, str]:
    module = case.module
    # A failed torch.jit.script leaves a half-defined class behind: a fresh subclass per try.
    fresh = type(f"StrategyModule{next(_SCRIPT_IDS)}", (StrategyModule,), {})
    try:
        scripted = torch.jit.script(fresh(module.rnn, module.strategy_name))
        return scripted, "the registry code as written"
    except Exception as err:
        registry_error = first_error_line(err, limit=120)
        if module.strategy_name not in SCRIPT_PORTS:
            raise _Failed("torch.jit.script (no transcription)", err) from None
    try:
        scripted = torch.jit.script(ScriptPort(module.rnn, module.strategy_name).eval())
    except Exception as err:
        raise _Failed("torch.jit.script (transcription)", err) from None
    return scripted, f"ScriptPort transcription (registry code: {registry_error})"


def _compile(case: _Case, fullgraph: bool) -> tuple[Callable, float, int, str]:
    """(compiled module, first-call seconds, graph breaks, their reasons) on the traced input."""
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    compiled = torch.compile(case.module, fullgraph=fullgraph)
    _, x, lengths = case.probes[0]
    start = time.perf_counter()
    try:
        compiled(x, lengths)
    except Exception as err:
        raise _Failed("torch.compile", err) from None
    seconds = time.perf_counter() - start
    breaks = counters["graph_break"]
    reasons = "; ".join(f"{reason.strip().splitlines()[0]} x{count}"
                        for reason, count in breaks.items())
    return compiled, seconds, sum(breaks.values()), reasons


def _export(case: _Case, while_loop: bool) -> Callable:
    _, x, lengths = case.probes[0]
    context: contextlib.AbstractContextManager = contextlib.nullcontext()
    if while_loop:
        from torch.export._patches import (
            register_gru_while_loop_decomposition,
            register_lstm_while_loop_decomposition,
        )

        context = contextlib.ExitStack()
        context.enter_context(register_lstm_while_loop_decomposition())
        context.enter_context(register_gru_while_loop_decomposition())
    try:
        with context:
            program = torch.export.export(case.module, (x, lengths),
                                          dynamic_shapes=_dynamic_shapes(case.module))
    except Exception as err:
        raise _Failed("torch.export.export", err) from None
    return program.module()


def _onnx(case: _Case) -> Callable:
    import onnxruntime

    _, x, lengths = case.probes[0]
    try:
        program = torch.onnx.export(case.module, (x, lengths), dynamo=True, verbose=False,
                                    dynamic_shapes=_dynamic_shapes(case.module))
    except Exception as err:
        raise _Failed("torch.onnx.export", err) from None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        session = onnxruntime.InferenceSession(program.model_proto.SerializeToString(), options,
                                               providers=["CPUExecutionProvider"])
    except Exception as err:
        raise _Failed("onnxruntime.InferenceSession", err) from None
    names = [entry.name for entry in session.get_inputs()]

    def run(x: Tensor, lengths: Tensor) -> tuple[Tensor, ...]:
        feed = {"x": x.detach().cpu().numpy(), "lengths": lengths.detach().cpu().numpy()}
        return tuple(torch.from_numpy(out) for out in
                     session.run(None, {name: feed[name] for name in names}))

    return run


def _probe_error(outputs: Any, expected: tuple[Tensor, Tensor]) -> float:
    if not isinstance(outputs, (tuple, list)) or len(outputs) != 2:
        return math.inf
    worst = 0.0
    for got, want in zip(outputs, expected, strict=True):
        if tuple(got.shape) != tuple(want.shape):
            return math.inf
        diff = (got.detach().to("cpu", torch.float64) - want.detach().to("cpu", torch.float64))
        if not torch.isfinite(diff).all():
            return math.inf
        worst = max(worst, float(diff.abs().max()) if diff.numel() else 0.0)
    return worst


def _run_probes(fn: Callable, case: _Case) -> tuple[float, str]:
    """Worst error over the probes and the probe it came from; raises _Failed on a crash."""
    worst, where = 0.0, case.probes[0][0]
    for (label, x, lengths), expected in zip(case.probes, case.expected, strict=True):
        try:
            with torch.no_grad():
                outputs = fn(x, lengths)
        except Exception as err:
            raise _Failed(f"run on {label}", err) from None
        error = _probe_error(outputs, expected)
        if error > worst or math.isnan(error):
            worst, where = error, label
    return worst, where


def _deploy(case: _Case, technology: str) -> tuple[Callable, float, int | None, str]:
    """(deployed callable, build seconds, graph breaks, note)."""
    start = time.perf_counter()
    if technology == "script":
        fn, note = _script(case)
        return fn, time.perf_counter() - start, None, note
    if technology in ("compile", "compile_fullgraph", "compile_fullgraph_allow_rnn"):
        fn, seconds, breaks, reasons = _compile(case, fullgraph=technology != "compile")
        note = "build_seconds: first call, inductor caches allowed"
        if technology == "compile_fullgraph_allow_rnn":
            note += "; torch._dynamo.config.allow_rnn=True"
        if technology == "compile" and reasons:
            note += f"; graph breaks: {reasons}"
        return fn, seconds, (breaks if technology == "compile" else None), note
    if technology in ("export", "export_while_loop"):
        fn = _export(case, while_loop=technology == "export_while_loop")
        note = ("register_{lstm,gru}_while_loop_decomposition()"
                if technology == "export_while_loop" else "")
        return fn, time.perf_counter() - start, None, note
    if technology == "onnx":
        fn = _onnx(case)
        note = "torch.onnx.export(dynamo=True), onnxruntime CPU"
        return fn, time.perf_counter() - start, None, note
    raise ValueError(f"technology: expected one of {ALL_TECHNOLOGIES}, got {technology!r}")


def _clear_rnn_dispatch_caches() -> None:
    """Forget which Python kernel each rnn op dispatched to earlier in this process.

    ``torch.export._patches`` (used by ``export_while_loop`` and by ``torch.onnx.export``) swaps
    the rnn ops' CompositeImplicitAutograd kernel by assigning ``op.py_kernels[...]`` without
    clearing ``op._dispatch_cache`` (torch 2.13): whichever kernel an earlier export dispatched
    to stays in use, so without this a plain export after an ONNX export "works" and the
    while-loop patch after a plain export does nothing. Each cell must not depend on the ones
    before it.
    """
    for packet in (torch.ops.aten.lstm, torch.ops.aten.gru, torch.ops.aten.rnn_tanh,
                   torch.ops.aten.rnn_relu):
        for overload in packet.overloads():
            cache = getattr(getattr(packet, overload), "_dispatch_cache", None)
            if cache is not None:
                cache.clear()


@contextlib.contextmanager
def _technology_context(technology: str) -> Iterator[None]:
    # Everything after the build (recompiles on new shapes included) sees the same settings;
    # deployments are for inference, so all of it runs without autograd.
    _clear_rnn_dispatch_caches()
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(_quiet())
            stack.enter_context(torch.no_grad())
            if technology == "compile_fullgraph_allow_rnn":
                stack.enter_context(torch._dynamo.config.patch(allow_rnn=True))
            yield
    finally:
        _clear_rnn_dispatch_caches()


def _check_case(case: _Case, spec: WorkloadSpec, strategy: str,
                technology: str) -> DeployResult:
    row = {"strategy": strategy, "cell": spec.cell, "layers": spec.num_layers,
           "device": spec.device, "technology": technology}
    if technology not in ALL_TECHNOLOGIES:
        raise ValueError(f"technology: expected one of {ALL_TECHNOLOGIES}, got {technology!r}")
    if technology == "onnx":
        missing = _missing_onnx_packages()
        if missing:
            return DeployResult(**row, status="unavailable",
                                detail=f"not installed: {', '.join(missing)} (pip install "
                                f"{' '.join(ONNX_PACKAGES)})")
    if technology == "export_while_loop":
        try:
            importlib.import_module("torch.export._patches")
        except ImportError as err:
            return DeployResult(**row, status="unavailable", detail=first_error_line(err))
    fn: Callable | None = None
    try:
        with _technology_context(technology):
            fn, seconds, breaks, note = _deploy(case, technology)
            error, where = _run_probes(fn, case)
    except _Failed as failed:
        return DeployResult(**row, status="fails",
                            detail=f"{failed.stage}: {first_error_line(failed.error)}")
    finally:
        del fn
        if technology.startswith("compile"):
            torch._dynamo.reset()
    if error <= TOLERANCE:
        return DeployResult(**row, status="works", detail=f"max abs error {error:.0e}",
                            graph_breaks=breaks, build_seconds=round(seconds, 3),
                            max_abs_error=error, note=note)
    return DeployResult(**row, status="wrong", detail=f"max abs error {error:.1e} on {where}",
                        graph_breaks=breaks, build_seconds=round(seconds, 3),
                        max_abs_error=error, note=note)


def _check_device(device: str) -> None:
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device: {device!r} requested but CUDA is not available here")


def check_deploy(strategy: str, technology: str,
                 spec: WorkloadSpec | None = None) -> DeployResult:
    """Deploys ``strategy`` on ``spec``'s rnn (default: ``deploy_spec()``) with ``technology``
    and compares it with eager on ``probe_specs(spec)``."""
    if technology not in ALL_TECHNOLOGIES:
        raise ValueError(f"technology: expected one of {ALL_TECHNOLOGIES}, got {technology!r}")
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy: expected one of {sorted(STRATEGIES)}, got {strategy!r}")
    spec = spec or deploy_spec()
    _check_device(spec.device)
    return _check_case(_case(spec, strategy), spec, strategy, technology)


def deploy_matrix(strategies: Sequence[str] = tuple(STRATEGIES),
                  cells: Sequence[str] = ("lstm", "gru"), layers: Sequence[int] = (1, 2),
                  device: str = "cpu", technologies: Sequence[str] = TECHNOLOGIES,
                  progress: Callable[[int, int, str], None] | None = None,
                  seed: int = 0) -> list[DeployResult]:
    """Every strategy x cell x layers x technology, rows in that order.

    ``progress(done, total, label)`` is called after each cell.
    """
    for name in strategies:
        if name not in STRATEGIES:
            raise ValueError(f"strategy: expected one of {sorted(STRATEGIES)}, got {name!r}")
    for technology in technologies:
        if technology not in ALL_TECHNOLOGIES:
            raise ValueError(f"technology: expected one of {ALL_TECHNOLOGIES}, "
                             f"got {technology!r}")
    _check_device(device)
    total = len(strategies) * len(cells) * len(layers) * len(technologies)
    rows: list[DeployResult] = []
    for strategy in strategies:
        for cell in cells:
            for num_layers in layers:
                spec = deploy_spec(cell, num_layers, device, seed)
                case = _case(spec, strategy)
                for technology in technologies:
                    rows.append(_check_case(case, spec, strategy, technology))
                    if progress is not None:
                        progress(len(rows), total,
                                 f"{strategy} {cell} {num_layers} {technology}")
    return rows


# ---------------------------------------------------------------------------------------------
# asv: torch.compile against eager (benchmarks/deploy.py)

COMPILE_PARAM_NAMES = ("device", "cell", "batch", "max_len", "lengths", "hidden", "layers",
                       "dtype", "strategy", "compile")
COMPILE_MODES = ("eager", "compile")
_ALL_STRATEGIES = ("hn_index", "hn_first_layer", "last_step_naive", "chunk_view",
                   "packed_unpack", "padded_gather", "hn_padded", "manual_two_rnn")
# Names, not STRATEGIES' pitfall flags: the suite measures older commits with this file.
_DEPLOYABLE_STRATEGIES = ("hn_index", "chunk_view", "packed_unpack", "padded_gather",
                          "manual_two_rnn")
#: The compile sub-grid per $BIRNN_BENCH_GRID: the tree grid's names and a few of its values,
#: plus ``compile``. quick: 20 CPU points (10 compiled; the thread's pitfalls left out, since a
#: cold compile per process costs seconds and nobody deploys a pitfall), full: 128, smoke: 4.
COMPILE_GRIDS: dict[str, dict[str, tuple]] = {
    "quick": {"device": ("cpu", "cuda"), "cell": ("lstm", "gru"), "batch": (16,),
              "max_len": (32,), "lengths": ("skewed",), "hidden": (128,), "layers": (2,),
              "dtype": ("float32",), "strategy": _DEPLOYABLE_STRATEGIES,
              "compile": COMPILE_MODES},
    "full": {"device": ("cpu", "cuda"), "cell": ("lstm", "gru"), "batch": (1, 16),
             "max_len": (32,), "lengths": ("skewed",), "hidden": (128,), "layers": (1, 2),
             "dtype": ("float32",), "strategy": _ALL_STRATEGIES, "compile": COMPILE_MODES},
    "smoke": {"device": ("cpu", "cuda"), "cell": ("lstm",), "batch": (4,), "max_len": (8,),
              "lengths": ("skewed",), "hidden": (16,), "layers": (2,), "dtype": ("float32",),
              "strategy": ("hn_index", "padded_gather"), "compile": COMPILE_MODES},
}
COMPILE_GRID = COMPILE_GRIDS["quick"]


def compile_grid(name: str | None = None) -> dict[str, tuple]:
    """The compile sub-grid for grid ``name`` (default: $BIRNN_BENCH_GRID, else quick)."""
    if name is None:
        from birnn_bench import grid

        name = grid.grid_name()
    if name not in COMPILE_GRIDS:
        raise ValueError(f"grid: expected one of {sorted(COMPILE_GRIDS)}, got {name!r}")
    return COMPILE_GRIDS[name]


class NotApplicable(NotImplementedError):  # noqa: N818 (a skip signal for asv)
    """A compile point that cannot run here (no GPU, compile fails): n/a in asv."""


class CompiledCase:
    """One point of the compile sub-grid: the module, eager or ``torch.compile``d, warmed.

    ``first_call_seconds`` is the first call's wall time: for ``compile`` that is the compile
    (dynamo + inductor, with inductor's caches disabled so that every process measures a cold
    compile), for ``eager`` the plain first call.
    """

    def __init__(self, device: str, cell: str, batch: int, max_len: int, lengths: str,
                 hidden: int, layers: int, dtype: str, strategy: str, compile: str) -> None:
        try:
            from birnn_bench import grid, measure
        except ImportError as err:  # a commit that predates birnn_bench.measure
            raise NotApplicable(f"this commit lacks {err.name}") from None
        if compile not in COMPILE_MODES:
            raise ValueError(f"compile: expected one of {COMPILE_MODES}, got {compile!r}")
        if strategy not in STRATEGIES:
            raise NotApplicable(f"this commit has no strategy {strategy!r}")
        reason = grid.skip_reason(device, dtype, torch.cuda.is_available())
        if reason:
            raise NotApplicable(reason)
        measure.pin_threads()
        measure.set_precision_flags()
        self.device = device
        self.mode = compile
        spec = grid.bench_spec(device, cell, batch, max_len, lengths, hidden, layers, dtype)
        rnn, self.x, self.lengths = build(spec)
        self.module = StrategyModule(rnn, strategy).eval()
        self.fn: Callable = self.module
        context: contextlib.AbstractContextManager = contextlib.nullcontext()
        if compile == "compile":
            from torch._inductor import config as inductor_config

            torch._dynamo.reset()
            self.fn = torch.compile(self.module)
            context = inductor_config.patch(force_disable_caches=True)
        with torch.no_grad(), context, warnings.catch_warnings():
            # "dynamo_pgo force disabled by ... force_disable_caches": that is the point.
            warnings.filterwarnings("ignore", message="dynamo_pgo force disabled")
            start = time.perf_counter()
            try:
                self.fn(self.x, self.lengths)
                measure.synchronize(device)
            except Exception as err:
                raise NotApplicable(f"torch.compile fails: {first_error_line(err)}") from None
            self.first_call_seconds = time.perf_counter() - start
            self.fn(self.x, self.lengths)  # second call: nothing left to compile in samples
        measure.synchronize(device)

    def forward(self) -> tuple[Tensor, Tensor]:
        with torch.no_grad():
            return self.fn(self.x, self.lengths)

    def max_abs_error(self) -> float:
        """This point's output (compiled or eager) against the float64 oracle: a compile that
        changed the result shows here, on the very configuration that is timed."""
        from birnn_bench.oracle import error_against_oracle

        return error_against_oracle(self.module.rnn, self.x, self.lengths, self.forward(),
                                    device=self.device)


# ---------------------------------------------------------------------------------------------
# output formats


def versions() -> dict[str, str | None]:
    """torch and the optional ONNX packages (None when missing)."""
    found: dict[str, str | None] = {"torch": torch.__version__}
    for name in ONNX_PACKAGES:
        try:
            found[name] = str(importlib.import_module(name).__version__)
        except ImportError:
            found[name] = None
    return found


def _legend_keys(rows: Sequence[DeployResult]) -> dict[str, int]:
    keys: dict[str, int] = {}
    for row in rows:
        if row.status in ("fails", "unavailable") and row.detail not in keys:
            keys[row.detail] = len(keys) + 1
    return keys


def format_cell(row: DeployResult, legend: dict[str, int] | None = None) -> str:
    if row.status == "works":
        return "works" if row.graph_breaks is None else f"works, {row.graph_breaks} breaks"
    if row.status == "wrong":
        return f"wrong {row.max_abs_error:.0e}"
    short = "fails" if row.status == "fails" else "n/a"
    if legend is not None and row.detail in legend:
        return f"{short} [{legend[row.detail]}]"
    return f"{short}: {row.detail}"


def format_matrix(rows: Sequence[DeployResult]) -> str:
    """Rows strategy x cell x layers, columns technologies; fails/n/a point at a numbered
    legend with the first error line."""
    technologies = list(dict.fromkeys(row.technology for row in rows))
    legend = _legend_keys(rows)
    by_key: dict[tuple, dict[str, DeployResult]] = {}
    for row in rows:
        by_key.setdefault((row.strategy, row.cell, row.layers), {})[row.technology] = row
    labels = {key: f"{key[0]} {key[1]} {key[2]}" for key in by_key}
    label_width = max([len("strategy cell layers"), *(len(v) for v in labels.values())])
    cells = {key: {t: format_cell(r, legend) for t, r in group.items()}
             for key, group in by_key.items()}
    widths = {t: max([len(t), *(len(c.get(t, "")) for c in cells.values())])
              for t in technologies}
    header = "strategy cell layers".ljust(label_width) + " | " + " ".join(
        t.ljust(widths[t]) for t in technologies)
    lines = [header, "-" * len(header)]
    for key, group in cells.items():
        lines.append(labels[key].ljust(label_width) + " | " + " ".join(
            group.get(t, "-").ljust(widths[t]) for t in technologies))
    if legend:
        lines.append("")
        lines.extend(f"[{number}] {detail}" for detail, number in legend.items())
    return "\n".join(lines)


def strategies_that_work(rows: Sequence[DeployResult], technology: str) -> list[str]:
    """Strategies whose every row for ``technology`` is ``works`` (registry order); for
    ``recommend --require``."""
    mine = [row for row in rows if row.technology == technology]
    return [name for name in dict.fromkeys(row.strategy for row in mine)
            if all(row.status == "works" for row in mine if row.strategy == name)]


def format_summary(rows: Sequence[DeployResult]) -> str:
    """Per technology: how many cells work, and which strategies work everywhere."""
    lines = [f"Compared with eager (max abs error <= {TOLERANCE:.0e}) on "
             + ", ".join(label.split(" (")[0] for label, _ in probe_specs(deploy_spec()))
             + ":"]
    for technology in dict.fromkeys(row.technology for row in rows):
        mine = [row for row in rows if row.technology == technology]
        counts = {status: sum(row.status == status for row in mine) for status in STATUSES}
        everywhere = strategies_that_work(rows, technology)
        text = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
        lines.append(f"  {technology:<28} {text}; works everywhere: "
                     f"{', '.join(everywhere) or 'none'}")
    return "\n".join(lines)


def to_json(rows: Sequence[DeployResult]) -> str:
    payload = {
        "versions": versions(),
        "tolerance": TOLERANCE,
        "technologies": list(dict.fromkeys(row.technology for row in rows)),
        "probes": [label for label, _ in probe_specs(deploy_spec())],
        "shape": DEPLOY_SHAPE,
        "rows": [asdict(row) for row in rows],
    }
    return json.dumps(payload, indent=2)


def to_csv(rows: Sequence[DeployResult]) -> str:
    return dataclass_csv(rows, DeployResult)


def from_json(text: str) -> list[DeployResult]:
    """Rows back from ``to_json`` (for the report)."""
    return [DeployResult(**row) for row in json.loads(text)["rows"]]
