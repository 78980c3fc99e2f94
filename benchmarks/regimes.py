"""The regimes the asv suite measures, with self-describing ids the analysis parses back
(``cpu-lstm-L2-B64-T128-H128-skewed-float32``). Grids (``BIRNN_BENCH_GRID``): ``quick`` (default),
``full`` (the product of ``FULL_AXES``), ``smoke`` (one tiny regime per device, what CI runs), on
the devices this torch build can use (``BIRNN_BENCH_DEVICES`` overrides)."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass

GRID_ENV = "BIRNN_BENCH_GRID"
DEVICES_ENV = "BIRNN_BENCH_DEVICES"
INPUT_SIZE = 64  # features per step
#: Low-precision dtypes are measured on CUDA only (CPU kernels for them are not what users run).
CUDA_ONLY_DTYPES = ("float16", "bfloat16")


@dataclass(frozen=True)
class Regime:
    name: str
    device: str
    cell: str
    layers: int
    batch: int
    max_len: int
    hidden: int
    lengths: str
    dtype: str
    train: bool = True  # whether the training step is measured in this regime

    @property
    def id(self) -> str:
        return (f"{self.device}-{self.cell}-L{self.layers}-B{self.batch}-T{self.max_len}"
                f"-H{self.hidden}-{self.lengths}-{self.dtype}")

    def spec(self, seed: int = 0):
        """The ``birnn_bench.workload.WorkloadSpec`` of this regime."""
        from birnn_bench.workload import WorkloadSpec

        return WorkloadSpec(cell=self.cell, num_layers=self.layers, input_size=INPUT_SIZE,
                            hidden_size=self.hidden, batch=self.batch, max_len=self.max_len,
                            lengths=self.lengths, layout="batch_first", dtype=self.dtype,
                            device=self.device, seed=seed)


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
        return Regime(self.name, device, cell, layers, self.batch, self.max_len, self.hidden,
                      self.lengths, dtype, train)


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
    return [Regime("full", device, **axis) for axis in axes
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
