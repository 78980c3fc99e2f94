"""Where the deployability checks reach into torch internals or read torch's error text (torch
2.13), each with why: one file to review on a torch upgrade."""

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
    """``torch.jit.script`` of a shallow copy of a new subclass: a failed script leaves a
    half-defined class behind, and the next try reports "Can't redefine method"."""
    fresh = copy.copy(module)
    fresh.__class__ = type(f"{type(module).__name__}{next(_FRESH_IDS)}", (type(module),), {})
    return torch.jit.script(fresh)


@contextlib.contextmanager
def counting_graph_breaks() -> Iterator[Callable[[], dict[str, int]]]:
    """Yields a function giving dynamo's graph breaks so far (reason -> count) from its counters
    (``torch._dynamo.explain`` misses them: dynamo skips the frames with the rnn)."""
    from torch._dynamo.utils import counters
    counters.clear()
    try:
        yield lambda: dict(counters["graph_break"])
    finally:
        counters.clear()


def allow_rnn() -> contextlib.AbstractContextManager:
    """The switch dynamo's "Attempted to wrap RNN, GRU, or LSTM" error points to."""
    return torch._dynamo.config.patch(allow_rnn=True)


def while_loop_rnn_missing() -> ImportError | None:
    """Why ``rnn_while_loop_decomposition`` (a private module) is not there, or None."""
    try:
        importlib.import_module("torch.export._patches")
    except ImportError as err:
        return err
    return None


@contextlib.contextmanager
def rnn_while_loop_decomposition() -> Iterator[None]:
    """Export LSTM/GRU as a while loop over time: T stays dynamic (torch.onnx uses it; private)."""
    patches = importlib.import_module("torch.export._patches")
    with (patches.register_lstm_while_loop_decomposition(),
          patches.register_gru_while_loop_decomposition()):
        yield


def clear_rnn_dispatch_caches() -> None:
    """Forget which kernel each rnn op dispatched to: torch.export._patches swaps the kernel
    without clearing ``op._dispatch_cache``, so a check would depend on the exports before it."""
    for packet in (torch.ops.aten.lstm, torch.ops.aten.gru, torch.ops.aten.rnn_tanh,
                   torch.ops.aten.rnn_relu):
        for overload in packet.overloads():
            cache = getattr(getattr(packet, overload), "_dispatch_cache", None)
            if cache is not None:
                cache.clear()


_ANSI = re.compile(r"\x1b\[[0-9;]*m|\[[0-9;]*m(?=\S)")  # dynamo colours its messages
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")  # memory addresses differ from run to run
_TORCH_LOGS_HINT = re.compile(r"\s*For more information, run with TORCH_LOGS=.*$")
#: TorchScript wraps the real error of a function it failed to compile after this line.
_SCRIPT_STACK = "The error stack is reproduced here:"
_SCRIPT_WHERE = re.compile(r"File \"[^\"]*/([^/\"]+)\", line \d+")
_SCRIPT_DEF = re.compile(r"def (\w+)\(")
#: export's "Constraints violated" names the dimension only further down.
_SPECIALIZED = re.compile(r"marked (\w+) as dynamic but your code specialized it to be a "
                          r"constant \((\d+)\)")


def first_error_line(error: BaseException, limit: int = 200) -> str:
    """``Type: first line`` of the innermost ``__cause__``, without colours or addresses; for
    TorchScript's wrapper, the reproduced error and its file and def; for export's "Constraints
    violated", which dimension was specialized to what."""
    while error.__cause__ is not None:
        error = error.__cause__
    text = _ADDRESS.sub("0x...", _ANSI.sub("", str(error))).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[0] if lines else ""
    after = lines[lines.index(_SCRIPT_STACK) + 1:] if _SCRIPT_STACK in lines else []
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
