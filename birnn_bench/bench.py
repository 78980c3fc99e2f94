"""One point of the benchmark grid: the workload, the strategy, and each measured operation.

The asv classes in ``benchmarks/`` only call these methods; ``recommend`` and ``crosscheck``
call the same ones, so everything measures the same code.
"""

from __future__ import annotations

import sys

import torch

from birnn_bench import grid, measure
from birnn_bench.oracle import error_against_oracle
from birnn_bench.strategies import STRATEGIES, States
from birnn_bench.workload import WorkloadSpec, build


class NotApplicable(NotImplementedError):  # noqa: N818 (a skip signal for asv)
    """A grid point that makes no sense or lacks hardware (asv shows it as n/a, not failed)."""


class BenchCase:
    """Everything one grid point needs, built once (in an asv ``setup``)."""

    def __init__(self, spec: WorkloadSpec, strategy: str) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy: expected one of {sorted(STRATEGIES)}, got {strategy!r}")
        reason = grid.skip_reason(spec.device, spec.dtype, torch.cuda.is_available())
        if reason:
            raise NotApplicable(reason)
        self.threads = measure.pin_threads()
        measure.set_precision_flags()
        self.spec = spec
        self.device = spec.device
        self.strategy = STRATEGIES[strategy]
        try:
            self.rnn, self.x, self.lengths = build(spec)
            self.forward()  # first call: allocator, cuDNN plans and OOMs happen here, untimed
        except torch.cuda.OutOfMemoryError as err:
            message = f"CUDA out of memory for {spec} / {strategy}: {str(err).splitlines()[0]}"
            print(message, file=sys.stderr)
            raise NotApplicable(message) from None
        measure.synchronize(self.device)
        self._ran: object = None
        self._train_warm = False

    @classmethod
    def from_params(cls, device: str, cell: str, batch: int, max_len: int, lengths: str,
                    hidden: int, layers: int, dtype: str, strategy: str) -> BenchCase:
        """From the asv parameters (``grid.BENCH_PARAM_NAMES`` order)."""
        spec = grid.bench_spec(device, cell, batch, max_len, lengths, hidden, layers, dtype)
        return cls(spec, strategy)

    # -- the operations that are timed ------------------------------------------------------

    def forward(self) -> States:
        """End to end, inference: padded batch + lengths -> (fwd, bwd)."""
        with torch.no_grad():
            return self.strategy(self.rnn, self.x, self.lengths)

    def prepare_extract(self) -> None:
        """Runs prepare + run once so that ``extract`` can be timed alone."""
        with torch.no_grad():
            self._ran = self.strategy.run(
                self.rnn, self.strategy.prepare(self.rnn, self.x, self.lengths))
        measure.synchronize(self.device)

    def extract(self) -> States:
        if self._ran is None:
            self.prepare_extract()
        with torch.no_grad():
            return self.strategy.extract(self.rnn, self._ran, self.lengths)

    def warm_train_step(self) -> None:
        """One untimed training step, once per case."""
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

    # -- deterministic figures ---------------------------------------------------------------

    def peak_bytes(self) -> int:
        return measure.peak_bytes(self.forward, self.device)

    def max_abs_error(self) -> float:
        """Against the float64 oracle on this very workload (worse of the two directions)."""
        return error_against_oracle(self.rnn, self.x, self.lengths, self.forward(),
                                    device=self.device)
