"""Check every strategy on a user's own workload, time the correct ones, recommend one.

Only a strategy correct on EVERY condition of the correctness matrix is recommended: a pitfall
right on this workload can be the floor (the fastest, marked), never the answer. A user's own
function (``birnn_bench.user_function``) is a candidate like any strategy, under the same rule;
what needs the prepare/run/extract split (``--require``, ``--profile``) is n/a for it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from birnn_bench import check, compare, measure
from birnn_bench.bench import MODES, BenchCase, compare_strategies
from birnn_bench.strategies import BASELINE, STRATEGIES, StateFunction
from birnn_bench.user_function import user_functions
from birnn_bench.workload import WorkloadSpec

#: ``--require`` names -> deployability technologies; a strategy qualifies when ANY of them works
#: on the user's cell/layers/device (compile with or without allow_rnn; export plain or with the
#: while-loop rnn decomposition).
REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "script": ("script",), "compile": ("compile_fullgraph", "compile_fullgraph_allow_rnn"),
    "export": ("export", "export_while_loop"), "onnx": ("onnx",)}

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Ranked:
    strategy: str
    correct: bool  # on this workload
    safe: bool  # correct on every condition of the correctness matrix
    max_abs_error: float
    ratio: compare.Interval | None = None  # time over the baseline's, paired per round
    seconds: float | None = None  # median time of one call
    rounds: int = 0
    excluded: str = ""  # why a correct strategy was not timed (a failed --require)
    #: Against the baseline, by the one rule (``compare.verdict``: the ratio's interval and the
    #: comparison's A/A); "A/A" for the baseline itself, "" when not timed.
    verdict: str = ""
    baseline_seconds: float | None = None  # the baseline's time over the same rounds


@dataclass(frozen=True)
class Recommendation:
    spec: WorkloadSpec
    mode: str
    ranking: list[Ranked]  # timed strategies fastest first, then excluded, then wrong ones
    choice: str
    floor: str  # the fastest strategy timed, safe or not
    baseline: str
    resolution: compare.Interval | None  # A/A: the baseline against itself
    rounds: int = 0
    seconds: float = 0.0
    environment: dict = field(default_factory=dict)
    traces: dict[str, str] = field(default_factory=dict)  # strategy -> Chrome trace path

    @property
    def verdict(self) -> str:
        ratio = self._row(self.choice).ratio
        if ratio is not None and self.choice != self.baseline:  # chosen: significantly faster
            return (f"{self.choice}: {_ratio_text(ratio)} of {self.baseline}'s time, "
                    "significantly faster (99% interval clear of 1, A/A resolved)")
        if self.baseline != BASELINE:
            text = (f"{self.choice}: no other safe strategy is significantly faster (it stands "
                    f"in for {BASELINE}, not timed here)")
        else:
            text = f"{self.choice}: no safe strategy is significantly faster than the safe default"
        if self.resolution is not None and not self.resolution.resolves:
            text += (f"; this run could not tell a few percent (A/A {_ratio_text(self.resolution)}"
                     f", wider than +-{compare.RESOLVED:.0%} or off 1): run longer (--budget) or "
                     "on a quieter machine")
        return text

    def _row(self, name: str) -> Ranked:
        return next(row for row in self.ranking if row.strategy == name)

    def as_dict(self) -> dict:
        return {
            "workload": self.spec.as_dict(), "mode": self.mode, "choice": self.choice,
            "floor": self.floor, "baseline": self.baseline, "verdict": self.verdict,
            "resolution": asdict(self.resolution) if self.resolution else None,
            "confidence": compare.CONFIDENCE, "rounds": self.rounds, "seconds": self.seconds,
            "resolved": self.resolution is not None and self.resolution.resolves,
            "ranking": [asdict(r) for r in self.ranking],
            "environment": self.environment, "traces": self.traces,
        }


def recommend(spec: WorkloadSpec, *, mode: str = "forward",
              strategies: Mapping[str, StateFunction] = STRATEGIES, budget_s: float = 20.0,
              threads: int | None = None, progress: Progress | None = None,
              profile_dir: Path | None = None, require: tuple[str, ...] = (),
              **engine: object) -> Recommendation:
    """Checks every strategy on ``spec`` and the whole correctness matrix, compares the ones
    correct here (threads pinned throughout), recommends a safe one. ``profile_dir``: also a
    Chrome trace of one forward per timed strategy; ``require``: only strategies that deploy
    with those technologies (``REQUIREMENTS``)."""
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
    unknown = [name for name in require if name not in REQUIREMENTS]
    if unknown:
        raise ValueError(f"require: expected names from {sorted(REQUIREMENTS)}, got {unknown}")
    if profile_dir is not None:  # before any measuring, so a bad path loses nothing
        try:
            Path(profile_dir).mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ValueError(f"profile: cannot use {str(profile_dir)!r} as a directory for "
                             f"traces ({err.strerror})") from None
    say = progress or (lambda done, total, label: None)
    with measure.pinned(threads):
        say(0, 1, "checking every strategy on your workload")
        verdicts = {row.strategy: row for row in check.check_spec(spec, strategies)}
        say(0, 1, "checking the correctness matrix (which strategies are safe defaults)")
        matrix = check.run_check(list(check.check_specs()), strategies)
        safe = set(check.correct_everywhere(matrix))
        correct = [name for name in strategies if verdicts[name].passed]
        if not correct:
            raise ValueError(f"no strategy is correct on {spec}; nothing to recommend")
        functions = user_functions(strategies)
        excluded = _failed_requirements([n for n in correct if n not in functions], spec,
                                        require, say)
        if require:
            excluded.update({n: "n/a: --require needs a registry strategy's steps"
                             for n in correct if n in functions})
        if mode == "train_step":
            excluded.update(_failed_train_steps(
                {n: f for n, f in functions.items() if n in correct and n not in excluded}, spec))
        timed = [name for name in correct if name not in excluded]
        if not timed:
            raise ValueError(f"no correct strategy meets --require {','.join(require)}: "
                             + "; ".join(f"{n}: {why}" for n, why in excluded.items()))
        # Every ratio is taken against the baseline, correct on all valid input; should
        # --require exclude it, the first safe strategy timed stands in (never a pitfall: a
        # ratio against one would make a slower safe strategy look "faster").
        safe_timed = [name for name in timed if name in safe]
        if not safe_timed:
            raise ValueError(
                "no strategy timed is correct on every condition of the check (right on this "
                f"workload only: {', '.join(timed)}); nothing to recommend")
        baseline = BASELINE if BASELINE in timed else safe_timed[0]

        def on_round(rounds: int, open_count: int, seconds: float) -> None:
            say(min(int(seconds), int(budget_s)), int(budget_s),
                f"round {rounds}, {open_count} still open, {seconds:.1f} s of {budget_s:g} s")

        result = compare_strategies(spec, timed, mode, baseline=baseline, budget_s=budget_s,
                                    progress=on_round, functions=functions, **engine)
        say(int(budget_s), int(budget_s), "done")
        traces = {}
        if profile_dir is not None:
            from birnn_bench.profiles import write_chrome_trace

            traces = {name: str(write_chrome_trace(BenchCase(spec, name), profile_dir))
                      for name in timed if name not in functions}  # a trace is by phase
        order = sorted(timed, key=lambda n: result.ratios[n].ratio.estimate)

        def row(n: str, **outcome: object) -> Ranked:
            return Ranked(strategy=n, correct=n in correct, safe=n in safe,
                          max_abs_error=verdicts[n].max_abs_error, **outcome)

        ranked = [row(n, ratio=result.ratios[n].ratio, seconds=result.ratios[n].seconds,
                      rounds=result.ratios[n].rounds, verdict=result.verdict(n),
                      baseline_seconds=result.ratios[n].baseline_seconds) for n in order]
        ranked += [row(n, excluded=why) for n, why in excluded.items()]
        ranked += [row(n) for n in strategies if n not in correct]
        return Recommendation(spec=spec, mode=mode, ranking=ranked,
                              choice=choose(ranked, baseline), floor=order[0], baseline=baseline,
                              resolution=result.resolution, rounds=result.rounds,
                              seconds=result.seconds, environment=measure.environment_info(),
                              traces=traces)


def choose(ranked: list[Ranked], baseline: str) -> str:
    """The safe strategy with the lowest ratio among those significantly faster than the
    baseline (itself safe) by the one rule (so never in an unresolved comparison); else the
    baseline. A strategy that is not safe is never chosen."""
    faster = [r for r in ranked if r.safe and r.ratio is not None and r.verdict == "faster"]
    if faster:
        return min(faster, key=lambda r: r.ratio.estimate).strategy  # type: ignore[union-attr]
    return baseline


def _failed_requirements(names: list[str], spec: WorkloadSpec, require: tuple[str, ...],
                         say: Progress) -> dict[str, str]:
    """strategy -> why it fails a requirement, by the deployability check on the user's cell,
    layers and device."""
    if not require:
        return {}
    from birnn_bench.deploy import check_deploy, deploy_spec

    target = deploy_spec(spec.cell, spec.num_layers, spec.device)
    failed: dict[str, str] = {}
    for done, name in enumerate(names):
        say(done, len(names), f"deployability of {name}")
        for requirement in require:
            results = [check_deploy(name, tech, target) for tech in REQUIREMENTS[requirement]]
            if not any(r.status == "works" for r in results):
                failed[name] = f"fails --require {requirement} ({results[0].detail[:60]})"
                break
    return failed


def _failed_train_steps(functions: Mapping[str, StateFunction],
                        spec: WorkloadSpec) -> dict[str, str]:
    """name -> why, for users' functions whose training step raises on ``spec`` (outputs
    detached, say): one untimed step each, before the engine starts."""
    failed = {}
    for name, fn in functions.items():
        try:
            BenchCase(spec, fn).warm_train_step()
        except Exception as err:  # the user's code: reported in the ranking, never timed
            failed[name] = (f"excluded: its training step raised {type(err).__name__}: "
                            f"{str(err).splitlines()[0] if str(err) else ''}")
    return failed


def _ratio_text(ratio: compare.Interval) -> str:
    return f"{ratio.estimate:.2f}x [{ratio.low:.2f}, {ratio.high:.2f}]"


def _time_text(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    return f"{seconds * 1e3:.3f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.1f} us"


def format_recommendation(rec: Recommendation) -> str:
    spec, base = rec.spec, rec.baseline
    lines = [f"Workload: {spec.cell} x{spec.num_layers} layers, hidden {spec.hidden_size}, "
             f"batch {spec.batch}, max_len {spec.max_len}, lengths {spec.lengths}, {spec.dtype} "
             f"on {spec.device} ({rec.mode}; torch {rec.environment.get('torch')}, "
             f"{rec.environment.get('threads')} thread(s))", ""]
    # A user's function is named by its spec, often longer than a registry name.
    width = max([16] + [len(r.strategy) + 2 for r in rec.ranking if r.strategy not in STRATEGIES])
    same = f"{base} same rounds"
    header = (f"{'rank':>4}  {'strategy':<{width}} {'per call':>10} {same:>24} {'rounds':>6}  "
              f"{'x ' + base + ' [99% interval]':>28}  {'vs ' + base:>12}  {'max abs err':>11}")
    lines += [header, "-" * len(header)]
    rank = 0
    for row in rec.ranking:
        if row.ratio is None:
            why = row.excluded or "excluded: wrong on this workload"
            lines.append(f"{'-':>4}  {row.strategy:<{width}} {why[:98]:<98}  "
                         f"{row.max_abs_error:>11.1e}")
            continue
        rank += 1
        name = row.strategy + ("" if row.safe else " †")
        # A candidate that left early ran fewer rounds: its time is shown beside the baseline's
        # of the same rounds, the only pair its ratio speaks for.
        lines.append(f"{rank:>4}  {name:<{width}} {_time_text(row.seconds):>10} "
                     f"{_time_text(row.baseline_seconds):>24} {row.rounds:>6}  "
                     f"{_ratio_text(row.ratio):>28}  {row.verdict:>12}  "
                     f"{row.max_abs_error:>11.1e}")
    if rec.resolution is not None:
        lines += ["", f"Resolution (A/A, {base} against itself in the same rounds): "
                  f"{_ratio_text(rec.resolution)} "
                  f"({'resolved' if rec.resolution.resolves else 'NOT resolved'}); "
                  f"{rec.rounds} rounds in {rec.seconds:.1f} s. A ratio is faster or slower "
                  f"when its 99% interval excludes 1 and the A/A's interval lies inside "
                  f"1 +- {compare.RESOLVED:.0%} and holds 1; else unresolved."]
    if any(not row.safe for row in rec.ranking if row.ratio is not None):
        lines.append("† correct on this workload but not on every condition of the check: "
                     "never recommended.")
    lines += ["", f"Floor (fastest measured): {rec.floor}"
              + ("" if rec._row(rec.floor).safe else " † (not a safe default)"),
              f"Recommendation: {rec.verdict}"]
    if rec.traces:
        lines.append(f"Chrome traces (chrome://tracing or ui.perfetto.dev): "
                     f"{Path(next(iter(rec.traces.values()))).parent}/")
    return "\n".join(lines)
