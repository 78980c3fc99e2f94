"""The places where deployability checks reach into torch internals or read torch's error text.

Kept here, each with why, so that a torch upgrade has one file to review; ``birnn_bench.deploy``
and ``birnn_bench.deploy_technologies`` use only these functions. Written against torch 2.13.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import itertools
import re
from collections.abc import Callable, Iterator

import torch
from torch import nn

_FRESH_IDS = itertools.count()


def script_fresh(module: nn.Module) -> torch.jit.ScriptModule:
    """``torch.jit.script(module)``, on a shallow copy whose class is a new subclass."""
    # A failed torch.jit.script leaves a half-defined class behind (the next try reports "Can't
    # redefine method: forward" instead of the real error): a fresh class per try.
    fresh = copy.copy(module)
    fresh.__class__ = type(f"{type(module).__name__}{next(_FRESH_IDS)}", (type(module),), {})
    return torch.jit.script(fresh)


@contextlib.contextmanager
def counting_graph_breaks() -> Iterator[Callable[[], dict[str, int]]]:
    """Yields a function that returns dynamo's graph breaks so far: reason -> count."""
    # torch._dynamo.explain reports -1 or 0 breaks here, because dynamo skips the frames that
    # touch an nn.LSTM/GRU instead of breaking inside them; its counters see every break.
    from torch._dynamo.utils import counters

    counters.clear()
    try:
        yield lambda: dict(counters["graph_break"])
    finally:
        counters.clear()


def allow_rnn() -> contextlib.AbstractContextManager:
    """Dynamo with ``allow_rnn=True``."""
    # The switch that dynamo's "Attempted to wrap RNN, GRU, or LSTM" error points to; config only.
    return torch._dynamo.config.patch(allow_rnn=True)


def while_loop_rnn_missing() -> ImportError | None:
    """Why ``rnn_while_loop_decomposition`` cannot be used here, or None."""
    # A private torch module: other torch versions may not have it.
    try:
        importlib.import_module("torch.export._patches")
    except ImportError as err:
        return err
    return None


@contextlib.contextmanager
def rnn_while_loop_decomposition() -> Iterator[None]:
    """Export LSTM/GRU as a while loop over time, so that T can stay dynamic."""
    # What torch.onnx.export uses for dynamic shapes; not public API (torch.export._patches).
    from torch.export._patches import (
        register_gru_while_loop_decomposition,
        register_lstm_while_loop_decomposition,
    )

    with register_lstm_while_loop_decomposition(), register_gru_while_loop_decomposition():
        yield


def clear_rnn_dispatch_caches() -> None:
    """Forget which Python kernel each rnn op dispatched to earlier in this process."""
    # torch.export._patches (export_while_loop, torch.onnx.export) swaps the rnn ops' kernel via
    # op.py_kernels[...] without clearing op._dispatch_cache: whichever kernel an earlier export
    # used stays in use, and a check would depend on the checks before it.
    for packet in (torch.ops.aten.lstm, torch.ops.aten.gru, torch.ops.aten.rnn_tanh,
                   torch.ops.aten.rnn_relu):
        for overload in packet.overloads():
            cache = getattr(getattr(packet, overload), "_dispatch_cache", None)
            if cache is not None:
                cache.clear()


# torch's error text, read for one line that says what went wrong.
_ANSI = re.compile(r"\x1b\[[0-9;]*m|\[[0-9;]*m(?=\S)")  # dynamo colours its messages
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")  # memory addresses differ from run to run
_TORCH_LOGS_HINT = re.compile(r"\s*For more information, run with TORCH_LOGS=.*$")  # advice
#: TorchScript wraps the real error of a function it failed to compile after this line.
_SCRIPT_STACK = "The error stack is reproduced here:"
_SCRIPT_WHERE = re.compile(r"File \"[^\"]*/([^/\"]+)\", line \d+")
_SCRIPT_DEF = re.compile(r"def (\w+)\(")
#: export's "Constraints violated" names the dimension only further down.
_SPECIALIZED = re.compile(r"marked (\w+) as dynamic but your code specialized it to be a "
                          r"constant \((\d+)\)")


def first_error_line(error: BaseException, limit: int = 200) -> str:
    """``Type: first line`` of the root cause, without colour codes or memory addresses.

    Follows explicit chaining (``raise ... from``) to the innermost cause; for TorchScript's
    "failed to compile it" wrapper, takes the first line of the reproduced error and names the
    file and function it points to; for export's "Constraints violated", adds which dimension
    was specialized to what.
    """
    while error.__cause__ is not None:
        error = error.__cause__
    text = _ADDRESS.sub("0x...", _ANSI.sub("", str(error))).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[0] if lines else ""
    if _SCRIPT_STACK in lines:
        after = lines[lines.index(_SCRIPT_STACK) + 1:]
        if after:
            line = after[0].rstrip(":")
            at = next((i for i, x in enumerate(after) if _SCRIPT_WHERE.match(x)), None)
            if at is not None:
                where = _SCRIPT_WHERE.match(after[at])
                name = _SCRIPT_DEF.match(after[at + 1]) if at + 1 < len(after) else None
                line += f" ({where.group(1)}" + (f", def {name.group(1)})" if name else ")")
    line = _TORCH_LOGS_HINT.sub("", line)
    if line.startswith("Constraints violated"):
        match = next(filter(None, map(_SPECIALIZED.search, lines)), None)
        if match:
            line += f" {match.group(1)} specialized to the traced {match.group(2)}"
    line = f"{type(error).__name__}: {line}"
    return line if len(line) <= limit else line[: limit - 3] + "..."
