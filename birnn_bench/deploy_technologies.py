"""How each deployment technology turns a module ``forward(x, lengths)`` into a deployed callable.

``TECHNOLOGIES`` are torch's defaults: ``script`` (``torch.jit.script``), ``compile_fullgraph``,
``compile`` (graph breaks counted on the first call), ``export`` (``torch.export.export``, batch
and T dynamic) and ``onnx`` (``torch.onnx.export``, dynamo exporter, same dynamic shapes, run
with onnxruntime on CPU). ``OPT_IN_TECHNOLOGIES`` add the switch torch's own messages point to:
dynamo's ``allow_rnn``, and export's while-loop LSTM/GRU decomposition (without it the CPU rnn
kernel fixes T at the traced length).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import torch
from torch import nn

from birnn_bench import _torch_compat as compat
from birnn_bench._rnn import batch_dim, time_dim

Tensor = torch.Tensor

TECHNOLOGIES = ("script", "compile_fullgraph", "compile", "export", "onnx")
OPT_IN_TECHNOLOGIES = ("compile_fullgraph_allow_rnn", "export_while_loop")
ALL_TECHNOLOGIES = TECHNOLOGIES + OPT_IN_TECHNOLOGIES
#: The pip names of the optional ONNX extras.
ONNX_PACKAGES = ("onnx", "onnxscript", "onnxruntime")
_COMPILES = ("compile", "compile_fullgraph", "compile_fullgraph_allow_rnn")
_QUIET_LOGGERS = ("torch.onnx", "torch._dynamo", "torch.export", "torch._export",
                  "torch.fx.experimental.symbolic_shapes")


class DeployFailed(Exception):  # noqa: N818 (a stage that raised, not a bug here)
    """A stage of building or running a deployment raised ``error``."""

    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(f"{stage}: {error}")
        self.stage = stage
        self.error = error


class Deployed(NamedTuple):
    fn: Callable[[Tensor, Tensor], Any]
    build_seconds: float
    graph_breaks: int | None
    note: str


def check_technology(technology: str) -> None:
    if technology not in ALL_TECHNOLOGIES:
        raise ValueError(f"technology: expected one of {ALL_TECHNOLOGIES}, got {technology!r}")


def onnx_versions() -> dict[str, str | None]:
    """The optional ONNX packages' versions (None when missing)."""
    found: dict[str, str | None] = {}
    for name in ONNX_PACKAGES:
        try:
            found[name] = str(importlib.import_module(name).__version__)
        except ImportError:
            found[name] = None
    return found


def missing_onnx_packages() -> list[str]:
    return [name for name, version in onnx_versions().items() if version is None]


def onnx_available() -> bool:
    return not missing_onnx_packages()


def unavailable(technology: str) -> str | None:
    """Why ``technology`` cannot run here (a missing optional dependency), or None."""
    missing = missing_onnx_packages() if technology == "onnx" else []
    if missing:
        return f"not installed: {', '.join(missing)} (pip install {' '.join(ONNX_PACKAGES)})"
    error = compat.while_loop_rnn_missing() if technology == "export_while_loop" else None
    return None if error is None else compat.first_error_line(error)


@contextlib.contextmanager
def technology_context(technology: str) -> Iterator[None]:
    """What a deployment's build and runs (recompiles included) share: exporters kept quiet (they
    print and warn), no autograd, the technology's switches, and no rnn dispatch state from
    earlier deployments in this process, nor any left behind."""
    check_technology(technology)
    compat.clear_rnn_dispatch_caches()
    levels = {logger: logger.level for logger in map(logging.getLogger, _QUIET_LOGGERS)}
    switches = (compat.allow_rnn() if technology == "compile_fullgraph_allow_rnn"
                else contextlib.nullcontext())
    try:
        for logger in levels:
            logger.setLevel(logging.ERROR)
        with (warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()),
              torch.no_grad(), switches):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in levels.items():
            logger.setLevel(level)
        compat.clear_rnn_dispatch_caches()
        if technology in _COMPILES:
            torch.compiler.reset()


def _attempt(stage: str, fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, with what it raises as ``DeployFailed(stage, error)``."""
    try:
        return fn(*args, **kwargs)
    except Exception as err:
        raise DeployFailed(stage, err) from None


def _dynamic_shapes(rnn: nn.RNNBase) -> dict[str, dict[int, Any]]:
    batch = torch.export.Dim("batch", min=1)
    steps = torch.export.Dim("steps", min=1)
    return {"x": {batch_dim(rnn): batch, time_dim(rnn): steps}, "lengths": {0: batch}}


def _compile(module: nn.Module, x: Tensor, lengths: Tensor, technology: str) -> Deployed:
    """Compiled on the traced input; build_seconds is that first call."""
    torch.compiler.reset()
    compiled = torch.compile(module, fullgraph=technology != "compile")
    with compat.counting_graph_breaks() as graph_breaks:
        start = time.perf_counter()
        _attempt("torch.compile", compiled, x, lengths)
        seconds = time.perf_counter() - start
        breaks = graph_breaks()
    note = "build_seconds: first call, inductor caches allowed"
    if technology == "compile_fullgraph_allow_rnn":
        note += "; torch._dynamo.config.allow_rnn=True"
    if technology != "compile":
        return Deployed(compiled, seconds, None, note)
    if breaks:
        note += "; graph breaks: " + "; ".join(f"{reason.strip().splitlines()[0]} x{count}"
                                               for reason, count in breaks.items())
    return Deployed(compiled, seconds, sum(breaks.values()), note)


def _export(module: nn.Module, x: Tensor, lengths: Tensor, while_loop: bool) -> Callable:
    context = compat.rnn_while_loop_decomposition() if while_loop else contextlib.nullcontext()
    try:
        with context:
            program = torch.export.export(module, (x, lengths),
                                          dynamic_shapes=_dynamic_shapes(module.rnn))
    except Exception as err:
        raise DeployFailed("torch.export.export", err) from None
    return program.module()


def _onnx(module: nn.Module, x: Tensor, lengths: Tensor) -> Callable:
    import onnxruntime
    program = _attempt("torch.onnx.export", torch.onnx.export, module, (x, lengths),
                       dynamo=True, verbose=False, dynamic_shapes=_dynamic_shapes(module.rnn))
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = _attempt("onnxruntime.InferenceSession", onnxruntime.InferenceSession,
                       program.model_proto.SerializeToString(), options,
                       providers=["CPUExecutionProvider"])
    names = [entry.name for entry in session.get_inputs()]

    def run(x: Tensor, lengths: Tensor) -> tuple[Tensor, ...]:
        feed = {"x": x.detach().cpu().numpy(), "lengths": lengths.detach().cpu().numpy()}
        return tuple(torch.from_numpy(out) for out in
                     session.run(None, {name: feed[name] for name in names}))

    return run


def deploy(module: nn.Module, x: Tensor, lengths: Tensor, technology: str) -> Deployed:
    """Deploys ``module`` (its rnn in attribute ``rnn``) with ``technology`` on the traced input
    ``(x, lengths)``; call inside ``technology_context(technology)``. Raises ``DeployFailed``."""
    check_technology(technology)
    if technology in _COMPILES:
        return _compile(module, x, lengths, technology)
    start = time.perf_counter()
    if technology == "script":
        fn = _attempt("torch.jit.script", compat.script_fresh, module)
        note = "torch.jit.script of the module as written"
    elif technology in ("export", "export_while_loop"):
        fn = _export(module, x, lengths, technology == "export_while_loop")
        note = ("register_{lstm,gru}_while_loop_decomposition()"
                if technology == "export_while_loop" else "")
    else:
        fn = _onnx(module, x, lengths)
        note = "torch.onnx.export(dynamo=True), onnxruntime CPU"
    return Deployed(fn, time.perf_counter() - start, None, note)
