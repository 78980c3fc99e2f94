"""Measure the correct strategies on a user's own workload and recommend one.

Correctness first: every strategy is checked against the oracle on exactly this workload, and
only the correct ones are timed. Timing is torch.utils.benchmark (CUDA-synchronised, threads
pinned), interleaved round by round (A B C, A B C, ...) so that drift hits every strategy alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from birnn_bench import measure, stats
from birnn_bench.bench import BenchCase
from birnn_bench.check import check_spec
from birnn_bench.strategies import STRATEGIES, Strategy
from birnn_bench.workload import WorkloadSpec

MODES = ("forward", "train_step")
BASELINE = "hn_index"
#: ``--require`` names -> deployability technologies; a strategy qualifies when ANY of them
#: works on the user's cell/layers/device (compile: whole graph, with or without dynamo's
#: allow_rnn; export: plain or with the while-loop rnn decomposition).
REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "script": ("script",),
    "compile": ("compile_fullgraph", "compile_fullgraph_allow_rnn"),
    "export": ("export", "export_while_loop"),
    "onnx": ("onnx",),
}

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Ranked:
    strategy: str
    correct: bool
    max_abs_error: float
    median_s: float | None = None
    ci_low_s: float | None = None
    ci_high_s: float | None = None
    vs_best: stats.Interval | None = None
    vs_baseline: stats.Interval | None = None
    samples: int = 0
    excluded: str = ""  # why a correct strategy was not timed (a failed --require)


@dataclass(frozen=True)
class Recommendation:
    spec: WorkloadSpec
    mode: str
    ranking: list[Ranked]  # correct strategies fastest first, then the wrong ones
    choice: str
    runner_up: str | None
    margin: stats.Comparison | None
    environment: dict = field(default_factory=dict)
    traces: dict[str, str] = field(default_factory=dict)  # strategy -> Chrome trace path

    @property
    def verdict(self) -> str:
        if self.runner_up is None or self.margin is None:
            return f"{self.choice}: the only correct strategy measured"
        ratio = self.margin.ratio
        gap = f"{(ratio.estimate - 1) * 100:.1f}% faster than {self.runner_up} " \
              f"(95% CI {(ratio.low - 1) * 100:.1f}% to {(ratio.high - 1) * 100:.1f}%)"
        if self.margin.significant:
            return f"{self.choice}: {gap}"
        return f"{self.choice}, but no significant difference from {self.runner_up}: {gap}"

    def as_dict(self) -> dict:
        return {
            "workload": self.spec.as_dict(), "mode": self.mode, "choice": self.choice,
            "runner_up": self.runner_up, "verdict": self.verdict,
            "margin": asdict(self.margin) if self.margin else None,
            "ranking": [asdict(r) for r in self.ranking], "environment": self.environment,
            "traces": self.traces,
        }


def recommend(spec: WorkloadSpec, *, mode: str = "forward",
              strategies: Mapping[str, Strategy] = STRATEGIES, rounds: int = 3,
              min_run_time: float = 0.1, progress: Progress | None = None,
              profile_dir: Path | None = None,
              require: tuple[str, ...] = ()) -> Recommendation:
    """Checks every strategy on ``spec``, times the correct ones, ranks them; with
    ``profile_dir``, also writes one Chrome trace of a forward call per correct strategy;
    ``require`` keeps only strategies that deploy with those technologies (``REQUIREMENTS``)."""
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
    if profile_dir is not None:  # before any measuring, so a bad path loses nothing
        try:
            Path(profile_dir).mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ValueError(f"profile: cannot use {str(profile_dir)!r} as a directory for "
                             f"traces ({err.strerror})") from None
    unknown = [name for name in require if name not in REQUIREMENTS]
    if unknown:
        raise ValueError(f"require: expected names from {sorted(REQUIREMENTS)}, got {unknown}")
    if rounds < 1:
        raise ValueError(f"rounds: expected an integer >= 1, got {rounds}")
    verdicts = {row.strategy: row for row in check_spec(spec, strategies)}
    correct = [name for name in strategies if verdicts[name].passed]
    if not correct:
        raise ValueError(f"no strategy is correct on {spec}; nothing to recommend")
    excluded = _failed_requirements(correct, spec, require, progress)
    correct = [name for name in correct if name not in excluded]
    if not correct:
        raise ValueError(f"no correct strategy meets --require {','.join(require)}: "
                         + "; ".join(f"{n}: {why}" for n, why in excluded.items()))
    cases = {name: BenchCase(spec, name) for name in correct}
    calls = {name: case.forward if mode == "forward" else case.train_step
             for name, case in cases.items()}
    times: dict[str, list[float]] = {name: [] for name in correct}
    total, done = rounds * len(correct), 0
    for round_index in range(rounds):
        for name in correct:
            if progress is not None:
                progress(done, total, f"round {round_index + 1}/{rounds}: {name}")
            measurement = measure.time_callable(calls[name], label=mode, sub_label=name,
                                                min_run_time=min_run_time)
            times[name].extend(measurement.times)
            done += 1
    if progress is not None:
        progress(total, total, "done")
    traces = {}
    if profile_dir is not None:
        from birnn_bench.profiles import write_chrome_trace

        traces = {name: str(write_chrome_trace(case, profile_dir)) for name, case in cases.items()}

    order = sorted(correct, key=lambda n: stats.median_interval(times[n]).estimate)
    best = order[0]
    ranked = []
    for name in order:
        interval = stats.median_interval(times[name])
        ranked.append(Ranked(
            strategy=name, correct=True, max_abs_error=verdicts[name].max_abs_error,
            median_s=interval.estimate, ci_low_s=interval.low, ci_high_s=interval.high,
            vs_best=stats.ratio_interval(times[name], times[best]),
            vs_baseline=(stats.ratio_interval(times[name], times[BASELINE])
                         if BASELINE in times else None),
            samples=len(times[name]),
        ))
    ranked += [Ranked(strategy=n, correct=True, max_abs_error=verdicts[n].max_abs_error,
                      excluded=why) for n, why in excluded.items()]
    ranked += [Ranked(strategy=n, correct=False, max_abs_error=verdicts[n].max_abs_error)
               for n in strategies if n not in correct and n not in excluded]
    runner_up = order[1] if len(order) > 1 else None
    margin = stats.compare(times[runner_up], times[best]) if runner_up else None
    return Recommendation(spec=spec, mode=mode, ranking=ranked, choice=best,
                          runner_up=runner_up, margin=margin,
                          environment=measure.environment_info(), traces=traces)


def _failed_requirements(names: list[str], spec: WorkloadSpec, require: tuple[str, ...],
                         progress: Progress | None) -> dict[str, str]:
    """strategy -> why it fails a requirement, from the deployability check on the user's
    cell, layers and device."""
    if not require:
        return {}
    from birnn_bench.deploy import check_deploy, deploy_spec

    target = deploy_spec(spec.cell, spec.num_layers, spec.device)
    failed: dict[str, str] = {}
    for done, name in enumerate(names):
        if progress is not None:
            progress(done, len(names), f"deployability of {name}")
        for requirement in require:
            results = [check_deploy(name, tech, target) for tech in REQUIREMENTS[requirement]]
            if not any(r.status == "works" for r in results):
                failed[name] = f"fails --require {requirement} ({results[0].detail[:60]})"
                break
    return failed


def format_recommendation(rec: Recommendation) -> str:
    lines = [f"Workload: {rec.spec.cell} x{rec.spec.num_layers} layers, hidden "
             f"{rec.spec.hidden_size}, batch {rec.spec.batch}, max_len {rec.spec.max_len}, "
             f"lengths {rec.spec.lengths}, {rec.spec.dtype} on {rec.spec.device} "
             f"({rec.mode}; torch {rec.environment.get('torch')}, "
             f"{rec.environment.get('threads')} threads)", ""]
    header = f"{'rank':>4}  {'strategy':<16} {'median':>10}  {'95% CI':>21}  " \
             f"{'x best':>6}  {'x hn_index':>10}  {'max abs err':>11}"
    lines += [header, "-" * len(header)]
    for rank, row in enumerate(rec.ranking, start=1):
        if not row.correct or row.excluded:
            why = row.excluded or "excluded: wrong on this workload"
            lines.append(f"{'-':>4}  {row.strategy:<16} {why[:41]:>41}"
                         f"  {'':>6}  {'':>10}  {row.max_abs_error:>11.1e}")
            continue
        base = f"{row.vs_baseline.estimate:.2f}" if row.vs_baseline else "n/a"
        lines.append(
            f"{rank:>4}  {row.strategy:<16} {_ms(row.median_s):>10}  "
            f"{_ms(row.ci_low_s) + ' - ' + _ms(row.ci_high_s):>21}  "
            f"{row.vs_best.estimate:>6.2f}  {base:>10}  {row.max_abs_error:>11.1e}")
    lines += ["", f"Recommendation: {rec.verdict}"]
    if rec.traces:
        lines.append(f"Chrome traces (chrome://tracing or ui.perfetto.dev): "
                     f"{Path(next(iter(rec.traces.values()))).parent}/")
    return "\n".join(lines)


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    return f"{seconds * 1e3:.3f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.1f} us"
