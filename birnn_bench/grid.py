"""The one place that defines parameter grids: the correctness matrix and the asv suite.

This module imports nothing from the package at import time: the asv suite loads THIS file from
the working tree by path, so every commit asv benchmarks gets the same grid, including commits
that predate it.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from birnn_bench.workload import WorkloadSpec

# ---------------------------------------------------------------------------------------------
# Correctness matrix: small shapes, every factor the thread's answers disagree on.

CHECK_CELLS = ("lstm", "gru", "rnn")
CHECK_PROJ_SIZE = 3  # LSTM only; H_out = 3 while c_n keeps hidden_size
CHECK_LAYERS = (1, 2, 3)
CHECK_LAYOUTS = ("batch_first", "time_first")
CHECK_LENGTHS = ("equal", "sorted", "unsorted", "short", "with_ones")
CHECK_DTYPES = ("float64", "float32")
CHECK_SHAPE = {"input_size": 5, "hidden_size": 8, "batch": 6, "max_len": 9}


def check_specs(
    cells: Sequence[str] = CHECK_CELLS,
    layers: Sequence[int] = CHECK_LAYERS,
    layouts: Sequence[str] = CHECK_LAYOUTS,
    lengths: Sequence[str] = CHECK_LENGTHS,
    dtypes: Sequence[str] = CHECK_DTYPES,
    device: str = "cpu",
    seed: int = 0,
    **shape: int,
) -> Iterator[WorkloadSpec]:
    """Every condition of the matrix; LSTM appears with and without a projection."""
    from birnn_bench.workload import WorkloadSpec

    sizes = {**CHECK_SHAPE, **shape}
    for cell, num_layers, layout, pattern, dtype in itertools.product(
        cells, layers, layouts, lengths, dtypes
    ):
        projections = (0, CHECK_PROJ_SIZE) if cell == "lstm" else (0,)
        for proj_size in projections:
            if proj_size >= sizes["hidden_size"]:
                continue
            yield WorkloadSpec(cell=cell, num_layers=num_layers, proj_size=proj_size,
                               layout=layout, lengths=pattern, dtype=dtype, device=device,
                               seed=seed, **sizes)


# ---------------------------------------------------------------------------------------------
# asv suite. Parameter names are part of the results format: the analysis reads them.

#: The strategies the suite measures, pitfalls included (a test keeps it equal to STRATEGIES).
BENCH_STRATEGIES = ("hn_index", "hn_first_layer", "last_step_naive", "chunk_view",
                    "packed_unpack", "padded_gather", "hn_padded", "manual_two_rnn")
BENCH_PARAM_NAMES = ("device", "cell", "batch", "max_len", "lengths", "hidden", "layers",
                     "dtype", "strategy")
FULL_GRID: dict[str, tuple] = {
    "device": ("cpu", "cuda"),
    "cell": ("lstm", "gru"),
    "batch": (1, 16, 64, 256),
    "max_len": (32, 128, 512),
    "lengths": ("equal", "uniform", "skewed"),
    "hidden": (128, 512),
    "layers": (1, 2),
    "dtype": ("float32", "float16", "bfloat16"),
}
#: A CPU run of the whole suite on a 2-core machine stays well under 15 minutes with this one.
QUICK_GRID: dict[str, tuple] = {
    "device": ("cpu", "cuda"),
    "cell": ("lstm", "gru"),
    "batch": (1, 64),
    "max_len": (32,),
    "lengths": ("equal", "skewed"),
    "hidden": (128,),
    "layers": (1, 2),
    "dtype": ("float32", "bfloat16"),
}
#: One point per device: what CI runs for real, end to end through asv and the analysis.
SMOKE_GRID: dict[str, tuple] = {
    "device": ("cpu", "cuda"),
    "cell": ("lstm",),
    "batch": (4,),
    "max_len": (8,),
    "lengths": ("skewed",),
    "hidden": (16,),
    "layers": (2,),
    "dtype": ("float32",),
}
GRIDS = {"quick": QUICK_GRID, "full": FULL_GRID, "smoke": SMOKE_GRID}
#: Timing benchmarks run in this many processes (asv "rounds", interleaved with the other
#: benchmarks), each taking SAMPLES_PER_ROUND samples. The analysis splits samples the same way:
#: a difference between strategies counts only if every round reproduces it (a whole process can
#: land on a slow CPU of a shared machine). Three, not four: with four, quick runs on the 2-core
#: box took 12.5 to 14.7 minutes against a 15-minute budget; with three, 11.4.
TIMING_ROUNDS = 3
SAMPLES_PER_ROUND = 5
GRID_ENV = "BIRNN_BENCH_GRID"
INPUT_SIZE = 64  # features per step in benchmark workloads
#: Low-precision dtypes are measured on CUDA only (CPU kernels for them are not what users run).
CUDA_ONLY_DTYPES = ("float16", "bfloat16")


def grid_name() -> str:
    name = os.environ.get(GRID_ENV, "quick")
    if name not in GRIDS:
        raise ValueError(f"{GRID_ENV}: expected one of {sorted(GRIDS)}, got {name!r}")
    return name


def bench_grid(name: str | None = None) -> dict[str, tuple]:
    """Parameter values by name, ``strategy`` included, in ``BENCH_PARAM_NAMES`` order."""
    return {**GRIDS[name or grid_name()], "strategy": BENCH_STRATEGIES}


def skip_reason(device: str, dtype: str, cuda_available: bool) -> str | None:
    """Why a combination is n/a on this machine, or None when it runs."""
    if device == "cuda" and not cuda_available:
        return "no CUDA device"
    if device == "cpu" and dtype in CUDA_ONLY_DTYPES:
        return f"{dtype} is measured on CUDA only"
    return None


def bench_spec(device: str, cell: str, batch: int, max_len: int, lengths: str, hidden: int,
               layers: int, dtype: str, seed: int = 0) -> WorkloadSpec:
    """The workload behind one point of the asv grid."""
    from birnn_bench.workload import WorkloadSpec

    return WorkloadSpec(cell=cell, num_layers=layers, input_size=INPUT_SIZE, hidden_size=hidden,
                        batch=batch, max_len=max_len, lengths=lengths, layout="batch_first",
                        dtype=dtype, device=device, seed=seed)
