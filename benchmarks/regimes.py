"""The regimes the asv suite measures, and THE vocabulary of a regime: its fields and its
self-describing id (``cpu-lstm-L2-B64-T128-H128-skewed-float32``), built by ``Regime.id`` and
read back by ``Regime.parse`` (the analysis, the tables and scripts import both from here).
Grids (``BIRNN_BENCH_GRID``): ``quick`` (default), ``full`` (the product of ``FULL_AXES``),
``smoke`` (one tiny regime per device, what CI runs), on the devices this torch build can use
(``BIRNN_BENCH_DEVICES`` overrides). Standard library only at import: asv imports this file
beside old commits of the package, and the analysis without torch."""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
from dataclasses import dataclass
from typing import Any, ClassVar

GRID_ENV = "BIRNN_BENCH_GRID"
DEVICES_ENV = "BIRNN_BENCH_DEVICES"
INPUT_SIZE = 64  # features per step
#: Low-precision dtypes are measured on CUDA only (CPU kernels for them are not what users run).
CUDA_ONLY_DTYPES = ("float16", "bfloat16")
_WORD = r"[A-Za-z][A-Za-z0-9_]*"
_INT = r"[1-9][0-9]*"


def _in_id(letter: str = "", pattern: str = _WORD) -> Any:
    """A field of the id: written as ``letter`` + value, the value matching ``pattern``."""
    return dataclasses.field(metadata={"letter": letter, "pattern": pattern})


@dataclass(frozen=True)
class Regime:
    """One workload of the suite. The fields made with ``_in_id`` are its id, in their order
    (``FIELDS``); a new axis is one more such field here."""

    device: str = _in_id()
    cell: str = _in_id()
    layers: int = _in_id("L", _INT)
    batch: int = _in_id("B", _INT)
    max_len: int = _in_id("T", _INT)
    hidden: int = _in_id("H", _INT)
    #: a distribution, or ``file:<path>`` (dashes allowed: the fields after it have none)
    lengths: str = _in_id(pattern=r"[A-Za-z0-9_.:]+(?:-[A-Za-z0-9_.:]+)*")
    dtype: str = _in_id()
    name: str = ""  # the shape it comes from (not in the id)
    train: bool = True  # whether the training step is measured in this regime (not in the id)

    #: The id's fields, in its order; ``INTS``: those holding whole numbers; ``FORMAT``: the id
    #: spelled with the field names (``<device>-<cell>-L<layers>-...``).
    FIELDS: ClassVar[tuple[str, ...]]
    INTS: ClassVar[tuple[str, ...]]
    FORMAT: ClassVar[str]
    EXAMPLE: ClassVar[str] = "cpu-lstm-L2-B64-T128-H128-skewed-float32"
    _PATTERN: ClassVar[re.Pattern[str]]

    @property
    def id(self) -> str:
        return "-".join(f"{letter}{getattr(self, name)}" for name, letter in _LETTERS.items())

    @classmethod
    def parse(cls, text: Any) -> Regime:
        """The regime an id names (ints as ints; ``name`` empty, ``train`` True); ValueError
        when ``text`` is not an id."""
        match = cls._PATTERN.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"{text!r} is not a regime id (expected {cls.FORMAT}, e.g. "
                             f"{cls.EXAMPLE})")
        return cls(**{name: int(match[name]) if name in cls.INTS else match[name]
                      for name in cls.FIELDS})

    def fields(self) -> dict[str, Any]:
        """The id's fields and their values, in the id's order."""
        return {name: getattr(self, name) for name in self.FIELDS}

    def spec(self, seed: int = 0):
        """The ``birnn_bench.workload.WorkloadSpec`` of this regime."""
        from birnn_bench.workload import WorkloadSpec

        return WorkloadSpec(cell=self.cell, num_layers=self.layers, input_size=INPUT_SIZE,
                            hidden_size=self.hidden, batch=self.batch, max_len=self.max_len,
                            lengths=self.lengths, layout="batch_first", dtype=self.dtype,
                            device=self.device, seed=seed)


_ID = [f for f in dataclasses.fields(Regime) if "letter" in f.metadata]
_LETTERS = {f.name: f.metadata["letter"] for f in _ID}
Regime.FIELDS = tuple(_LETTERS)
Regime.INTS = tuple(f.name for f in _ID if f.metadata["pattern"] == _INT)
Regime.FORMAT = "-".join(f"{letter}<{name}>" for name, letter in _LETTERS.items())
Regime._PATTERN = re.compile("-".join(
    f"{f.metadata['letter']}(?P<{f.name}>{f.metadata['pattern']})" for f in _ID))


@dataclass(frozen=True)
class Shape:
    name: str
    batch: int
    max_len: int
    hidden: int
    lengths: str
    cpu_train: bool  # a quick CPU run can afford the training step here
    cuda_only: bool = False

    def regime(self, device: str, cell: str, layers: int, dtype: str = "float32",
               train: bool = True) -> Regime:
        return Regime(device, cell, layers, self.batch, self.max_len, self.hidden,
                      self.lengths, dtype, name=self.name, train=train)


#: What users run, and where strategies part ways. Training steps of the T>=128 shapes cost 2-28 s
#: per round on one CPU thread: quick CPU runs time their inference only.
QUICK_SHAPES = (
    Shape("latency", batch=1, max_len=32, hidden=128, lengths="equal", cpu_train=True),
    Shape("batch_equal", batch=64, max_len=32, hidden=128, lengths="equal", cpu_train=True),
    Shape("batch_skewed", batch=64, max_len=128, hidden=128, lengths="skewed", cpu_train=False),
    Shape("long_skewed", batch=16, max_len=512, hidden=128, lengths="skewed", cpu_train=False),
    Shape("wide", batch=256, max_len=128, hidden=512, lengths="skewed", cpu_train=False,
          cuda_only=True),
)
QUICK_CELLS = ("lstm", "gru")
QUICK_LAYERS = (1, 2)
FULL_AXES: dict[str, tuple] = {  # Regime field -> values, in the grid's order
    "cell": ("lstm", "gru"), "batch": (1, 16, 64, 256), "max_len": (32, 128, 512),
    "lengths": ("equal", "uniform", "skewed"), "hidden": (128, 512), "layers": (1, 2),
    "dtype": ("float32", "float16", "bfloat16"),
}
SMOKE = Shape("smoke", batch=4, max_len=8, hidden=16, lengths="skewed", cpu_train=True)


def devices() -> tuple[str, ...]:
    """cpu, plus cuda on a CUDA build of torch. Asks the build, not the driver: initialising
    CUDA here would break every child asv's forkserver forks from this process."""
    text = os.environ.get(DEVICES_ENV)
    if text:
        chosen = tuple(d for d in text.split(",") if d)
        if not chosen or not set(chosen) <= {"cpu", "cuda"}:
            raise ValueError(f"{DEVICES_ENV}: expected a comma-separated subset of cpu,cuda, "
                             f"got {text!r}")
        return chosen
    import torch

    return ("cpu", "cuda") if torch.version.cuda else ("cpu",)


def grid_name() -> str:
    name = os.environ.get(GRID_ENV, "quick")
    if name not in ("quick", "full", "smoke"):
        raise ValueError(f"{GRID_ENV}: expected one of full, quick, smoke, got {name!r}")
    return name


def _quick(device: str) -> list[Regime]:
    dtypes = ("float32", "bfloat16") if device == "cuda" else ("float32",)
    return [shape.regime(device, cell, layers, dtype, train=shape.cpu_train or device == "cuda")
            for shape, cell, layers, dtype in itertools.product(QUICK_SHAPES, QUICK_CELLS,
                                                                QUICK_LAYERS, dtypes)
            if device == "cuda" or not shape.cuda_only]


def _full(device: str) -> list[Regime]:
    axes = (dict(zip(FULL_AXES, values, strict=True))
            for values in itertools.product(*FULL_AXES.values()))
    return [Regime(device, **axis, name="full") for axis in axes
            if device != "cpu" or axis["dtype"] not in CUDA_ONLY_DTYPES]


def _smoke(device: str) -> list[Regime]:
    return [SMOKE.regime(device, "lstm", 2)]


def regimes(name: str | None = None, on: tuple[str, ...] | None = None) -> list[Regime]:
    """The regimes of grid ``name`` (default: ``BIRNN_BENCH_GRID``) on devices ``on``."""
    build = {"quick": _quick, "full": _full, "smoke": _smoke}[name or grid_name()]
    return [regime for device in (on or devices()) for regime in build(device)]


def by_id(name: str | None = None, on: tuple[str, ...] | None = None) -> dict[str, Regime]:
    return {regime.id: regime for regime in regimes(name, on)}


#: Where instructions are counted (under valgrind, CPU): small, since a forward costs valgrind
#: ~50x its native time and each new oneDNN kernel a minute or so to translate. Skewed lengths,
#: where packing and padding differ. Every strategy on both: about 4 minutes on one core here.
COUNTED = Shape("counted", batch=16, max_len=32, hidden=32, lengths="skewed", cpu_train=False)
INSTRUCTION_CELLS = (("lstm", 2), ("gru", 1))


def instruction_regimes(name: str | None = None) -> dict[str, Regime]:
    """The CPU regimes of ``instructions.Instructions``: the smoke regime on the smoke grid,
    else ``COUNTED`` for ``INSTRUCTION_CELLS``."""
    found = _smoke("cpu") if (name or grid_name()) == "smoke" else [
        COUNTED.regime("cpu", cell, layers, train=False) for cell, layers in INSTRUCTION_CELLS]
    return {regime.id: regime for regime in found}
