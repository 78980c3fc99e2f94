"""Is MY code right, and what does it cost? A user's own ``fn(rnn, x, lengths) -> (fwd, bwd)``
through the correctness matrix (``check_function``) and the paired engine
(``compare_function``), like any registered strategy.

A verdict is PASS only when both halves are within tolerance on every condition of the matrix.
A function that fails somewhere is compared with the registry's strategies that fail somewhere,
by the set of (condition, direction) cells where each is wrong on the same run of the matrix:
it *behaves like* a strategy when the two sets are equal (the same conditions, and on each the
same direction(s) wrong); it *fails within* one when its set is a strict subset of that
strategy's, and *fails beyond* one when it strictly contains it (the closest of each is named).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from birnn_bench import check, measure
from birnn_bench.check import CheckRow
from birnn_bench.recommend import Progress, Recommendation, recommend
from birnn_bench.strategies import BASELINE, STRATEGIES, StateFunction
from birnn_bench.user_function import validate_function
from birnn_bench.workload import WorkloadSpec

#: One failing cell: (condition, "fwd" or "bwd").
Cell = tuple[tuple, str]


def failing_cells(rows: Iterable[CheckRow]) -> frozenset[Cell]:
    """The (condition, direction) pairs where ``rows`` are wrong (a raised call: both)."""
    return frozenset((row.condition(), half) for row in rows
                     for half, ok in (("fwd", row.fwd_ok), ("bwd", row.bwd_ok)) if not ok)


@dataclass(frozen=True)
class FunctionCheck:
    """A user's function on the correctness matrix."""

    name: str
    rows: tuple[CheckRow, ...]  # one per condition
    always_fails: tuple[str, ...]  # factor values under which it fails every time
    never_fails: tuple[str, ...]  # factor values under which it never fails
    same_as: tuple[str, ...]  # registry strategies wrong on exactly the same cells
    within: str | None  # the registry strategy with the fewest wrong cells that contain its own
    beyond: str | None  # the one with the most wrong cells that its own strictly contain
    why: str  # what the first of ``same_as`` gets wrong (its ``wrong_because``)

    @property
    def passed(self) -> bool:
        return all(row.passed for row in self.rows)

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "FAIL"

    @property
    def failing(self) -> list[CheckRow]:
        return [row for row in self.rows if not row.passed]

    @property
    def failing_conditions(self) -> list[dict[str, object]]:
        """Each failing condition as ``{cell, num_layers, proj_size, layout, lengths, dtype}``."""
        return [dict(zip(check.CONDITION_FIELDS, row.condition(), strict=True))
                for row in self.failing]


def _look_alikes(mine: frozenset[Cell], rows: Sequence[CheckRow]
                 ) -> tuple[tuple[str, ...], str | None, str | None]:
    if not mine:
        return (), None, None
    theirs = {name: failing_cells(r for r in rows if r.strategy == name)
              for name in STRATEGIES if any(r.strategy == name for r in rows)}
    theirs = {name: cells for name, cells in theirs.items() if cells}
    same = tuple(name for name, cells in theirs.items() if cells == mine)
    containing = [name for name, cells in theirs.items() if mine < cells]
    contained = [name for name, cells in theirs.items() if cells < mine]
    within = min(containing, key=lambda n: len(theirs[n]), default=None)
    beyond = max(contained, key=lambda n: len(theirs[n]), default=None)
    return same, within, beyond


def summarize_function(rows: Sequence[CheckRow], name: str) -> FunctionCheck:
    """``name``'s verdict from the rows of one matrix run that also holds the registry's
    strategies (their rows give the look-alikes; without them there are none)."""
    mine = tuple(row for row in rows if row.strategy == name)
    if not mine:
        raise ValueError(f"name: no rows of {name!r} in the check")
    info = check.summarize(list(mine))[name]
    same, within, beyond = _look_alikes(failing_cells(mine), rows)
    why = ""
    if same:
        strategy = STRATEGIES[same[0]]
        why = strategy.wrong_because or strategy.description
    return FunctionCheck(name=name, rows=mine, always_fails=tuple(info["always_fails"]),
                         never_fails=tuple(info["never_fails"]), same_as=same, within=within,
                         beyond=beyond, why=why)


def _name_of(fn: StateFunction) -> str:
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', type(fn).__name__)}"


def _check_name(name: str) -> None:
    if name in STRATEGIES:
        raise ValueError(f"name: {name!r} is a registry strategy's name; give the function "
                         "another one")


def check_function(fn: StateFunction, *, name: str | None = None,
                   specs: Iterable[WorkloadSpec] | None = None, device: str = "cpu",
                   threads: int | None = None) -> FunctionCheck:
    """Runs ``fn`` (and, to find its look-alikes, every registry strategy) on every condition of
    the correctness matrix (``specs``, default ``check.check_specs(device=device)``), threads
    pinned. ``fn`` is probed first (``user_function.validate_function``): a ValueError when it is
    broken; a function wrong on some conditions is a FAIL verdict, not an error."""
    name = name or _name_of(fn)
    _check_name(name)
    validate_function(fn, name, device)
    specs = list(check.check_specs(device=device) if specs is None else specs)
    with measure.pinned(threads), warnings.catch_warnings():
        # torch warns on every projected LSTM call on the CPU that oneDNN is bypassed: noise.
        warnings.filterwarnings("ignore", message="LSTM with projections is not supported")
        rows = check.run_check(specs, {name: fn, **STRATEGIES})
    return summarize_function(rows, name)


def format_function_check(result: FunctionCheck) -> str:
    """The verdict in a few lines: counts, where it fails, the look-alike and why."""
    total, failing = len(result.rows), result.failing
    if result.passed:
        return (f"{result.name}: PASS, right on all {total} conditions (both directions within "
                "the dtype's tolerance everywhere)")
    fwd = sum(not row.fwd_ok for row in result.rows)
    bwd = sum(not row.bwd_ok for row in result.rows)
    lines = [f"{result.name}: FAIL, wrong on {len(failing)} of {total} conditions (forward wrong "
             f"in {fwd}, backward wrong in {bwd})"]
    if result.always_fails:
        lines.append("  fails whenever " + ", ".join(result.always_fails))
    if result.never_fails:
        lines.append("  never fails with " + ", ".join(result.never_fails))
    raised = [row for row in failing if row.error]
    if raised:
        lines.append(f"  raised on {len(raised)} condition(s), first: {raised[0].error}")
    if result.same_as:
        names = " and ".join(f"`{n}`" for n in result.same_as)
        lines.append(f"  fails exactly where {names} fails (same conditions, same directions): "
                     f"{result.why}")
    else:
        if result.within:
            lines.append(f"  fails only where `{result.within}` fails (a strict subset of its "
                         "wrong conditions and directions)")
        if result.beyond:
            lines.append(f"  fails wherever `{result.beyond}` fails, and elsewhere too")
        if not result.within and not result.beyond:
            lines.append("  its failures match none of the registry's strategies")
    return "\n".join(lines)


def compare_function(fn: StateFunction, spec: WorkloadSpec, *, name: str | None = None,
                     strategies: Sequence[str] = tuple(STRATEGIES), mode: str = "forward",
                     budget_s: float = 20.0, threads: int | None = None,
                     progress: Progress | None = None, **engine: object) -> Recommendation:
    """``birnn-bench recommend`` with ``fn`` among the candidates: checked on ``spec`` (a
    ``WorkloadSpec``: the rnn config, and ``lengths`` a distribution or ``file:PATH``) and on the
    whole matrix, then, when right on ``spec``, timed by the paired engine against ``hn_index``
    (always included) and the other ``strategies`` correct there, with 99% intervals and the
    A/A. Wrong on ``spec``: listed as wrong, never timed. Recommended only when it passes every
    condition of the matrix and is significantly faster. Probed first (ValueError if broken)."""
    name = name or _name_of(fn)
    _check_name(name)
    unknown = [n for n in strategies if n not in STRATEGIES]
    if unknown:
        raise ValueError(f"strategies: expected names from {list(STRATEGIES)}, got {unknown}")
    validate_function(fn, name, spec.device)
    candidates: Mapping[str, StateFunction] = {
        **{n: STRATEGIES[n] for n in dict.fromkeys([BASELINE, *strategies])}, name: fn}
    return recommend(spec, mode=mode, strategies=candidates, budget_s=budget_s,
                     threads=threads, progress=progress, **engine)
