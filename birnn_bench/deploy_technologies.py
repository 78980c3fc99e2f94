"""How each deployment technology turns a module ``forward(x, lengths)`` into a deployed callable.

``deploy(module, x, lengths, technology)`` builds the deployment on the traced input ``(x,
lengths)`` and returns it with its build time, graph breaks and a note; a stage that raises comes
back as ``DeployFailed``. Comparing the deployment with eager is ``birnn_bench.deploy``'s job.

Technologies (``TECHNOLOGIES``, torch's defaults, what a team gets out of the box):

* ``script``: ``torch.jit.script``.
* ``compile_fullgraph``: ``torch.compile(fullgraph=True)``.
* ``compile``: plain ``torch.compile``; graph breaks counted on the first call.
* ``export``: ``torch.export.export`` with a dynamic batch and T (``Dim(min=1)`` each).
* ``onnx``: ``torch.onnx.export`` with torch's default exporter (``dynamo=True`` in torch 2.13)
  and the same dynamic shapes, run with onnxruntime (CPU execution provider).

Opt-in variants (``OPT_IN_TECHNOLOGIES``): the switch that torch's own messages point to.

* ``compile_fullgraph_allow_rnn``: fullgraph with ``torch._dynamo.config.allow_rnn=True``.
* ``export_while_loop``: ``torch.export.export`` with export's while-loop decomposition of
  LSTM/GRU (what ``torch.onnx`` uses for dynamic shapes; without it the CPU rnn kernel fixes T
  at the traced length).
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


def missing_onnx_packages() -> list[str]:
    missing = []
    for name in ONNX_PACKAGES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def onnx_available() -> bool:
    return not missing_onnx_packages()


def unavailable(technology: str) -> str | None:
    """Why ``technology`` cannot run here (a missing optional dependency), or None."""
    if technology == "onnx":
        missing = missing_onnx_packages()
        if missing:
            return (f"not installed: {', '.join(missing)} "
                    f"(pip install {' '.join(ONNX_PACKAGES)})")
    if technology == "export_while_loop":
        error = compat.while_loop_rnn_missing()
        if error is not None:
            return compat.first_error_line(error)
    return None


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Exporters print progress to stdout and warn through warnings and logging: keep the
    command's output to the matrix."""
    loggers = [logging.getLogger(name) for name in _QUIET_LOGGERS]
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


@contextlib.contextmanager
def technology_context(technology: str) -> Iterator[None]:
    """What the build AND the runs of a deployment share (recompiles on new shapes included):
    quiet exporters, no autograd (deployments are for inference), the technology's switches; no
    state left from earlier deployments in this process, and none left behind."""
    check_technology(technology)
    compat.clear_rnn_dispatch_caches()
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(_quiet())
            stack.enter_context(torch.no_grad())
            if technology == "compile_fullgraph_allow_rnn":
                stack.enter_context(compat.allow_rnn())
            yield
    finally:
        compat.clear_rnn_dispatch_caches()
        if technology in _COMPILES:
            torch.compiler.reset()


def _dynamic_shapes(rnn: nn.RNNBase) -> dict[str, dict[int, Any]]:
    batch = torch.export.Dim("batch", min=1)
    steps = torch.export.Dim("steps", min=1)
    return {"x": {batch_dim(rnn): batch, time_dim(rnn): steps}, "lengths": {0: batch}}


def _script(module: nn.Module) -> Callable:
    try:
        return compat.script_fresh(module)
    except Exception as err:
        raise DeployFailed("torch.jit.script", err) from None


def _compile(module: nn.Module, x: Tensor, lengths: Tensor,
             fullgraph: bool) -> tuple[Callable, float, dict[str, int]]:
    """(compiled module, first-call seconds, graph breaks by reason) on the traced input."""
    torch.compiler.reset()
    compiled = torch.compile(module, fullgraph=fullgraph)
    with compat.counting_graph_breaks() as graph_breaks:
        start = time.perf_counter()
        try:
            compiled(x, lengths)
        except Exception as err:
            raise DeployFailed("torch.compile", err) from None
        seconds = time.perf_counter() - start
        return compiled, seconds, graph_breaks()


def _export(module: nn.Module, x: Tensor, lengths: Tensor, while_loop: bool) -> Callable:
    context = (compat.rnn_while_loop_decomposition() if while_loop
               else contextlib.nullcontext())
    try:
        with context:
            program = torch.export.export(module, (x, lengths),
                                          dynamic_shapes=_dynamic_shapes(module.rnn))
    except Exception as err:
        raise DeployFailed("torch.export.export", err) from None
    return program.module()


def _onnx(module: nn.Module, x: Tensor, lengths: Tensor) -> Callable:
    import onnxruntime

    try:
        program = torch.onnx.export(module, (x, lengths), dynamo=True, verbose=False,
                                    dynamic_shapes=_dynamic_shapes(module.rnn))
    except Exception as err:
        raise DeployFailed("torch.onnx.export", err) from None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        session = onnxruntime.InferenceSession(program.model_proto.SerializeToString(), options,
                                               providers=["CPUExecutionProvider"])
    except Exception as err:
        raise DeployFailed("onnxruntime.InferenceSession", err) from None
    names = [entry.name for entry in session.get_inputs()]

    def run(x: Tensor, lengths: Tensor) -> tuple[Tensor, ...]:
        feed = {"x": x.detach().cpu().numpy(), "lengths": lengths.detach().cpu().numpy()}
        return tuple(torch.from_numpy(out) for out in
                     session.run(None, {name: feed[name] for name in names}))

    return run


def deploy(module: nn.Module, x: Tensor, lengths: Tensor, technology: str) -> Deployed:
    """Deploys ``module`` (its rnn in attribute ``rnn``) with ``technology``, traced or compiled
    on ``(x, lengths)``; call inside
    ``technology_context(technology)``. Raises ``DeployFailed``."""
    check_technology(technology)
    start = time.perf_counter()
    if technology == "script":
        return Deployed(_script(module), time.perf_counter() - start, None,
                        "torch.jit.script of the module as written")
    if technology in _COMPILES:
        fn, seconds, breaks = _compile(module, x, lengths, fullgraph=technology != "compile")
        note = "build_seconds: first call, inductor caches allowed"
        if technology == "compile_fullgraph_allow_rnn":
            note += "; torch._dynamo.config.allow_rnn=True"
        if technology == "compile":
            if breaks:
                note += "; graph breaks: " + "; ".join(
                    f"{reason.strip().splitlines()[0]} x{count}"
                    for reason, count in breaks.items())
            return Deployed(fn, seconds, sum(breaks.values()), note)
        return Deployed(fn, seconds, None, note)
    if technology in ("export", "export_while_loop"):
        while_loop = technology == "export_while_loop"
        fn = _export(module, x, lengths, while_loop)
        note = "register_{lstm,gru}_while_loop_decomposition()" if while_loop else ""
        return Deployed(fn, time.perf_counter() - start, None, note)
    fn = _onnx(module, x, lengths)
    return Deployed(fn, time.perf_counter() - start, None,
                    "torch.onnx.export(dynamo=True), onnxruntime CPU")
