"""What the report is made of, between building it (``analysis.render.report``) and rendering it
(``analysis.render.report_pages``): plain data."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from analysis.load.results import Loaded, Problem
from analysis.model.claims import safe


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

    @property
    def has_history(self) -> bool:
        """Some machine has two commits measured."""
        return not self.commits.empty and \
            self.commits.groupby("machine")["commit"].nunique().max() >= 2
