"""Deterministic workloads: (rnn, x, lengths) from a small spec. Padding holds loud random values
(|v| around ``PADDING_SCALE``), so a strategy that reads padding shows it in its error."""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from birnn_bench import memory

Tensor = torch.Tensor

CELLS: dict[str, type[nn.RNNBase]] = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
LAYOUTS = ("batch_first", "time_first")
DTYPES: dict[str, torch.dtype] = {name: getattr(torch, name)
                                  for name in ("float64", "float32", "float16", "bfloat16")}
#: Length distributions for benchmarks (``equal``, ``uniform``, ``skewed``) and the patterns the
#: correctness matrix needs; ``file:PATH`` reads a user's lengths.
LENGTH_PATTERNS = ("equal", "uniform", "skewed", "sorted", "unsorted", "short", "with_ones")
PADDING_SCALE = 100.0


class Workload(NamedTuple):
    rnn: nn.RNNBase
    x: Tensor
    lengths: Tensor


@dataclass(frozen=True)
class WorkloadSpec:
    """Everything that decides a workload; equal specs build identical tensors."""

    cell: str = "lstm"
    num_layers: int = 1
    input_size: int = 16
    hidden_size: int = 32
    proj_size: int = 0
    batch: int = 8
    max_len: int = 16
    lengths: str = "uniform"
    layout: str = "batch_first"
    dtype: str = "float32"
    device: str = "cpu"
    seed: int = 0

    def __post_init__(self) -> None:
        _check_choice("cell", self.cell, CELLS)
        _check_choice("layout", self.layout, LAYOUTS)
        _check_choice("dtype", self.dtype, DTYPES)
        for name in ("num_layers", "input_size", "hidden_size", "batch", "max_len"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")
        if self.proj_size < 0 or (self.proj_size > 0 and self.cell != "lstm"):
            raise ValueError(f"proj_size: must be 0, or > 0 for an lstm only; got "
                             f"{self.proj_size!r} for cell={self.cell!r}")
        if self.proj_size >= self.hidden_size:
            raise ValueError(f"proj_size: must be smaller than hidden_size={self.hidden_size}, "
                             f"got {self.proj_size}")
        if not self.lengths.startswith("file:"):
            _check_choice("lengths", self.lengths, LENGTH_PATTERNS)

    @property
    def batch_first(self) -> bool:
        return self.layout == "batch_first"

    @property
    def torch_dtype(self) -> torch.dtype:
        return DTYPES[self.dtype]

    def with_(self, **changes: object) -> WorkloadSpec:
        return replace(self, **changes)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _check_choice(name: str, value: str, choices: object) -> None:
    if value not in choices:  # type: ignore[operator]
        raise ValueError(f"{name}: expected one of {sorted(choices)}, got {value!r}")  # type: ignore[call-overload]


#: A lengths file holds one integer per sequence: anything larger is not one (``/dev/zero``).
MAX_LENGTHS_FILE_BYTES = 10 * 1024 * 1024


def read_lengths_file(path: str | Path) -> list[int]:
    """Integers >= 1 separated by whitespace or commas. At most ``MAX_LENGTHS_FILE_BYTES`` are
    read (a device or a huge file is refused, not loaded); each failure a ValueError naming it."""
    path = Path(path)
    where = f"lengths file {str(path)!r}"
    try:
        # Opened without waiting for a writer (a named pipe nobody writes to would block the
        # open forever), then read as usual: no writer reads as empty, a writer is waited for.
        with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as stream:
            os.set_blocking(stream.fileno(), True)
            data = stream.read(MAX_LENGTHS_FILE_BYTES + 1)
    except OSError as err:
        raise ValueError(f"{where}: cannot be read ({err.strerror or err})") from err
    if len(data) > MAX_LENGTHS_FILE_BYTES:
        bound = MAX_LENGTHS_FILE_BYTES
        size = f"{bound // 2**20} MB" if bound % 2**20 == 0 else f"{bound} bytes"
        raise ValueError(f"{where}: larger than {size}, not a file of lengths; expected a text "
                         "file of integer lengths, one per sequence")
    expected = "expected integer lengths separated by whitespace or commas"
    nul = data.find(b"\0")
    if nul >= 0:
        raise ValueError(f"{where}: not a text file (a NUL byte at offset {nul}); {expected}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{where}: not a text file (byte 0x{data[err.start]:02x} at offset "
                         f"{err.start} is not UTF-8); {expected}") from None
    values = []
    for token in filter(None, re.split(r"[\s,]+", text)):
        shown = token if len(token) <= 40 else token[:40] + "..."
        if not re.fullmatch(r"[+-]?[0-9]+", token):
            raise ValueError(f"{where}: {shown!r} is not an integer")
        digits = token.lstrip("+-").lstrip("0")
        if token.startswith("-") or not digits:
            raise ValueError(f"{where}: length {shown} is < 1; every sequence needs at least "
                             "one step")
        if len(digits) > 18:
            raise ValueError(f"{where}: {shown!r} is too large for a sequence length")
        values.append(int(digits))
    if not values:
        raise ValueError(f"{where}: holds no lengths")
    return values


def make_lengths(pattern: str, batch: int, max_len: int, generator: torch.Generator) -> Tensor:
    """B lengths in [1, max_len] following ``pattern`` (see ``LENGTH_PATTERNS``)."""
    if pattern.startswith("file:"):
        values = read_lengths_file(pattern[len("file:"):])
        longest = max(values)
        if longest > max_len:
            raise ValueError(f"lengths file {pattern[5:]!r}: holds length {longest}, longer "
                             f"than max_len={max_len} (entry {values.index(longest)})")
        pool = torch.tensor(values, dtype=torch.int64)
        return pool[torch.randint(len(pool), (batch,), generator=generator)]
    if pattern == "equal":
        return torch.full((batch,), max_len, dtype=torch.int64)
    if pattern == "uniform":
        lengths = torch.randint(1, max_len + 1, (batch,), generator=generator)
    elif pattern == "skewed":
        # Long-tailed like real text: most sequences short, a few near max_len.
        u = torch.rand(batch, generator=generator, dtype=torch.float64)
        lengths = torch.ceil(max_len * u**3).clamp(1, max_len).to(torch.int64)
    elif pattern in ("sorted", "unsorted"):
        lengths = torch.linspace(max_len, 1, batch).round().to(torch.int64).clamp(1, max_len)
        if pattern == "unsorted":
            lengths = lengths[torch.randperm(batch, generator=generator)]
        return lengths
    elif pattern == "short":
        # max(lengths) < T: pad_packed_sequence then returns fewer steps than x has.
        upper = max(max_len - 1, 1)
        return torch.randint(1, upper + 1, (batch,), generator=generator)
    elif pattern == "with_ones":
        lengths = torch.randint(1, max_len + 1, (batch,), generator=generator)
        lengths[::2] = 1
    else:
        raise ValueError(f"lengths: expected one of {LENGTH_PATTERNS} or 'file:PATH', "
                         f"got {pattern!r}")
    # Keep T meaningful: the longest sequence fills the batch unless the pattern says otherwise.
    lengths[torch.randint(batch, (1,), generator=generator)] = max_len
    return lengths


GATES = {"lstm": 4, "gru": 3, "rnn": 1}
#: Below this an estimate is not held against the machine (no file read on every small build).
SMALL_BYTES = 64 * 2**20


class Footprint(NamedTuple):
    """Estimated peak bytes of running a workload: in host memory and on its accelerator (0 on
    the CPU, where everything is host memory), each with the phase that peaks."""

    host: int
    host_phase: str
    device: int = 0
    device_phase: str = ""

    @property
    def total(self) -> int:
        return self.host + self.device


def footprint(spec: WorkloadSpec, *, train: bool = False, oracle: bool = False,
              build_only: bool = False) -> Footprint:
    """The peak memory of ``spec``'s workload, from its sizes alone (Python ints: no overflow,
    no allocation): building x (float64 scratch on the host), a forward of any strategy, a
    training step (``train``), the float64 oracle (``oracle``, on the host); ``build_only``:
    building alone. Calibrated against the peak RSS of the CPU (LSTM 2 layers B64 T512 H256
    float32; GRU 3 layers B128 T256 H128 float64): 1% to 47% above it, so it tells a
    workload that cannot fit from one that can, not one byte from the next."""
    steps, batch, features = spec.max_len, spec.batch, spec.input_size
    hidden, out, gates = spec.hidden_size, spec.proj_size or spec.hidden_size, GATES[spec.cell]
    size = spec.torch_dtype.itemsize
    def per_layer(inputs: int) -> int:  # both directions: weights, biases, projection
        return 2 * (gates * hidden * (inputs + out + 2) + (hidden * out if spec.proj_size else 0))

    params = per_layer(features) + (spec.num_layers - 1) * per_layer(2 * out)
    x_elements = steps * batch * features
    x, weights = x_elements * size, params * size
    # One layer's gate pre-activations and its output, both directions: what a forward holds.
    layer = steps * batch * (2 * gates * hidden + 2 * out)
    on_host = torch.device(spec.device).type == "cpu"
    host = [("building x in float64", 5 * x_elements * 8 + (x + weights) * on_host)]
    device = [("holding x and the rnn", x + weights)]
    if not build_only:
        device.append(("a forward", x + weights + int(1.8 * layer * size) + x_elements * size))
        if train:
            device.append(("a training step", x + weights + x_elements * size
                           + int(2.75 * spec.num_layers * layer * size)))
        if oracle:
            host.append(("the float64 oracle", params * 8 + 2 * x_elements * 8
                         + int(1.8 * layer * 8) + (x + weights) * on_host))
    if on_host:
        host += device
        device = []
    host_phase, host_bytes = max(host, key=lambda phase: phase[1])
    if not device:
        return Footprint(host_bytes, host_phase)
    device_phase, device_bytes = max(device, key=lambda phase: phase[1])
    return Footprint(host_bytes, host_phase, device_bytes, device_phase)


def too_large(needed: Footprint, device: str) -> str | None:
    """Why ``needed`` cannot fit in what this machine has free now (host, then ``device``), or
    None (also when the machine tells nothing)."""
    if needed.total < SMALL_BYTES:
        return None
    checks = [(needed.host, needed.host_phase, memory.host_available)]
    if needed.device:
        checks.append((needed.device, needed.device_phase,
                       lambda: memory.device_available(device)))
    for bytes_needed, phase, available in checks:
        free, source = available()
        if free is not None and bytes_needed > free:
            return (f"needs about {memory.format_bytes(bytes_needed)} at its peak ({phase}), "
                    f"more than the {memory.format_bytes(free)} available ({source})")
    return None


def fill(pattern: str, batch: int, max_len: int, seed: int = 0) -> float:
    """The share of the padded batch that is real tokens, sum(lengths) / (batch x max_len), of
    the batch ``build`` draws for these values (its lengths come first from the seeded
    generator): what a fused kernel over the real tokens only would cost, relative to padding."""
    lengths = make_lengths(pattern, batch, max_len, torch.Generator().manual_seed(seed))
    return float(lengths.sum()) / (batch * max_len)


def build(spec: WorkloadSpec) -> Workload:
    """The rnn (eval mode), the padded x in the rnn's layout, and CPU int64 lengths. A workload
    whose x and rnn cannot fit the free memory is refused (ValueError) before allocating."""
    why = too_large(footprint(spec, build_only=True), spec.device)
    if why is not None:
        raise ValueError(f"batch={spec.batch}, max_len={spec.max_len}, input_size="
                         f"{spec.input_size}, hidden_size={spec.hidden_size}, num_layers="
                         f"{spec.num_layers}: building this workload {why}")
    generator = torch.Generator().manual_seed(spec.seed)
    kwargs: dict[str, object] = {"num_layers": spec.num_layers, "bidirectional": True,
                                 "batch_first": spec.batch_first}
    if spec.proj_size:
        kwargs["proj_size"] = spec.proj_size
    # nn.Module init draws from the global generator: seed it without leaking the change.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        rnn = CELLS[spec.cell](spec.input_size, spec.hidden_size, **kwargs)
    rnn = rnn.to(device=spec.device, dtype=spec.torch_dtype).eval()

    lengths = make_lengths(spec.lengths, spec.batch, spec.max_len, generator)
    shape = (spec.max_len, spec.batch, spec.input_size)
    values = torch.randn(shape, generator=generator, dtype=torch.float64)
    loud = PADDING_SCALE * (1 + torch.rand(shape, generator=generator, dtype=torch.float64))
    loud = loud * torch.sign(torch.randn(shape, generator=generator, dtype=torch.float64))
    valid = torch.arange(spec.max_len).view(-1, 1, 1) < lengths.view(1, -1, 1)
    x = torch.where(valid, values, loud)
    if spec.batch_first:
        x = x.transpose(0, 1)
    x = x.contiguous().to(device=spec.device, dtype=spec.torch_dtype)
    return Workload(rnn, x, lengths)
