"""One workload and one strategy, built once, with every operation that gets measured: the asv
suite, ``recommend``, the resolution check and the crosscheck all call these, so everything
measures the same code. Nothing here changes global state (callers use ``measure.pinned``)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence

import torch

from birnn_bench import compare, measure, resolution
from birnn_bench._rnn import extract_dims
from birnn_bench.buckets import BucketCosts, fit_costs
from birnn_bench.oracle import error_against_oracle
from birnn_bench.strategies import BASELINE, STRATEGIES, StateFunction, States, Strategy
from birnn_bench.workload import Workload, WorkloadSpec, build

#: What can be timed: inference (eval, no_grad) and a training step (forward + backward).
MODES = ("forward", "train_step")


class BenchCase:
    """The rnn, x and lengths of ``spec`` with ``strategy``; the first forward runs here, untimed
    (allocator, cuDNN plans and CUDA out-of-memory errors happen in it). ``strategy``: a registry
    name, or a user's whole-call function (no prepare/run/extract: ``extract`` is n/a)."""

    def __init__(self, spec: WorkloadSpec, strategy: str | StateFunction,
                 workload: Workload | None = None) -> None:
        if isinstance(strategy, str) and strategy not in STRATEGIES:
            raise ValueError(f"strategy: expected one of {sorted(STRATEGIES)}, got {strategy!r}")
        self.spec = spec
        self.device = spec.device
        self.strategy = STRATEGIES[strategy] if isinstance(strategy, str) else strategy
        self.rnn, self.x, self.lengths = workload if workload is not None else build(spec)
        self.forward()
        measure.synchronize(self.device)
        self._ran: object = None
        self._dims = extract_dims(self.rnn)
        self._train_warm = False

    def forward(self) -> States:
        """End to end, inference: padded batch + lengths -> (fwd, bwd)."""
        with torch.no_grad():
            return self.strategy(self.rnn, self.x, self.lengths)

    def prepare_extract(self) -> None:
        """Runs prepare + run once so that ``extract`` can be timed alone."""
        if not isinstance(self.strategy, Strategy):
            raise ValueError("extract: n/a for a whole-call function (it has no prepare / run / "
                             "extract steps)")
        with torch.no_grad():
            self._ran = self.strategy.run(
                self.rnn, self.strategy.prepare(self.x, self.lengths, self.rnn.batch_first))
        measure.synchronize(self.device)

    def extract(self) -> States:
        if self._ran is None:
            self.prepare_extract()
        with torch.no_grad():
            return self.strategy.extract(self._ran, self.lengths, *self._dims)

    def warm_train_step(self) -> None:
        """One untimed training step, once per case (autograd's first call allocates)."""
        if not self._train_warm:
            self.train_step()
            self._train_warm = True

    def train_step(self) -> None:
        """Forward + backward of a scalar loss on (fwd, bwd), in training mode."""
        self.rnn.train()
        try:
            self.rnn.zero_grad(set_to_none=True)
            fwd, bwd = self.strategy(self.rnn, self.x, self.lengths)
            (fwd.sum() + bwd.sum()).backward()
        finally:
            self.rnn.eval()

    def call(self, mode: str) -> Callable[[], object]:
        """The timed operation of ``mode`` (``MODES``)."""
        if mode == "forward":
            return self.forward
        if mode == "train_step":
            self.warm_train_step()
            return self.train_step
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")

    def peak_bytes(self) -> int:
        return measure.peak_bytes(self.forward, self.device)

    def max_abs_error(self) -> float:
        """Against the float64 oracle on this very workload (worse of the two directions)."""
        return error_against_oracle(self.rnn, self.x, self.lengths, self.forward(),
                                    device=self.device)


def compare_strategies(spec: WorkloadSpec, names: Sequence[str], mode: str = "forward", *,
                       baseline: str = BASELINE, workload: Workload | None = None,
                       extra: dict[str, Callable[[], object]] | None = None,
                       functions: Mapping[str, StateFunction] | None = None,
                       slowed: bool = False, **engine: object) -> compare.Comparison:
    """The paired comparison (``compare.compare``) of ``names`` and the baseline on ``workload``
    (else built from ``spec``), CUDA synchronised around each block. Every strategy reads the SAME
    rnn, x and lengths (a copy each: where they lay in memory moved a strategy by 1-2%). ``extra``
    adds candidates that are not strategies; ``functions``: users' whole-call functions, by the
    name ``names`` gives them, timed like the registry's strategies; ``slowed`` adds the
    baseline slowed by a known 5% (``resolution.slowed_copy``), named
    ``baseline + resolution.SLOWED_SUFFIX``."""
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
    workload = workload if workload is not None else build(spec)
    wanted = list(dict.fromkeys([baseline, *names]))
    functions = functions or {}
    calls = {name: BenchCase(spec, functions.get(name, name), workload).call(mode)
             for name in wanted}
    sync = (lambda: torch.cuda.synchronize(spec.device)) \
        if torch.device(spec.device).type == "cuda" else None
    if slowed:
        calls[baseline + resolution.SLOWED_SUFFIX] = resolution.slowed_copy(calls[baseline], sync)
    calls.update(extra or {})
    return compare.compare(calls, baseline, sync=sync, **engine)  # type: ignore[arg-type]


#: The padded buckets ``measure_bucket_costs`` times, (batch, steps): two of each, so that the
#: call, step and token terms separate.
BUCKET_SIZES = ((1, 32), (1, 128), (16, 32), (16, 128))


def bucket_samples(spec: WorkloadSpec, sizes: Sequence[tuple[int, int]] = BUCKET_SIZES,
                   repeats: int = 15,
                   clock: Callable[[], float] = time.perf_counter) -> list[tuple[int, int, float]]:
    """``(batch, steps, seconds)``: the best of ``repeats`` inference calls of one bucket's work
    (``manual_two_rnn``'s three steps, what ``bucketed`` runs per bucket) on a full-length batch
    of ``spec``'s rnn at each size, the sizes interleaved in every round (drift hits them alike).
    Threads as the caller pinned them."""
    if repeats < 1:
        raise ValueError(f"repeats: expected an integer >= 1, got {repeats!r}")
    steps_of = STRATEGIES["manual_two_rnn"]
    calls = []
    for batch, steps in sizes:
        if batch < 1 or steps < 1:
            raise ValueError(f"sizes: ({batch}, {steps}) is not a (batch >= 1, steps >= 1)")
        rnn, x, lengths = build(spec.with_(batch=batch, max_len=steps, lengths="equal"))
        dims = extract_dims(rnn)

        def call(rnn=rnn, x=x, lengths=lengths, dims=dims) -> None:
            with torch.no_grad():
                steps_of.extract(steps_of.run(rnn, steps_of.prepare(x, lengths, dims[0])),
                                 lengths, *dims)
            measure.synchronize(spec.device)

        call()  # untimed: allocator and kernel selection
        calls.append(call)
    best = [math.inf] * len(calls)
    for _ in range(repeats):
        for i, call in enumerate(calls):
            start = clock()
            call()
            best[i] = min(best[i], clock() - start)
    return [(batch, steps, seconds) for (batch, steps), seconds in zip(sizes, best, strict=True)]


def measure_bucket_costs(spec: WorkloadSpec, sizes: Sequence[tuple[int, int]] = BUCKET_SIZES,
                         repeats: int = 15, threads: int | None = None) -> BucketCosts:
    """The ``bucketed`` strategy's cost constants for ``spec``'s rnn (cell, layers, sizes, dtype,
    device; its batch, T and lengths are not used) on this machine, threads pinned
    (``measure.pinned``): ``bucket_samples`` fitted by ``buckets.fit_costs``. About 1 s for a
    one-layer LSTM of hidden 128 on one CPU thread."""
    with measure.pinned(threads):
        return fit_costs(bucket_samples(spec, sizes, repeats))
