"""The tidy frame's columns, and its assembly from the integer codes ``analysis.load.results`` reads
asv's files into: one long-form DataFrame, categoricals for the file and benchmark columns,
Int64 for integer parameters, floats for the statistics. The schema lives here, the reading in
``analysis.load.results``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis.load.asv_files import literal
from benchmarks.regimes import Regime

#: Parameters that are integers whatever the literal looks like (the suite's grid).
INT_PARAMS = Regime.INTS
#: The parameters of the suite before regimes (results committed up to 5c96a7d2), in its order.
OLD_GRID = ("device", "cell", "batch", "max_len", "lengths", "hidden", "layers", "dtype",
            "strategy")
#: The suite's parameters, always present as columns (empty frames included).
KNOWN_PARAMS = (*OLD_GRID[:-1], *(name for name in Regime.FIELDS if name not in OLD_GRID),
                "regime", "strategy")
FILE_COLUMNS = ("machine", "hardware", "facts", "device_name", "commit", "date", "env", "python",
                "cpu", "torch", "cuda", "cudnn", "gpu", "cudnn_allow_tf32", "allocator",
                "threads")
BENCH_COLUMNS = ("benchmark", "metric", "kind", "unit")
#: asv's result column -> ours.
STATS = {"result": "value", "stats_ci_99_a": "ci_low", "stats_ci_99_b": "ci_high",
         "stats_q_25": "q25", "stats_q_75": "q75", "stats_number": "number",
         "stats_repeat": "repeat"}
STAT_COLUMNS = (*STATS.values(), "samples")
#: The columns held as categoricals of codes (``Codes``) while loading.
CATEGORIES = (*(c for c in FILE_COLUMNS if c not in ("date", "threads")), *BENCH_COLUMNS, "file")


class Codes(dict):
    """Values -> dense integer codes in order of first sight (categoricals built at the end)."""

    def code(self, value: Any) -> int:
        return self.setdefault(value, len(self))


def extra_params(df: pd.DataFrame) -> list[str]:
    """Parameter columns of ``df`` beyond the suite's grid (``compile`` of the compile
    sub-grid, say): NaN where a benchmark lacks the parameter."""
    fixed = {*FILE_COLUMNS, *BENCH_COLUMNS, *KNOWN_PARAMS, *STAT_COLUMNS, "rejected", "file"}
    return [name for name in df.columns if name not in fixed]


def assemble(files: list[dict[str, Any]], chunks: list[dict[str, Any]],
             codes: dict[str, Codes], param_codes: dict[str, Codes]) -> pd.DataFrame:
    """The tidy frame of what ``analysis.load.results`` read: per file the codes of its file-level
    columns (``files``), per benchmark of a file its points' codes and values (``chunks``), and
    the value of each code (``codes``: file and benchmark columns; ``param_codes``: parameters)."""
    def categorical(name: str, values: Any, repeats: np.ndarray | None = None
                    ) -> pd.Categorical:
        """Codes of ``codes[name]`` (each repeated ``repeats`` times) as a categorical."""
        values = np.asarray(values, dtype=code_dtype(len(codes[name])))
        if repeats is not None:
            values = values.repeat(repeats)
        return pd.Categorical.from_codes(values, categories=pd.Index(list(codes[name]),
                                                                     dtype=object))

    if not chunks:
        return empty_frame()
    ns = np.array([c["n"] for c in chunks], dtype=np.int64)
    total = int(ns.sum())
    params = {name: np.full(total, -1, dtype=code_dtype(len(table)))
              for name, table in param_codes.items()}
    rows = {"device_name": np.full(total, -1, dtype=np.int32), "samples":
            np.full(total, None, dtype=object), "rejected": np.zeros(total, dtype=bool),
            **{n: np.empty(total) for n in STATS.values()}}
    for chunk, end in zip(chunks, np.cumsum(ns), strict=True):
        at = slice(end - chunk["n"], end)
        for name, found in chunk["params"].items():
            params[name][at] = found
        for name, values in chunk["rows"].items():
            rows[name][at] = values
    # Chunks are appended file by file: a file's rows are contiguous, so per-file and
    # per-chunk columns are np.repeat (fast), not a gather.
    per_file = np.bincount([c["file"] for c in chunks], weights=ns,
                           minlength=len(files)).astype(np.int64)
    out: dict[str, Any] = {}
    for name in FILE_COLUMNS:
        if name == "device_name":
            out[name] = categorical(name, rows["device_name"])
        elif name == "date":
            dates = pd.DatetimeIndex([f["date"] for f in files])
            out[name] = dates.as_unit("us").repeat(per_file)
        elif name == "threads":
            out[name] = pd.array([f["threads"] for f in files],
                                 dtype="Int64").repeat(per_file)
        else:
            out[name] = categorical(name, [f[name] for f in files], per_file)
    for name in BENCH_COLUMNS:
        out[name] = categorical(name, [c["bench"][name] for c in chunks], ns)
    ordered = list(KNOWN_PARAMS) + [p for p in param_codes if p not in KNOWN_PARAMS]
    for name in ordered:
        out[name] = typed_param(name, list(param_codes[name]), params[name])
    for name in STAT_COLUMNS:
        integer = name in ("number", "repeat")  # whole numbers (judged): NaN -> <NA>
        out[name] = pd.array(rows[name], dtype="Int64") if integer else rows[name]
    out["rejected"] = rows["rejected"]
    out["file"] = categorical("file", [f["file"] for f in files], per_file)
    return pd.DataFrame(out, copy=False)


def code_dtype(n_categories: int) -> type:
    """The integer type pandas keeps categorical codes in (no conversion of 7M codes later)."""
    if n_categories < 127:
        return np.int8
    return np.int16 if n_categories < 32767 else np.int32


def typed_param(name: str, reprs: Sequence[str], codes: np.ndarray) -> Any:
    """A parameter column: Int64 for integer literals, float for numbers, else categorical."""
    values = [literal(r) for r in reprs]
    present = [v for v in values if v is not None]
    missing = (codes < 0) | np.isin(codes, [i for i, v in enumerate(values) if v is None])
    if name in INT_PARAMS or (present and all(isinstance(v, int) and not isinstance(v, bool)
                                              for v in present)):
        try:
            ints = np.array([0 if v is None else int(v) for v in values] + [0], dtype=np.int64)
        except (TypeError, ValueError, OverflowError):  # e.g. 1e999, 10**30: not an int64
            pass
        else:
            return pd.arrays.IntegerArray(ints[codes], missing)  # code -1 -> the trailing 0
    numbers = present and all(isinstance(v, int | float) and not isinstance(v, bool)
                              for v in present)
    if numbers and all(abs(v) < 2 ** 1024 for v in present):  # float() of a larger int raises
        return np.array([np.nan if v is None else float(v) for v in values] + [np.nan])[codes]
    labels = [None if v is None else str(v) for v in values]
    categories = list(dict.fromkeys(label for label in labels if label is not None))
    codes = np.array([-1 if label is None else categories.index(label) for label in labels]
                     + [-1], dtype=codes.dtype)[codes]  # code -1 -> the trailing -1
    return pd.Categorical.from_codes(codes, categories=pd.Index(categories, dtype=object))


def empty_frame() -> pd.DataFrame:
    """The tidy schema with no rows."""
    ints = (*INT_PARAMS, "threads", "number", "repeat")
    dtypes = {"date": "datetime64[us, UTC]", **dict.fromkeys(ints, "Int64"), "samples": object,
              "rejected": bool,
              **dict.fromkeys(("value", "ci_low", "ci_high", "q25", "q75"), "float64")}
    names = FILE_COLUMNS + BENCH_COLUMNS + KNOWN_PARAMS + STAT_COLUMNS + ("rejected", "file")
    return pd.DataFrame({name: pd.Series([], dtype=dtypes.get(name, "category"))
                         for name in names})


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categoricals -> plain values (merges between frames of different origins stay simple)."""
    return frame.astype({name: object for name in frame.columns
                         if isinstance(frame[name].dtype, pd.CategoricalDtype)})
