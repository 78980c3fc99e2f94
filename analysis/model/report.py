"""What the report says (``Content``: the Compare grid, the answer, history, correctness, memory,
problems...) built from the loaded results, and its CSV tables; ``render.report`` draws and
writes it. Pure: the loaded frame in, DataFrames out."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from analysis.load import problems
from analysis.load.loaded import Loaded
from analysis.load.results import Problem
from analysis.model import answer, history, paired, tables
from analysis.model.claims import safe
from analysis.model.history import Limits


@dataclass(frozen=True)
class Check:
    """``birnn-bench check --json``: its name (not a path), its torch, and per strategy passed /
    total conditions."""

    source: str
    torch: str
    summary: dict[str, dict]

    @property
    def safe(self) -> list[str]:
        return safe(self.summary)


@dataclass
class Content:
    """What the HTML and Markdown renderers read."""

    loaded: Loaded
    sources: list[str]
    check: Check | None
    grid: pd.DataFrame
    recommendations: pd.DataFrame
    strategies: pd.DataFrame
    correctness: pd.DataFrame
    compiled: pd.DataFrame
    history: pd.DataFrame
    commits: pd.DataFrame
    #: Which changes of the history count (``history.rules``), in one sentence.
    history_rules: str
    problems: list[Problem]
    hidden_problems: int
    deploy: pd.DataFrame | None
    #: Sections whose newest points were all rejected by the loader (``tables.lost_sections``).
    lost: list[str] = field(default_factory=list)
    #: The Answer block (``analysis.model.answer``): its lines, the machines' agreement, the cells
    #: where their ratios differ, and the hardware facts of each machine.
    answer: pd.DataFrame = field(default_factory=pd.DataFrame)
    agreement: str = ""
    differences: pd.DataFrame = field(default_factory=pd.DataFrame)
    facts: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Peak bytes and ATen ops of one forward over the baseline's (``tables.relative``).
    memory: pd.DataFrame = field(default_factory=pd.DataFrame)
    ops: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def has_history(self) -> bool:
        """Some machine has two commits measured."""
        return not self.commits.empty and \
            self.commits.groupby("machine")["commit"].nunique().max() >= 2


def build_content(loaded: Loaded, check: Check | None = None,
                  deploy: pd.DataFrame | None = None, sources: Sequence[str] = (),
                  ratio_tolerance: Mapping[str, float] | None = None, *, limits: Limits,
                  progress: Callable[[str], None] | None = None) -> Content:
    """What the report says. Without ``check`` the results' own matrix verdicts
    (``strategies.Correctness``) say which strategies are safe; without either nothing is
    recommended; ``deploy``: ``load.inputs.parse_deploy`` rows; ``sources``: how the results
    folders are named on the page; ``ratio_tolerance``: the process-level A/A per mode
    (``resolution.tolerances``) and ``limits`` the thresholds of asv.conf.json, for the
    history."""
    say = progress or (lambda _msg: None)
    df = loaded.data
    if check is None and (carried := paired.matrix_summary(df)) is not None:
        check = Check(source=carried[1], torch="as measured", summary=carried[0])
    say("the Compare grid (paired ratios + the error benchmark)")
    g = paired.grid(df, check.safe if check is not None else [])
    g = answer.with_hardware(g.assign(label=[paired.regime_label(r) for r in
                                             g.to_dict("records")]), df)
    recs = paired.recommendations(g) if not g.empty else pd.DataFrame()
    verdicts = tables.correctness(df)
    memory = tables.relative(df, tables.PEAK, verdicts)
    ops = tables.relative(df, tables.OPS, verdicts)
    say("history across commits")
    hist = history.changes(history.series(df), ratio_tolerance, limits=limits)
    commits = history.per_commit(hist)
    shown, hidden = problems.shown_problems(loaded)
    return Content(loaded=loaded, sources=list(sources) or [loaded.root], check=check,
                   grid=g, recommendations=recs, strategies=tables.strategy_summary(g),
                   correctness=verdicts, compiled=tables.compiled(df), history=hist,
                   commits=commits, history_rules=history.rules(limits), problems=shown,
                   hidden_problems=hidden, deploy=deploy, lost=tables.lost_sections(df),
                   answer=answer.lines(g), agreement=answer.agreement(g),
                   differences=answer.differences(g, ratio_tolerance),
                   facts=answer.hardware_facts(g), memory=memory, ops=ops)


#: CSV tables written next to the report (name -> what it holds).
TABLES = {
    "answer": "the Answer block: per machine (name and hardware), device, mode and cell, the "
              "recommended strategies and the line stating them with ratios and intervals",
    "machines_differ": "cells two machines both measured correct whose paired ratios differ by "
                       "more than their resolution, one column per machine, widest first",
    "grid": "the Compare grid, long form: per machine, device, mode, regime and strategy the "
            "paired ratio to hn_index with its 99% interval, error, correct, safe, verdict, "
            "fastest correct, tied with it, recommended, floor",
    "recommendations": "per machine, device, mode and regime: the recommended (safe) strategy "
                       "with its ratio and interval, the fastest correct, the floor, the A/A",
    "strategies": "per machine, device, mode and strategy: regimes correct, fastest or tied, "
                  "recommended; geometric mean ratio over the regimes where it and hn_index are "
                  "both correct",
    "correctness": "every verdict of the error benchmark: machine, regime, strategy, error, "
                   "tolerance, correct",
    "memory": "peak bytes of one forward per machine, regime and strategy, and over hn_index's",
    "op_counts": "ATen ops of one forward per machine, regime and strategy, and over hn_index's",
    "compiled": "torch.compile against eager (compiled.Compiled): times, ratio with its "
                "conservative interval, verdict, compile time, the compiled output's error",
    "regressions": "history: every change that counts (paired-ratio intervals apart, any change "
                   "of a deterministic value), with the previous commit",
    "history_summary": "history: per machine and commit, the changes that count",
    "environment": "per machine name and hardware: GPU, versions, threads, the commits "
                   "measured (with how many benchmarks each) and the one the grid shows",
    "problems": "files that were skipped or loaded with a caveat: severity, file, the message, "
                "its kind and the action that clears it",
    "deployability": "per strategy, cell, layers, device and technology: works / fails / wrong / "
                     "unavailable (from birnn-bench deploy --json; only with --deploy)",
}


def report_tables(c: Content) -> dict[str, pd.DataFrame]:
    """The CSV tables (``TABLES``) of the report's content."""
    out = {"grid": c.grid.drop(columns="facts"), "recommendations": c.recommendations,
           "answer": c.answer, "machines_differ": c.differences, "strategies": c.strategies,
           "correctness": c.correctness,
           "memory": c.memory.rename(columns={"value": "peak_bytes"}),
           "op_counts": c.ops.rename(columns={"value": "ops"}), "compiled": c.compiled,
           "regressions": history.flagged(c.history), "history_summary": c.commits,
           "environment": tables.environment(c.loaded.data, dict(zip(
               c.grid["machine"], c.grid["commit"], strict=True))),
           "problems": problems.table(c.problems)}
    if c.deploy is not None and not c.deploy.empty:
        out["deployability"] = c.deploy
    return out
