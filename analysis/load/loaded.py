"""What a load gives: the tidy frame, the problems met, the results files read; and several
results folders, loaded one by one, as one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd
from pandas.api.types import union_categoricals

from analysis.load.asv_files import Problem


@dataclass
class Loaded:
    """The tidy frame, what went wrong, and the results files that went into the frame."""

    data: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    root: str = ""

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def merge(parts: Sequence[tuple[str, Loaded]]) -> Loaded:
    """Results folders loaded one by one (each with its own benchmarks.json) as one; problems
    and files prefixed with the folder's name when there is more than one."""
    if len(parts) == 1:
        return parts[0][1]
    frames = [loaded.data for _, loaded in parts]
    joined: dict[str, object] = {}
    for name in dict.fromkeys(c for f in frames for c in f.columns):
        pieces = [f[name] if name in f.columns else pd.Series([None] * len(f), dtype=object)
                  for f in frames]
        if all(isinstance(p.dtype, pd.CategoricalDtype) for p in pieces):
            joined[name] = union_categoricals([p.astype("category") for p in pieces],
                                              ignore_order=True)
        else:
            joined[name] = pd.concat(pieces, ignore_index=True)
    data = pd.DataFrame(joined)
    problems = [Problem(f"{name}/{p.path}", p.message, p.severity) for name, loaded in parts
                for p in loaded.problems]
    files = [f"{name}/{f}" for name, loaded in parts for f in loaded.files]
    return Loaded(data, problems, files, ", ".join(name for name, _ in parts))
