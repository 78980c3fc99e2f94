"""The correctness matrix: every strategy against the oracle on every condition."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass

import torch

from birnn_bench._io import dataclass_csv
from birnn_bench.oracle import TOLERANCES, max_abs_error, oracle_last_states, tolerance
from birnn_bench.strategies import STRATEGIES, StateFunction
from birnn_bench.validate import validate_inputs
from birnn_bench.workload import WorkloadSpec, build

# Small shapes, every factor the thread's answers disagree on.
CHECK_CELLS = ("lstm", "gru", "rnn")
CHECK_PROJ_SIZE = 3  # LSTM only; H_out = 3 while c_n keeps hidden_size
CHECK_LAYERS = (1, 2, 3)
CHECK_LAYOUTS = ("batch_first", "time_first")
CHECK_LENGTHS = ("equal", "sorted", "unsorted", "short", "with_ones")
CHECK_DTYPES = ("float64", "float32")
CHECK_SHAPE = {"input_size": 5, "hidden_size": 8, "batch": 6, "max_len": 9}
#: The columns of a condition, in the order the matrix prints them.
CONDITION_FIELDS = ("cell", "num_layers", "proj_size", "layout", "lengths", "dtype")


def check_specs(cells: Sequence[str] = CHECK_CELLS, layers: Sequence[int] = CHECK_LAYERS,
                layouts: Sequence[str] = CHECK_LAYOUTS, lengths: Sequence[str] = CHECK_LENGTHS,
                dtypes: Sequence[str] = CHECK_DTYPES, device: str = "cpu", seed: int = 0,
                **shape: int) -> Iterator[WorkloadSpec]:
    """Every condition of the matrix; LSTM appears with and without a projection."""
    sizes = {**CHECK_SHAPE, **shape}
    for cell, num_layers, layout, pattern, dtype in itertools.product(cells, layers, layouts,
                                                                      lengths, dtypes):
        for proj_size in (0, CHECK_PROJ_SIZE) if cell == "lstm" else (0,):
            if proj_size < sizes["hidden_size"]:
                yield WorkloadSpec(cell=cell, num_layers=num_layers, proj_size=proj_size,
                                   layout=layout, lengths=pattern, dtype=dtype, device=device,
                                   seed=seed, **sizes)


@dataclass(frozen=True)
class CheckRow:
    """One cell of the matrix: a strategy on a condition."""

    strategy: str
    cell: str
    num_layers: int
    proj_size: int
    layout: str
    lengths: str
    dtype: str
    device: str
    batch: int
    max_len: int
    padded: bool
    fwd_error: float
    bwd_error: float
    max_abs_error: float
    tolerance: float
    fwd_ok: bool
    bwd_ok: bool
    passed: bool
    error: str = ""

    def condition(self) -> tuple:
        return tuple(getattr(self, name) for name in CONDITION_FIELDS)


def check_spec(spec: WorkloadSpec,
               strategies: Mapping[str, StateFunction] = STRATEGIES) -> list[CheckRow]:
    """Builds the workload of ``spec`` and checks each strategy (a registry ``Strategy`` or a
    user's function, anything called as ``fn(rnn, x, lengths)``) on it."""
    workload = build(spec)
    rnn, x, lengths = validate_inputs(*workload)
    truth = oracle_last_states(rnn, x, lengths)
    tol = tolerance(x.dtype)
    rows = []
    for name, strategy in strategies.items():
        fwd_err, bwd_err, failure = float("inf"), float("inf"), ""
        try:
            with torch.no_grad():
                fwd, bwd = strategy(*workload)
        except Exception as err:  # a strategy that crashes on a condition fails it, loudly
            failure = f"{type(err).__name__}: {err}".splitlines()[0]
        else:
            shapes = [tuple(getattr(t, "shape", ())) for t in (fwd, bwd)]
            wanted = [tuple(t.shape) for t in truth]
            if shapes != wanted:  # e.g. hidden_size wide where proj_size sets the width
                failure = f"returned shapes {shapes}, expected {wanted}"
            else:
                fwd_err, bwd_err = max_abs_error(fwd, truth[0]), max_abs_error(bwd, truth[1])
        rows.append(CheckRow(
            strategy=name, cell=spec.cell, num_layers=spec.num_layers, proj_size=spec.proj_size,
            layout=spec.layout, lengths=spec.lengths, dtype=spec.dtype, device=spec.device,
            batch=spec.batch, max_len=spec.max_len, padded=bool((lengths < spec.max_len).any()),
            fwd_error=fwd_err, bwd_error=bwd_err, max_abs_error=max(fwd_err, bwd_err),
            tolerance=tol, fwd_ok=fwd_err <= tol, bwd_ok=bwd_err <= tol,
            passed=fwd_err <= tol and bwd_err <= tol, error=failure))
    return rows


def run_check(specs: Iterable[WorkloadSpec],
              strategies: Mapping[str, StateFunction] = STRATEGIES,
              progress: Callable[[int, WorkloadSpec], None] | None = None) -> list[CheckRow]:
    rows: list[CheckRow] = []
    for done, spec in enumerate(specs, start=1):
        rows.extend(check_spec(spec, strategies))
        if progress is not None:
            progress(done, spec)
    return rows


def correct_everywhere(rows: Iterable[CheckRow]) -> list[str]:
    """Strategies that passed every condition they were checked on: the only ones recommended."""
    passed: dict[str, bool] = {}
    for row in rows:
        passed[row.strategy] = passed.get(row.strategy, True) and row.passed
    return [name for name, ok in passed.items() if ok]


def summarize(rows: list[CheckRow]) -> dict[str, dict]:
    """Per strategy: pass count, worst error when passing, and the factor values under which it
    fails every time (``always_fails``: "fails whenever num_layers=2") or never."""
    summary: dict[str, dict] = {}
    for name in dict.fromkeys(row.strategy for row in rows):
        mine = [row for row in rows if row.strategy == name]
        passed = [row for row in mine if row.passed]
        always, never = [], []
        if len(passed) not in (0, len(mine)):
            for field in (*CONDITION_FIELDS, "padded"):
                for value in dict.fromkeys(getattr(row, field) for row in mine):
                    outcomes = {row.passed for row in mine if getattr(row, field) == value}
                    if outcomes == {False}:
                        always.append(f"{field}={value}")
                    elif outcomes == {True}:
                        never.append(f"{field}={value}")
        summary[name] = {
            "passed": len(passed), "total": len(mine),
            "fwd_failed": sum(not row.fwd_ok for row in mine),
            "bwd_failed": sum(not row.bwd_ok for row in mine),
            "worst_passing_error": max((row.max_abs_error for row in passed), default=None),
            "smallest_failing_error": min(
                (row.max_abs_error for row in mine if not row.passed), default=None),
            "always_fails": always, "never_fails": never,
        }
    return summary


def format_cell(row: CheckRow) -> str:
    if row.error:
        return "FAIL raised"
    if row.passed:
        return f"ok {row.max_abs_error:.0e}"
    halves = ("f" if not row.fwd_ok else "") + ("b" if not row.bwd_ok else "")
    return f"FAIL.{halves} {row.max_abs_error:.0e}"


def format_matrix(rows: list[CheckRow]) -> str:
    """Conditions down, strategies across, each cell pass/fail with its max abs error."""
    names = list(dict.fromkeys(row.strategy for row in rows))
    table = {" ".join(CONDITION_FIELDS): {name: name for name in names}}  # the header first
    for row in rows:
        table.setdefault(" ".join(map(str, row.condition())), {})[row.strategy] = format_cell(row)
    label_width, width = max(map(len, table)), max(14, *map(len, names))
    lines = [label.ljust(label_width) + " | "
             + " ".join(cells.get(name, "n/a").ljust(width) for name in names)
             for label, cells in table.items()]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def format_summary(rows: list[CheckRow]) -> str:
    lines = ["Per strategy (a cell passes when both halves are within the dtype's tolerance):"]
    for name, info in summarize(rows).items():
        line = f"  {name:<16} {info['passed']:>4}/{info['total']:<4} pass"
        if info["passed"] < info["total"]:
            line += f"  (fwd wrong in {info['fwd_failed']}, bwd wrong in {info['bwd_failed']})"
            if info["always_fails"]:
                line += "; fails whenever " + ", ".join(info["always_fails"])
            if info["never_fails"]:
                line += "; never fails with " + ", ".join(info["never_fails"])
        lines.append(line)
    return "\n".join(lines)


def format_tolerances(dtypes: Iterable[str]) -> str:
    parts = [f"{name} {TOLERANCES[getattr(torch, name)]:.0e}" for name in dict.fromkeys(dtypes)]
    return "Tolerance (max abs error against the float64 oracle): " + ", ".join(parts)


def _finite(values: dict) -> dict:
    """Infinite errors (a strategy that raised) as None: strict JSON has no Infinity."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in values.items()}


def to_json(rows: list[CheckRow]) -> str:
    return json.dumps({
        "torch": torch.__version__,
        "tolerances": {str(k).replace("torch.", ""): v for k, v in TOLERANCES.items()},
        "rows": [_finite(asdict(row)) for row in rows],
        "summary": {name: _finite(info) for name, info in summarize(rows).items()},
    }, indent=2, default=str, allow_nan=False)


def to_csv(rows: list[CheckRow]) -> str:
    return dataclass_csv(rows, CheckRow)
