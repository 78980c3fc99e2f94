"""A user's own last-state function, ``fn(rnn, x, lengths) -> (fwd, bwd)``: loaded from a spec
(``mypkg.mymodule:fn`` or ``path/to/file.py:fn``) and probed once on a tiny workload, so that a
broken one is refused with a ValueError naming the spec and the problem BEFORE any check or
timing starts. A function that runs but is wrong on some conditions is a verdict
(``birnn_bench.function_check``), never an error here."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import torch

from birnn_bench._rnn import out_size
from birnn_bench.strategies import STRATEGIES, StateFunction, Strategy
from birnn_bench.workload import WorkloadSpec, build

#: The probe: an ordinary small workload (LSTM, one layer, a padded batch in unsorted order).
#: input_size > hidden_size, so a slice of x could have the expected shape and only the alias
#: check catches it.
PROBE = WorkloadSpec(cell="lstm", num_layers=1, input_size=7, hidden_size=4, batch=3,
                     max_len=5, lengths="unsorted", layout="batch_first", dtype="float32")
SPEC_FORMS = "MODULE:FUNCTION or FILE.py:FUNCTION"


def is_function_spec(text: str) -> bool:
    """A registry name never holds a colon; a user's function spec always does."""
    return ":" in text


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__


@contextmanager
def _on_sys_path(folder: str) -> Iterator[None]:
    """``folder`` first on sys.path while the user's code is imported (as ``python -m`` and
    ``python file.py`` would have it), removed afterwards."""
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        if sys.path and sys.path[0] == folder:
            del sys.path[0]
        elif folder in sys.path:
            sys.path.remove(folder)


def _import_file(spec: str, path: Path) -> ModuleType:
    if not path.is_file():
        raise ValueError(f"{spec!r}: no such file {str(path)!r}" if not path.exists()
                         else f"{spec!r}: {str(path)!r} is not a file")
    resolved = path.resolve()
    # A module name unique per file and version: two users' files called model.py do not
    # collide, a second function of one file reuses its import, an edited file is read again.
    stat = resolved.stat()
    key = f"{resolved}\0{stat.st_mtime_ns}\0{stat.st_size}"
    name = (f"birnn_bench_user_{re.sub(r'[^0-9A-Za-z_]', '_', resolved.stem)}_"
            f"{hashlib.sha1(key.encode()).hexdigest()[:12]}")
    if name in sys.modules:
        return sys.modules[name]
    found = importlib.util.spec_from_file_location(name, resolved)
    if found is None or found.loader is None:
        raise ValueError(f"{spec!r}: {str(path)!r} cannot be imported as Python")
    module = importlib.util.module_from_spec(found)
    sys.modules[name] = module  # dataclasses and pickling look their module up by name
    try:
        with _on_sys_path(str(resolved.parent)):
            found.loader.exec_module(module)
    except (Exception, SystemExit) as err:  # the user's code: anything it raises is reported
        del sys.modules[name]
        raise ValueError(f"{spec!r}: importing {str(path)!r} raised {_first_line(err)}") from None
    return module


def _import_module(spec: str, name: str) -> ModuleType:
    if not all(part.isidentifier() for part in name.split(".")):
        raise ValueError(f"{spec!r}: {name!r} is neither a module name nor a .py file; "
                         f"expected {SPEC_FORMS}")
    try:
        with _on_sys_path(os.getcwd()):
            return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name is not None and (name == err.name or name.startswith(err.name + ".")):
            raise ValueError(f"{spec!r}: no such module {name!r} (looked in the current "
                             "directory and sys.path)") from None
        raise ValueError(f"{spec!r}: importing {name!r} raised {_first_line(err)}") from None
    except (Exception, SystemExit) as err:
        raise ValueError(f"{spec!r}: importing {name!r} raised {_first_line(err)}") from None


def load_function(spec: str) -> Callable:
    """The callable ``spec`` names (``module:attr`` or ``file.py:attr``, ``attr`` may be dotted);
    ValueError naming the spec when there is no such module, file or attribute, or it is not
    callable. Not yet probed: see ``validate_function``."""
    source, _, attribute = spec.rpartition(":")
    if not source or not attribute:
        raise ValueError(f"{spec!r}: expected {SPEC_FORMS}")
    is_file = source.endswith(".py") or "/" in source or os.sep in source
    module = _import_file(spec, Path(source)) if is_file else _import_module(spec, source)
    value: object = module
    for part in attribute.split("."):
        if not hasattr(value, part):
            defined = sorted(n for n, v in vars(module).items()
                             if callable(v) and not n.startswith("_")
                             and getattr(v, "__module__", None) == module.__name__)
            listing = f" (it defines: {', '.join(defined)})" if defined else ""
            raise ValueError(f"{spec!r}: {source!r} has no function {attribute!r}{listing}")
        value = getattr(value, part)
    if not callable(value):
        raise ValueError(f"{spec!r}: {attribute!r} is of type {type(value).__name__}, not "
                         "callable; expected a function fn(rnn, x, lengths) -> (fwd, bwd)")
    return value


def _describe(value: object) -> str:
    if isinstance(value, tuple):
        return f"a tuple of {len(value)} ({', '.join(type(v).__name__ for v in value)})"
    if isinstance(value, torch.Tensor):
        return f"one Tensor of shape {tuple(value.shape)}"
    return f"a {type(value).__name__}"


def _shares_storage(tensor: torch.Tensor, other: torch.Tensor) -> bool:
    try:
        return tensor.untyped_storage().data_ptr() == other.untyped_storage().data_ptr()
    except RuntimeError:  # a tensor without storage (sparse, meta) aliases nothing
        return False


def validate_function(fn: Callable, name: str, device: str = "cpu") -> StateFunction:
    """Calls ``fn`` once on ``PROBE`` (on ``device``) and refuses, with a ValueError naming
    ``name``, a function that raises there, changes x or lengths in place, or does not return a
    tuple ``(fwd, bwd)`` of two (B, H_out) tensors of x's dtype and device that are not x itself
    (sharing x's storage: a slice or view of the input). Returns ``fn``."""
    if not callable(fn):
        raise ValueError(f"{name!r}: of type {type(fn).__name__}, not callable; expected a "
                         "function fn(rnn, x, lengths) -> (fwd, bwd)")
    probe = PROBE.with_(device=device)
    rnn, x, lengths = build(probe)
    where = (f"on the probe workload ({probe.cell}, {probe.num_layers} layer, "
             f"{probe.layout}, {probe.dtype} on {device}, batch {probe.batch}, "
             f"T {probe.max_len}, lengths {lengths.tolist()})")
    x_before, lengths_before = x.clone(), lengths.clone()
    try:
        with torch.no_grad():
            result = fn(rnn, x, lengths)
    except (Exception, SystemExit) as err:
        raise ValueError(f"{name!r}: raised {_first_line(err)} {where}") from None
    for argument, now, before in (("x", x, x_before), ("lengths", lengths, lengths_before)):
        if not torch.equal(now, before):
            raise ValueError(f"{name!r}: changed its input {argument} in place {where}; it must "
                             "leave x and lengths as they are")
    if not (isinstance(result, tuple) and len(result) == 2
            and all(isinstance(t, torch.Tensor) for t in result)):
        raise ValueError(f"{name!r}: returned {_describe(result)} {where}; expected a tuple "
                         "(fwd, bwd) of two tensors")
    expected = (probe.batch, out_size(rnn))
    for half, tensor in zip(("fwd", "bwd"), result, strict=True):
        if tuple(tensor.shape) != expected:
            raise ValueError(f"{name!r}: {half} has shape {tuple(tensor.shape)} {where}; "
                             f"expected {expected} = (batch, H_out)")
        if tensor.dtype != x.dtype:
            raise ValueError(f"{name!r}: {half} has dtype {tensor.dtype} {where}; expected "
                             f"{x.dtype}, x's dtype")
        if tensor.device != x.device:
            raise ValueError(f"{name!r}: {half} is on {tensor.device} {where}; expected "
                             f"{x.device}, x's device")
        if _shares_storage(tensor, x):
            raise ValueError(f"{name!r}: {half} shares x's storage (a view of the input) "
                             f"{where}; expected the rnn's states, a tensor of its own")
    return fn


def resolve(names: Sequence[str], device: str = "cpu") -> dict[str, StateFunction]:
    """Each of ``names``, in order: a registry ``Strategy`` by name, or a user's function loaded
    from its spec and probed on ``device`` (``load_function``, ``validate_function``). Every
    failure a ValueError naming the spec and the problem."""
    resolved: dict[str, StateFunction] = {}
    for name in names:
        if is_function_spec(name):
            resolved[name] = validate_function(load_function(name), name, device)
        elif name in STRATEGIES:
            resolved[name] = STRATEGIES[name]
        else:
            raise ValueError(f"{name!r} is not one of {', '.join(STRATEGIES)}, nor "
                             f"{SPEC_FORMS}")
    return resolved


def user_functions(strategies: Mapping[str, StateFunction]) -> dict[str, StateFunction]:
    """The entries of ``strategies`` that are not registry strategies."""
    return {name: fn for name, fn in strategies.items() if not isinstance(fn, Strategy)}
