"""The loader's problems for a reader: grouped by kind, each kind with how many files it
concerns and the action that clears it. Pure: problems in, DataFrames out."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import PurePosixPath

import pandas as pd

from analysis.load.loaded import Loaded
from analysis.load.results import Problem
from analysis.load.tidy import plain

#: (pattern of the message, what kind of problem, the action that clears it), first match wins.
KINDS: tuple[tuple[str, str, str], ...] = (
    (r"^one machine name, \d+ different hardware",
     "one machine name holds results of different hardware",
     "move one hardware's files (and a machine.json) into results/<a name of its own>/ "
     "(scripts/main_job.py derives one from the hardware); the history splits the series at "
     "the change until then"),
    (r"^partial run", "partial run: benchmarks missing from the machine's newest file",
     "run the missing groups: python3 scripts/main_job.py measures only what is missing"),
    (r"^benchmarks the suite in benchmarks\.json does not have",
     "benchmarks an older suite had, left out",
     "none needed: results of an older suite; their points are left out"),
    (r"^benchmarks not in benchmarks\.json, read as",
     "benchmarks since moved, read under today's name",
     "none needed: matched to today's benchmark by method name"),
    (r"^recorded by a different version of the suite",
     "recorded by an older version of a benchmark",
     "none needed (loaded, parameters matched by name); a run at a current commit "
     "replaces them"),
    (r"value\(s\) not usable", "values implausible for their unit, left out",
     "rerun the benchmark named (the points are kept as not measured)"),
    (r"is not a regime id", "regime ids that cannot be read, points left out",
     "rerun with the current suite, whose regime ids the loader reads"),
    (r"file skipped", "files that could not be read, skipped",
     "repair or remove the file (its message says what is wrong)"),
    (r"^holds no measured value", "files with no measured value",
     "rerun: asv skipped every point of the file"),
    (r"^says machine .* but lies in folder", "a file filed under another machine's folder",
     "move the file into results/<its machine>/"),
    (r"^commit_hash", "commit hashes that are not hashes", "rerun, or fix the file's commit_hash"),
    (r"^date ", "dates that are not dates", "rerun, or fix the file's date"),
)
OTHER_ACTION = "see the message"


def kind_of(message: str) -> tuple[str, str]:
    """(kind, action) of one problem's message; an unknown message is its own kind."""
    for pattern, kind, action in KINDS:
        if re.search(pattern, message):
            return kind, action
    return message.split(":", 1)[0][:100], OTHER_ACTION


def _short(path: str) -> str:
    """A results file by machine and commit (``cpu-2core/4c876751``), other paths as given."""
    parts = PurePosixPath(path).parts
    name = parts[-1] if parts else path
    if name.endswith(".json") and re.match(r"[0-9a-f]{8}-", name):
        return "/".join([*parts[-2:-1], name[:8]])
    return path


def table(problems: Sequence[Problem]) -> pd.DataFrame:
    """One row per problem: severity, file, problem (the message), kind and action."""
    rows = [{"severity": p.severity, "file": p.path, "problem": p.message,
             **dict(zip(("kind", "action"), kind_of(p.message), strict=True))}
            for p in problems]
    return pd.DataFrame(rows, columns=["severity", "file", "problem", "kind", "action"])


def grouped(problems: Sequence[Problem]) -> pd.DataFrame:
    """One row per severity and kind, errors first, then what needs an action, then by count:
    ``count`` (problems),
    ``files`` (short names, comma-joined) and the ``action`` that clears them."""
    cols = ["severity", "kind", "count", "files", "action"]
    rows = table(problems)
    if rows.empty:
        return pd.DataFrame(columns=cols)
    out = rows.groupby(["severity", "kind", "action"], sort=False).agg(
        count=("file", "size"),
        files=("file", lambda f: ", ".join(dict.fromkeys(_short(x) for x in f)))).reset_index()
    out["_rank"] = (out["severity"] != "error").astype(int) \
        + out["action"].str.startswith("none needed").astype(int)
    return out.sort_values(["_rank", "count"], ascending=[True, False], kind="stable")[cols] \
        .reset_index(drop=True)


def lines(shown: Sequence[Problem]) -> list[str]:
    """What a command prints of them: errors in full, warnings by kind with what clears them."""
    out = [str(p) for p in shown if p.severity == "error"]
    for kind in grouped([p for p in shown if p.severity != "error"]).itertuples():
        files = kind.files if len(kind.files) <= 120 else kind.files[:117] + "..."
        out.append(f"{kind.severity} ×{kind.count}: {kind.kind} ({files}); {kind.action}")
    return out


def shown_problems(loaded: Loaded) -> tuple[list[Problem], int]:
    """The problems the report shows, and how many it leaves out: a "partial run" warning of a
    results file that is not its machine's newest is history, not something to fix."""
    df = loaded.data
    newest: set[str] = set()
    if not df.empty and df["value"].notna().any():
        files = plain(df.loc[df["value"].notna(), ["machine", "date", "file"]])
        files = files.drop_duplicates()
        last = files.groupby("machine")["date"].transform("max")
        newest = {str(f) for f in files.loc[files["date"] == last, "file"]}
    shown = [p for p in loaded.problems
             if not ("partial run" in p.message and p.severity == "warning"
                     and not any(p.path.endswith(f) for f in newest))]
    return shown, len(loaded.problems) - len(shown)
