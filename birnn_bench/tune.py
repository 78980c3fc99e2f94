"""``birnn-bench tune``: THIS machine's ``auto`` policy, measured with the paired engine.

The fastest safe strategy differs between CPUs (oneDNN's speed does), so a policy learned on one
machine picks wrong on another: the situation cuDNN's benchmark mode and FFTW's wisdom exist
for. ``tune`` runs the one engine over the regimes the shipped policy was learned on (the suite's
quick grid) or over the user's own workload, both modes, and writes a policy entry for this
hardware that ``strategy="auto"`` reads first (``policy.local_policy_path``). A rule moves off
``hn_index`` only where a safe strategy is significantly faster in a comparison whose A/A
resolves (``recommend.choose``). Each regime is kept as it finishes (``<out>.partial``), so an
interrupted run resumes; the policy file is written whole or not at all."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from birnn_bench import check, hardware, measure, policy
from birnn_bench.bench import compare_strategies, measure_bucket_costs
from birnn_bench.recommend import Ranked, choose
from birnn_bench.strategies import BASELINE
from birnn_bench.workload import WorkloadSpec, build

#: The suite's input size (``benchmarks/regimes.INPUT_SIZE``; a test holds them equal): the
#: policy's rules do not record it.
INPUT_SIZE = 64
#: Seconds per regime and mode at most; the engine stops earlier at its targets.
DEFAULT_BUDGET = 8.0
#: ``nn.RNNBase.mode`` of each cell: what the bucket costs are keyed by.
CELL_MODES = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN_TANH"}

Say = Callable[[str], None]


@dataclass(frozen=True)
class Job:
    spec: WorkloadSpec
    mode: str

    @property
    def key(self) -> str:
        s = self.spec
        return (f"{self.mode}:{s.device}-{s.cell}-L{s.num_layers}-B{s.batch}-T{s.max_len}"
                f"-H{s.hidden_size}-I{s.input_size}-{s.lengths}-{s.dtype}")


def shipped_jobs(device: str = "cpu") -> list[Job]:
    """The regimes and modes the shipped policy was learned on (any machine's entry), on
    ``device``: the suite's quick grid."""
    seen: dict[str, Job] = {}
    for entry in policy.read_policy(None):
        for r in entry.rules:
            if r.device != device.split(":")[0]:
                continue
            spec = WorkloadSpec(cell=r.cell, num_layers=r.layers, input_size=INPUT_SIZE,
                                hidden_size=r.hidden, batch=r.batch, max_len=r.max_len,
                                lengths=r.lengths, dtype=r.dtype, device=device)
            job = Job(spec, r.mode)
            seen.setdefault(job.key, job)
    return list(seen.values())


def own_jobs(spec: WorkloadSpec, modes: Iterable[str]) -> list[Job]:
    return [Job(spec, mode) for mode in modes]


def _measure(job: Job, safe: set[str], budget_s: float) -> dict:
    """One regime and mode: the engine over the safe strategies correct here, then ``choose``
    (a rule moves off the baseline only on a resolved, significant win)."""
    spec = job.spec
    lengths = build(spec)[2].tolist()  # what the rule is keyed by: this batch's lengths
    rows = check.check_spec(spec)
    correct = [row.strategy for row in rows if row.passed and row.strategy in safe]
    result = compare_strategies(spec, correct, job.mode, budget_s=budget_s)
    ranked = [Ranked(strategy=name, correct=True, safe=True, max_abs_error=0.0,
                     ratio=result.ratios[name].ratio, verdict=result.verdict(name))
              for name in correct]
    chosen = choose(ranked, BASELINE)
    r = result.ratios[chosen].ratio if chosen != BASELINE else result.resolution
    rule = {"device": spec.device.split(":")[0], "cell": spec.cell, "mode": job.mode,
            "full_length": min(lengths) == spec.max_len, "layers": spec.num_layers,
            "batch": spec.batch, "max_len": spec.max_len, "hidden": spec.hidden_size,
            "lengths": policy.length_pattern(lengths, spec.max_len), "dtype": spec.dtype,
            "strategy": chosen, "ratio": round(r.estimate, 4), "low": round(r.low, 4),
            "high": round(r.high, 4)}
    return {"rule": rule, "rounds": result.rounds, "seconds": round(result.seconds, 2),
            "resolved": result.resolved, "aa": [result.resolution.low, result.resolution.high]}


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(path.name + ".tmp")
    scratch.write_text(text, encoding="utf-8")
    os.replace(scratch, path)


def tune(jobs: list[Job], out: Path, *, budget_s: float = DEFAULT_BUDGET,
         threads: int | None = None, say: Say | None = None) -> dict:
    """Measures ``jobs`` and writes ``out`` (a version-2 policy with this machine's entry);
    returns it. Resumes from ``out.partial`` when an earlier run of the same jobs, budget and
    hardware was interrupted."""
    say = say or (lambda _line: None)
    if not jobs:
        raise ValueError("tune: no regimes to measure")
    device = jobs[0].spec.device.split(":")[0]
    facts = hardware.facts(device)
    if device == "cpu":
        facts.pop("gpu", None)
    partial = out.with_name(out.name + ".partial")
    settings = {"budget_s": budget_s, "hardware": facts, "jobs": [j.key for j in jobs]}
    kept: dict[str, dict] = {}
    if partial.is_file():
        try:
            data = json.loads(partial.read_text(encoding="utf-8"))
            if data.get("settings") == settings:
                kept = dict(data["done"])
        except (OSError, ValueError, KeyError, TypeError):
            kept = {}
        if kept:
            say(f"resuming: {len(kept)}/{len(jobs)} regime(s) kept from {partial}")
    started = time.perf_counter()
    with measure.pinned(threads) as pinned:
        say(f"{hardware.describe(facts)}; {pinned} thread(s); checking which strategies are "
            "safe (the whole correctness matrix)")
        safe = set(check.correct_everywhere(check.run_check(check.check_specs())))
        for index, job in enumerate(jobs, start=1):
            if job.key not in kept:
                kept[job.key] = _measure(job, safe, budget_s)
                _atomic_write(partial, json.dumps({"settings": settings, "done": kept}))
                note = ""
            else:
                note = " (kept)"
            done = kept[job.key]
            rule = done["rule"]
            say(f"[{index}/{len(jobs)}] {job.key}: {rule['strategy']} "
                f"[{rule['low']:.3f}, {rule['high']:.3f}], A/A {done['aa'][0]:.3f}-"
                f"{done['aa'][1]:.3f}{'' if done['resolved'] else ' (unresolved)'}, "
                f"{done['rounds']} rounds{note} ({time.perf_counter() - started:.0f} s so far)")
        # bucketed's cost constants for each cell measured, at the suite's shape (~1 s each).
        costs = {}
        for cell in sorted({job.spec.cell for job in jobs}):
            spec = WorkloadSpec(cell=cell, num_layers=1, input_size=INPUT_SIZE,
                                hidden_size=128, batch=16, max_len=32, device=jobs[0].spec.device)
            found = measure_bucket_costs(spec, threads=pinned)
            mode = CELL_MODES[cell]
            costs[mode] = {"per_call": found.per_call, "per_step": found.per_step,
                           "per_token": found.per_token}
            say(f"bucketed's costs for {cell}: per call {found.per_call * 1e6:.0f} us, per step "
                f"{found.per_step * 1e6:.1f} us, per token {found.per_token * 1e6:.2f} us")
    made = {"version": policy.VERSION, "correct_everywhere": sorted(safe),
            "machines": [{"machine": hardware.machine_name(facts), "commit": "tune",
                          "hardware": facts, "threads": pinned,
                          "allocator": measure.allocator(),
                          "rules": [kept[j.key]["rule"] for j in jobs],
                          "bucket_costs": costs}],
            "generated_from": {"command": "birnn-bench tune", "baseline": BASELINE,
                               "budget_s": budget_s}}
    policy.parse_policy(made, str(out))  # what auto will read must parse
    _atomic_write(out, json.dumps(made, indent=2) + "\n")
    partial.unlink(missing_ok=True)
    policy.clear_caches()
    return made
