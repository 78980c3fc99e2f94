"""asv results tree -> one tidy, long-form DataFrame (one row per measured or skipped point).

With ``analysis.asv_files``, the only module besides the report writer that touches files. It
parses asv's files itself (``asv_files``: orjson when installed, else stdlib ``json``) because
``asv.results.Results.load`` builds a Python dict per point, far too slow for a hundred
full-grid runs, and its errors do not say which file or what was wrong. Columns are built as
integer codes shared by all files and turned into categoricals once, at the end: 100 commits of
the full grid (6.9 M rows) load in about 4 s here (7 s with stdlib json); see
``scripts/bench_load.py``. Judging every value (``analysis.judge``) adds about a fifth (20 such
commits with raw samples, 2.5 M rows: 5.7 s against 4.6 s without, on a shared 2-core box).

Layout read (asv 0.6): ``<results>/benchmarks.json`` names every benchmark's parameters, type
and unit; ``<results>/<machine>/machine.json`` describes a machine; ``<results>/<machine>/
<sha8>-<env>.json`` holds one run: ``result_columns`` and, per benchmark, one list per column,
flattened over the product of the parameter values (``repr()`` strings).

Nothing is fatal to the whole load except a missing or unreadable ``benchmarks.json`` (without
it no parameter has a name): every other defect becomes a :class:`Problem` naming the file and
what was wrong, and the rest is loaded. Every value is judged against its benchmark's unit
(``analysis.judge``): a value that is not a number of the right kind (a boolean, a string, a
list, a negative time, a fractional op count, an infinite error) is reported with its file,
benchmark and parameter values, and left out (NaN), never coerced.

Parameters: the suite's Cartesian grid (device, cell, batch, max_len, lengths, hidden, layers,
dtype, strategy) or, since regimes have ids, ``regime`` + ``strategy``; an id is read back into
the grid's columns, and a ``regime`` column is synthesised for grid results, so every row of
either format has the same columns.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis import asv_files, judge
from analysis.asv_files import Benchmark, Problem, literal

RESULTS_API_VERSION = 2  # asv's results file format
#: Parameters that are integers whatever the literal looks like (the suite's grid).
INT_PARAMS = ("batch", "max_len", "hidden", "layers")
#: The suite's parameters, always present as columns (empty frames included).
KNOWN_PARAMS = ("device", "cell", "batch", "max_len", "lengths", "hidden", "layers", "dtype",
                "regime", "strategy")
FILE_COLUMNS = ("machine", "device_name", "commit", "date", "env", "python", "cpu", "torch",
                "cuda", "cudnn", "gpu", "cudnn_allow_tf32", "threads")
BENCH_COLUMNS = ("benchmark", "metric", "kind", "unit")
STAT_COLUMNS = ("value", "ci_low", "ci_high", "q25", "q75", "number", "repeat", "samples")


def extra_params(df: pd.DataFrame) -> list[str]:
    """Parameter columns of ``df`` beyond the suite's grid (``compile`` of the compile
    sub-grid, say): NaN where a benchmark lacks the parameter."""
    fixed = {*FILE_COLUMNS, *BENCH_COLUMNS, *KNOWN_PARAMS, *STAT_COLUMNS, "file"}
    return [name for name in df.columns if name not in fixed]


#: asv's result column -> ours.
_STATS = {"result": "value", "stats_ci_99_a": "ci_low", "stats_ci_99_b": "ci_high",
          "stats_q_25": "q25", "stats_q_75": "q75", "stats_number": "number",
          "stats_repeat": "repeat"}
_FLOATS = ("value", "ci_low", "ci_high", "q25", "q75", "number", "repeat")
#: What a damaged file can make the reading raise: that file's problem, never the whole load's.
_BAD_DATA = (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError,
             RecursionError, MemoryError)
_CATEGORIES = ("machine", "device_name", "commit", "env", "python", "cpu", "torch", "cuda",
               "cudnn", "gpu", "cudnn_allow_tf32", "benchmark", "metric", "kind", "unit", "file")


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


Progress = Callable[[int, int, str], None]


class _Codes:
    """Values -> dense integer codes, shared by every file (categoricals built once at the end)."""

    def __init__(self) -> None:
        self.index: dict[Any, int] = {}
        self.values: list[Any] = []

    def code(self, value: Any) -> int:
        code = self.index.get(value)
        if code is None:
            code = self.index[value] = len(self.values)
            self.values.append(value)
        return code


#: Benchmarks measured by a command of their own, not by the quick run.
OWN_RUN_PREFIX = "instructions."
#: The parameter names of the suite before regimes (results committed up to 5c96a7d2), by count:
#: what the old results files need to load beside a benchmarks.json of today's suite.
LEGACY_PARAM_NAMES = {
    9: ("device", "cell", "batch", "max_len", "lengths", "hidden", "layers", "dtype", "strategy"),
    10: ("device", "cell", "batch", "max_len", "lengths", "hidden", "layers", "dtype", "strategy",
         "compile"),
}
LEGACY_MODULES = ("strategies", "profiles", "deploy", "compiled")


class _Loader:
    def __init__(self, root: Path, benchmarks: dict[str, Benchmark]) -> None:
        self.root = root
        self.benchmarks = benchmarks
        self.codes = {name: _Codes() for name in _CATEGORIES}
        self.param_codes: dict[str, _Codes] = {name: _Codes() for name in KNOWN_PARAMS}
        self.files: list[dict[str, Any]] = []  # per loaded file: codes of file-level columns
        self.chunks: list[dict[str, Any]] = []
        self.block_cache: dict[Any, tuple[int, dict[str, np.ndarray]]] = {}
        self.problems: list[Problem] = []

    # -- one results file -----------------------------------------------------------------

    def load_file(self, path: Path, machine_dir: str, machine_info: dict[str, Any]) -> bool:
        """One results file into chunks; False (and a Problem) when nothing of it is kept.

        Whatever a damaged file makes the reading raise (a number beyond float64, nesting past
        Python's recursion limit, a value of an unexpected type) is that file's problem: its
        chunks are dropped and the other files load as usual."""
        rel = str(path.relative_to(self.root))
        chunks_before, problems_before = len(self.chunks), len(self.problems)
        try:
            return self._load_file(path, rel, machine_dir, machine_info)
        except _BAD_DATA as err:
            del self.chunks[chunks_before:]
            del self.problems[problems_before:]
            what = ("nests lists or objects too deeply to be read" if isinstance(
                err, RecursionError) else f"holds a value that cannot be used ({str(err)[:120]})")
            self.problems.append(Problem(rel, f"{what} ({type(err).__name__}); file skipped"))
            return False

    def _load_file(self, path: Path, rel: str, machine_dir: str,
                   machine_info: dict[str, Any]) -> bool:
        data, error = asv_files.read_json(path)
        if error is None:
            error = self._check_shape(data)
        if error is not None:
            self.problems.append(Problem(rel, f"{error}; file skipped"))
            return False
        columns = [str(c) for c in data["result_columns"]]
        results: dict[str, Any] = data["results"]
        params = data.get("params") or {}
        if not isinstance(params, dict):
            self.problems.append(Problem(rel, f"'params' is {judge.show(params)}, not an "
                                         "object; machine details left blank", "warning"))
            params = {}
        requirements = data.get("requirements")
        requirements = requirements if isinstance(requirements, dict) else {}
        machine = str(params.get("machine") or machine_dir)
        if machine != machine_dir:
            self.problems.append(Problem(rel, f"says machine {machine!r} but lies in folder "
                                         f"{machine_dir!r}; filed under {machine!r}", "warning"))
        env = self._environment(results, columns)
        cpu = str(params.get("cpu") or machine_info.get("cpu") or "") or f"CPU of {machine}"
        gpu = env.get("gpu")
        file_row = {
            "machine": machine, "commit": self._commit(data["commit_hash"], rel),
            "env": str(data.get("env_name") or ""),
            "python": str(params.get("python") or data.get("python") or ""),
            "cpu": cpu,
            "torch": env.get("torch") or str(requirements.get("torch")
                                             or params.get("torch") or "unknown"),
            "cuda": env.get("cuda") or "unknown", "cudnn": env.get("cudnn") or "unknown",
            "gpu": gpu or "unknown",
            "cudnn_allow_tf32": env.get("cudnn_allow_tf32") or "unknown",
            "file": rel,
        }
        file_codes: dict[str, Any] = {k: self.codes[k].code(v) for k, v in file_row.items()}
        threads = env.get("threads")
        try:
            file_codes["threads"] = int(threads) if threads is not None else None
        except ValueError:
            file_codes["threads"] = None
        file_codes["date"] = self._date(data.get("date"), rel)
        device_names = {"cpu": self.codes["device_name"].code(cpu),
                        "cuda": self.codes["device_name"].code(
                            gpu if gpu and gpu not in ("none", "unknown")
                            else "n/a (no CUDA device)")}
        file_index = len(self.files)
        chunks_before = len(self.chunks)
        skipped: list[str] = []
        retired: list[str] = []
        renamed: list[str] = []
        seen: set[str] = set()
        for name, row in results.items():
            bench = self.benchmarks.get(name)
            if name.endswith("Environment.track_threads"):
                continue
            if bench is None:
                bench = self._same_method(name)
                if bench is None:
                    retired.append(name)
                    continue
                renamed.append(f"{name} as {bench.name}")
            seen.add(bench.name)
            if not isinstance(row, list):
                skipped.append(f"{name}: its row is {judge.show(row)}, not a list of columns")
                continue
            why = self._load_benchmark(bench, dict(zip(columns, row, strict=False)),
                                       file_index, device_names, rel)
            if why:
                skipped.append(why)
        if skipped:
            self.problems.append(Problem(rel, "benchmarks skipped: " + "; ".join(skipped)))
        if retired:  # another version of the suite: not a defect of the file
            self.problems.append(Problem(rel, "benchmarks the suite in benchmarks.json does not "
                                         "have, left out: " + ", ".join(retired), "warning"))
        if renamed:
            self.problems.append(Problem(rel, "benchmarks not in benchmarks.json, read as the "
                                         "one benchmark with the same method name (moved in "
                                         "the suite?): " + ", ".join(renamed), "warning"))
        measured = {n for n in results if n in self.benchmarks}
        # The instruction counts are a command of their own (main_job.py --instructions): a
        # quick run without them, or a file with only them, is complete.
        own = {n for n in self.benchmarks if n.startswith(OWN_RUN_PREFIX)}
        expected = own if seen and seen <= own else set(self.benchmarks) - own
        missing = sorted(n for n in expected if n not in measured | seen
                         and not n.endswith("Environment.track_threads"))
        if missing and len(self.chunks) > chunks_before:
            self.problems.append(Problem(rel, "partial run: no results for "
                                         + ", ".join(missing), "warning"))
        versions = sorted(n for n in measured if self._version_differs(n, results[n], columns))
        if versions:
            self.problems.append(Problem(
                rel, "recorded by a different version of the suite than benchmarks.json "
                "describes (code changed since): " + ", ".join(versions) + "; loaded, with "
                "parameters matched by name and position", "warning"))
        if len(self.chunks) == chunks_before:
            if not skipped:
                self.problems.append(Problem(rel, "holds no benchmark results; file skipped"))
            return False
        if all(np.isnan(c["value"]).all() for c in self.chunks[chunks_before:]):
            self.problems.append(Problem(rel, "holds no measured value: every result is null "
                                         "(asv skipped every point, or the file was blanked); "
                                         "its points are loaded as not measured", "warning"))
        self.files.append(file_codes)
        return True

    def _commit(self, commit: Any, rel: str) -> str:
        """The commit hash as given when it is one; else a label unique to the file, so its
        rows never merge into another commit's."""
        why = judge.commit_problem(commit)
        if why is None:
            return commit
        label = f"unknown:{rel}"
        self.problems.append(Problem(rel, f"commit_hash {judge.show(commit)} is not a commit "
                                     f"hash ({why}; expected 40 hex digits); its rows are "
                                     f"filed under commit {label!r}", "warning"))
        return label

    def _date(self, date: Any, rel: str) -> int | None:
        """The run's date (ms since 1970), or None with a warning when it is not one."""
        why = judge.date_problem(date)
        if why is None:
            return None if date is None else int(date)
        self.problems.append(Problem(rel, f"date {judge.show(date)} is {why}; date left blank",
                                     "warning"))
        return None

    def _same_method(self, name: str) -> Benchmark | None:
        method = name.rsplit(".", 1)[-1]
        matches = [b for b in self.benchmarks.values() if b.name.rsplit(".", 1)[-1] == method]
        return matches[0] if len(matches) == 1 else None

    @staticmethod
    def _check_shape(data: Any) -> str | None:
        if data is None:
            return "holds only JSON null, expected an asv results object"
        if not isinstance(data, dict):
            return f"holds a JSON {type(data).__name__}, expected an asv results object"
        version = data.get("version")
        if version != RESULTS_API_VERSION:
            return (f"asv results format version {version!r}, expected {RESULTS_API_VERSION} "
                    "(written by another asv version, or not an asv results file)")
        for key in ("commit_hash", "result_columns", "results"):
            if key not in data:
                return f"not an asv results file: no {key!r} key"
        if not isinstance(data["results"], dict) or not isinstance(data["result_columns"], list):
            return "not an asv results file: 'results' / 'result_columns' have the wrong type"
        if data["results"] and all(row is None for row in data["results"].values()):
            return f"every benchmark's row is null ({len(data['results'])}): nothing measured"
        return None

    def _version_differs(self, name: str, row: Any, columns: list[str]) -> bool:
        expected = self.benchmarks[name].version
        if expected is None or "version" not in columns or not isinstance(row, list):
            return False
        at = columns.index("version")
        return at < len(row) and row[at] is not None and row[at] != expected

    def _environment(self, results: dict[str, Any], columns: list[str]) -> dict[str, str]:
        name = next((n for n in results if n.endswith("Environment.track_threads")), None)
        bench = self.benchmarks.get(name) if name else None
        if name is None or bench is None or not isinstance(results[name], list):
            return {}
        row = dict(zip(columns, results[name], strict=False))
        values = row.get("params") or []
        if not isinstance(values, list) or len(values) != len(bench.param_names):
            return {}
        env = {}
        for pname, pvalues in zip(bench.param_names, values, strict=True):
            if isinstance(pvalues, list) and pvalues:
                env[pname] = str(literal(pvalues[0]))
        return env

    def _load_benchmark(self, bench: Benchmark, row: dict[str, Any], file_index: int,
                        device_names: dict[str, int], rel: str) -> str | None:
        params = row.get("params")
        if params is None:
            params = []
        if not isinstance(params, list) or not all(isinstance(p, list) for p in params):
            return f"{bench.name}: parameter values are not lists of lists"
        if not all(isinstance(v, str) for p in params for v in p):
            return f"{bench.name}: parameter values are not repr() strings"
        param_names = bench.param_names
        if len(params) != len(param_names):
            legacy = LEGACY_PARAM_NAMES.get(len(params))
            if legacy is None or bench.name.split(".")[0] not in LEGACY_MODULES:
                return (f"{bench.name}: {len(params)} parameter lists, but benchmarks.json "
                        f"names {len(param_names)} ({', '.join(param_names)}): another suite "
                        "version")
            # A results file of the Cartesian suite (before regimes) next to a benchmarks.json
            # of today's: its parameters had these names.
            param_names = legacy
        n = math.prod(len(p) for p in params)
        result = row.get("result")
        if result is not None and (not isinstance(result, list) or len(result) != n):
            got = len(result) if isinstance(result, list) else type(result).__name__
            return (f"{bench.name}: {got} values for {n} parameter combinations (truncated or "
                    "inconsistent)")
        if n == 0:
            return None
        _, codes = self._param_block(param_names, params)
        keep = None
        if "__bad_regimes__" in codes:
            ids, dropped = codes["__bad_regimes__"]
            keep = ~dropped
            self.problems.append(Problem(rel, (
                f"{bench.name}: regime {', '.join(ids)} is not a regime id (expected "
                f"<device>-<cell>-L<layers>-B<batch>-T<max_len>-H<hidden>-<lengths>-<dtype>, "
                f"e.g. {judge.REGIME_EXAMPLE}); its {int(dropped.sum())} point(s) left out")))
            if not keep.any():
                return None
        chunk: dict[str, Any] = {"file": file_index, "n": n, "params": codes,
                                 "bench": {k: self.codes[k].code(v) for k, v in
                                           (("benchmark", bench.name),
                                            ("metric", bench.name.rsplit(".", 1)[-1]),
                                            ("kind", bench.kind), ("unit", bench.unit))}}
        if "__device_names__" in codes:
            values, local = codes["__device_names__"]
            lookup = np.array([device_names.get(v, device_names["cpu"]) for v in values],
                              dtype=np.int32)
            chunk["device_name"] = lookup[local]
        judged = judge.judge_columns(row, n, bench.kind, bench.unit)
        if isinstance(judged, str):
            return f"{bench.name}: {judged}"
        columns, left_out = judged
        for key, column in _STATS.items():
            chunk[column] = columns[key]
        if "samples" in columns:
            chunk["samples"] = columns["samples"]
        if keep is not None:
            left_out = [e for e in left_out if e[1] < 0 or keep[e[1]]]
            chunk["n"] = int(keep.sum())
            chunk["params"] = {k: v if k.startswith("__") else v[keep] for k, v in codes.items()}
            for name in (*_FLOATS, "samples", "device_name"):
                if name in chunk:
                    chunk[name] = chunk[name][keep]
        if left_out:
            message, severity = judge.left_out_message(bench.name, param_names, params,
                                                       left_out)
            self.problems.append(Problem(rel, message, severity))
        self.chunks.append(chunk)
        return None

    def _param_code(self, name: str, value: Any) -> int:
        """The code of a parameter value given as a Python value (stored as its repr)."""
        return self.param_codes.setdefault(name, _Codes()).code(repr(value))

    def _param_block(self, names: tuple[str, ...], params: list[list[str]]
                     ) -> tuple[int, dict[str, Any]]:
        key = (names, json.dumps(params))
        cached = self.block_cache.get(key)
        if cached is not None:
            return cached
        shape = tuple(len(p) for p in params)
        local = np.indices(shape, dtype=np.int32).reshape(len(shape), -1) if shape else \
            np.zeros((0, 1), dtype=np.int32)
        codes: dict[str, Any] = {}
        for i, (name, values) in enumerate(zip(names, params, strict=True)):
            table = self.param_codes.setdefault(name, _Codes())
            lookup = np.array([table.code(v) for v in values], dtype=np.int32)
            codes[name] = lookup[local[i]]
            if name == "device":
                codes["__device_names__"] = ([str(literal(v)) for v in values], local[i])
        codes.update(judge.regime_codes(names, [[literal(v) for v in p] for p in params],
                                        local, self._param_code))
        block = (int(np.prod(shape)) if shape else 1, codes)
        self.block_cache[key] = block
        return block

    # -- the frame --------------------------------------------------------------------------

    def frame(self) -> pd.DataFrame:
        if not self.chunks:
            return empty_frame()
        ns = np.array([c["n"] for c in self.chunks], dtype=np.int64)
        total = int(ns.sum())
        # Chunks are appended file by file: a file's rows are contiguous, so per-file and
        # per-chunk columns are np.repeat (fast), not a gather.
        per_file_rows = np.bincount([c["file"] for c in self.chunks], weights=ns,
                                    minlength=len(self.files)).astype(np.int64)
        out: dict[str, Any] = {}
        for name in (*FILE_COLUMNS, "file"):
            if name == "device_name":
                out[name] = None  # filled below, keeps the column order
            elif name == "date":
                dates = pd.DatetimeIndex(
                    [pd.Timestamp(f["date"], unit="ms", tz="UTC") if f["date"] is not None
                     else pd.NaT for f in self.files]).as_unit("us")
                out[name] = dates.repeat(per_file_rows)
            elif name == "threads":
                threads = pd.array([f["threads"] for f in self.files], dtype="Int64")
                out[name] = threads.repeat(per_file_rows)
            else:
                per_file = np.array([f[name] for f in self.files],
                                    dtype=_code_dtype(len(self.codes[name].values)))
                out[name] = self._categorical(name, per_file.repeat(per_file_rows))
        names = np.full(total, -1, dtype=np.int32)
        bench_cols = {k: np.array([c["bench"][k] for c in self.chunks],
                                  dtype=_code_dtype(len(self.codes[k].values))).repeat(ns)
                      for k in BENCH_COLUMNS}
        params = {name: np.full(total, -1, dtype=_code_dtype(len(table.values)))
                  for name, table in self.param_codes.items()}
        stats = {name: np.empty(total, dtype=np.float64) for name in _FLOATS}
        samples = np.full(total, None, dtype=object)
        start = 0
        for chunk, n in zip(self.chunks, ns, strict=True):
            stop = start + int(n)
            for name, codes in chunk["params"].items():
                if not name.startswith("__"):
                    params[name][start:stop] = codes
            if "device_name" in chunk:
                names[start:stop] = chunk["device_name"]
            for name in _FLOATS:
                stats[name][start:stop] = chunk[name]
            if "samples" in chunk:
                samples[start:stop] = chunk["samples"]
            start = stop
        out["device_name"] = self._categorical(
            "device_name", names.astype(_code_dtype(len(self.codes["device_name"].values))))
        for k in BENCH_COLUMNS:
            out[k] = self._categorical(k, bench_cols[k])
        ordered = list(KNOWN_PARAMS) + [p for p in self.param_codes if p not in KNOWN_PARAMS]
        for name in ordered:
            out[name] = _typed_param(name, self.param_codes[name].values, params[name])
        for name in ("value", "ci_low", "ci_high", "q25", "q75"):
            out[name] = stats[name]
        for name in ("number", "repeat"):
            nan = np.isnan(stats[name])
            with np.errstate(invalid="ignore"):
                ints = stats[name].astype(np.int64)  # NaN -> garbage, masked
            out[name] = pd.arrays.IntegerArray(ints, nan)
        out["samples"] = samples
        out["file"] = out.pop("file")
        return pd.DataFrame(out, copy=False)

    def _categorical(self, name: str, codes: np.ndarray) -> pd.Categorical:
        return pd.Categorical.from_codes(codes, categories=pd.Index(self.codes[name].values,
                                                                    dtype=object))


def _code_dtype(n_categories: int) -> type:
    """The integer type pandas keeps categorical codes in (no conversion of 7M codes later)."""
    if n_categories < 127:
        return np.int8
    if n_categories < 32767:
        return np.int16
    return np.int32


def _typed_param(name: str, reprs: Sequence[str], codes: np.ndarray) -> Any:
    """A parameter column: Int64 for integer literals, float for numbers, else categorical."""
    values = [literal(r) for r in reprs]
    present = [v for v in values if v is not None]
    none = [i for i, v in enumerate(values) if v is None]
    missing = codes < 0
    if none:
        missing |= np.isin(codes, none)
    any_missing = bool(missing.any())
    if name in INT_PARAMS or (present and all(isinstance(v, int) and not isinstance(v, bool)
                                              for v in present)):
        try:
            ints = np.array([int(v) if v is not None else 0 for v in values] + [0],
                            dtype=np.int64)
        except (TypeError, ValueError):
            pass
        else:
            return pd.arrays.IntegerArray(ints[codes], missing)  # code -1 -> the trailing 0
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        floats = np.array([float(v) if v is not None else np.nan for v in values] + [np.nan])
        return floats[codes]
    labels = [str(v) if v is not None else None for v in values]
    categories = list(dict.fromkeys(label for label in labels if label is not None))
    if categories == labels and not any_missing:
        return pd.Categorical.from_codes(codes, categories=pd.Index(categories, dtype=object))
    remap = np.array([categories.index(label) if label is not None else -1 for label in labels]
                     + [-1], dtype=codes.dtype)
    return pd.Categorical.from_codes(remap[codes], categories=pd.Index(categories, dtype=object))


def empty_frame() -> pd.DataFrame:
    """The tidy schema with no rows."""
    out: dict[str, Any] = {}
    for name in FILE_COLUMNS + BENCH_COLUMNS + KNOWN_PARAMS + STAT_COLUMNS + ("file",):
        if name == "date":
            out[name] = pd.Series([], dtype="datetime64[us, UTC]")
        elif name in INT_PARAMS or name in ("threads", "number", "repeat"):
            out[name] = pd.Series([], dtype="Int64")
        elif name in ("value", "ci_low", "ci_high", "q25", "q75"):
            out[name] = pd.Series([], dtype="float64")
        elif name == "samples":
            out[name] = pd.Series([], dtype=object)
        else:
            out[name] = pd.Series(pd.Categorical([]))
    return pd.DataFrame(out)


def load_results(results_dir: str | Path, progress: Progress | None = None) -> Loaded:
    """Every results file under ``results_dir`` (all machines, all commits) as one tidy frame.

    Columns: machine, device_name (the CPU model for ``device='cpu'`` rows, the GPU for
    ``'cuda'``), commit, date (UTC), env, python, cpu, torch, cuda, cudnn, gpu,
    cudnn_allow_tf32, threads (from the suite's Environment benchmark), benchmark (asv name),
    metric (method name), kind (time / memory / error / track), unit, every parameter (device,
    cell, batch, max_len, lengths, hidden, layers, dtype, strategy: ints as Int64, the rest
    categorical), value, ci_low / ci_high (asv's 99% interval), q25, q75, number, repeat,
    samples (a tuple per point when asv recorded them, else None) and file. Skipped points are
    rows with ``value`` NaN, never 0.
    """
    root = Path(results_dir)
    problems: list[Problem] = []
    if not root.exists():
        problems.append(Problem(str(root), "results folder does not exist"))
        return Loaded(empty_frame(), problems, [], str(root))
    if not root.is_dir():
        problems.append(Problem(str(root), "is not a folder (expected an asv results folder)"))
        return Loaded(empty_frame(), problems, [], str(root))
    machine_dirs = sorted(p for p in root.iterdir() if p.is_dir())
    targets = [(d, f) for d in machine_dirs for f in asv_files.results_files(d)]
    if not targets:
        what = "is empty" if not any(root.iterdir()) else "holds no results files"
        problems.append(Problem(str(root), f"{what} (expected <machine>/<commit>-<env>.json "
                                "files written by asv run)"))
        return Loaded(empty_frame(), problems, [], str(root))
    benchmarks = asv_files.read_benchmarks(root / "benchmarks.json", problems)
    if benchmarks is None:
        return Loaded(empty_frame(), problems, [], str(root))
    loader = _Loader(root, benchmarks)
    machines = {d: asv_files.read_machine(d / "machine.json", loader.problems)
                for d in machine_dirs}
    loaded: list[str] = []
    for i, (machine_dir, path) in enumerate(targets):
        if loader.load_file(path, machine_dir.name, machines[machine_dir]):
            loaded.append(str(path.relative_to(root)))
        if progress is not None:
            progress(i + 1, len(targets), path.name)
    frame = loader.frame()
    return Loaded(frame, problems + loader.problems, loaded, str(root))
