"""asv results tree -> one tidy, long-form DataFrame (one row per measured or skipped point).

Parsed here, not by ``asv.results.Results.load`` (a dict per point: far too slow for a hundred
full-grid runs; errors that do not name the file), into integer codes shared by all files that
become categoricals once, at the end. Only a missing or unreadable ``benchmarks.json`` stops the
load: every other defect is a :class:`Problem` naming the file, and the rest is loaded. Values
are judged against their unit (``analysis.judge``), left out (NaN) when unusable, never coerced.
Regime ids (``benchmarks.regimes.Regime``) and the grid's columns are read into each other: both
formats have the same columns.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis import asv_files, judge
from analysis.asv_files import Benchmark, Problem, literal
from benchmarks.regimes import Regime
from birnn_bench import hardware

RESULTS_API_VERSION = 2  # asv's results file format
#: Parameters that are integers whatever the literal looks like (the suite's grid).
INT_PARAMS = Regime.INTS
#: The parameters of the suite before regimes (results committed up to 5c96a7d2), in its order.
_GRID = ("device", "cell", "batch", "max_len", "lengths", "hidden", "layers", "dtype",
         "strategy")
#: The suite's parameters, always present as columns (empty frames included).
KNOWN_PARAMS = (*_GRID[:-1], *(name for name in Regime.FIELDS if name not in _GRID), "regime",
                "strategy")
FILE_COLUMNS = ("machine", "hardware", "facts", "device_name", "commit", "date", "env", "python",
                "cpu", "torch", "cuda", "cudnn", "gpu", "cudnn_allow_tf32", "threads")
BENCH_COLUMNS = ("benchmark", "metric", "kind", "unit")
#: asv's result column -> ours.
_STATS = {"result": "value", "stats_ci_99_a": "ci_low", "stats_ci_99_b": "ci_high",
          "stats_q_25": "q25", "stats_q_75": "q75", "stats_number": "number",
          "stats_repeat": "repeat"}
STAT_COLUMNS = (*_STATS.values(), "samples")
#: What a damaged file can make the reading raise: that file's problem, never the whole load's.
_BAD_DATA = (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError,
             RecursionError, MemoryError)
_CATEGORIES = (*(c for c in FILE_COLUMNS if c not in ("date", "threads")), *BENCH_COLUMNS, "file")
_ENVIRONMENT = "Environment.track_threads"
#: Benchmarks measured by a command of their own, not by the quick run.
OWN_RUN_PREFIX = "instructions."
#: The parameter names of the suite before regimes, by count: what the old results files need to
#: load beside a benchmarks.json of today's suite.
LEGACY_PARAM_NAMES = {9: _GRID, 10: (*_GRID, "compile")}
LEGACY_MODULES = ("strategies", "profiles", "deploy", "compiled")
Progress = Callable[[int, int, str], None]
_COMMIT = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
_HEX = re.compile(r"[0-9a-fA-F]+")


def _parse(text: Any) -> dict[str, Any] | None:
    """The id fields of a regime id, or None when ``text`` is not one."""
    try:
        return Regime.parse(text).fields()
    except ValueError:
        return None


def extra_params(df: pd.DataFrame) -> list[str]:
    """Parameter columns of ``df`` beyond the suite's grid (``compile`` of the compile
    sub-grid, say): NaN where a benchmark lacks the parameter."""
    fixed = {*FILE_COLUMNS, *BENCH_COLUMNS, *KNOWN_PARAMS, *STAT_COLUMNS, "rejected", "file"}
    return [name for name in df.columns if name not in fixed]


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


class _Codes(dict):
    """Values -> dense integer codes in order of first sight (categoricals built at the end)."""

    def code(self, value: Any) -> int:
        return self.setdefault(value, len(self))


class _Loader:
    def __init__(self, root: Path, benchmarks: dict[str, Benchmark]) -> None:
        self.root = root
        self.benchmarks = benchmarks
        self.codes = {name: _Codes() for name in _CATEGORIES}
        self.param_codes: dict[str, _Codes] = {name: _Codes() for name in KNOWN_PARAMS}
        self.files: list[dict[str, Any]] = []  # per loaded file: codes of file-level columns
        self.chunks: list[dict[str, Any]] = []  # per benchmark of a file: codes and values
        self.block_cache: dict[Any, tuple] = {}
        self.problems: list[Problem] = []
        self.rel = ""  # the results file being read
        #: machine -> [(file, its hardware facts)]: one name must stand for one machine.
        self.hardware: dict[str, list[tuple[str, dict[str, str]]]] = {}

    def load_file(self, path: Path, machine_dir: str, machine_info: dict[str, Any]) -> bool:
        """One results file into chunks; False (and a Problem) when nothing of it is kept.
        Whatever a damaged file makes the reading raise drops that file's chunks only."""
        self.rel = str(path.relative_to(self.root))
        chunks_before, problems_before = len(self.chunks), len(self.problems)
        try:
            return self._load_file(path, machine_dir, machine_info)
        except _BAD_DATA as err:
            del self.chunks[chunks_before:]
            del self.problems[problems_before:]
            what = ("nests lists or objects too deeply to be read" if isinstance(
                err, RecursionError) else f"holds a value that cannot be used ({str(err)[:120]})")
            self._note(f"{what} ({type(err).__name__}); file skipped")
            return False

    def _note(self, message: str, severity: str = "error") -> None:
        self.problems.append(Problem(self.rel, message, severity))

    def _load_file(self, path: Path, machine_dir: str, machine_info: dict[str, Any]) -> bool:
        data, error = asv_files.read_json(path)
        error = error or _shape_problem(data)
        if error is not None:
            self._note(f"{error}; file skipped")
            return False
        columns = [str(c) for c in data["result_columns"]]
        results: dict[str, Any] = data["results"]
        params = data.get("params") or {}
        if not isinstance(params, dict):
            self._note(f"'params' is {judge.show(params)}, not an object; machine details left "
                       "blank", "warning")
            params = {}
        requirements = data.get("requirements")
        torch = requirements.get("torch") if isinstance(requirements, dict) else None
        machine = str(params.get("machine") or machine_dir)
        if machine != machine_dir:
            self._note(f"says machine {machine!r} but lies in folder {machine_dir!r}; filed "
                       f"under {machine!r}", "warning")
        env = self._environment(results, columns)
        cpu = str(params.get("cpu") or machine_info.get("cpu") or "") or f"CPU of {machine}"
        facts = {k: str(params[k]) for k in hardware.COMPARED if params.get(k) not in (None, "")}
        self.hardware.setdefault(machine, []).append((self.rel, facts))
        file_row = {"machine": machine, "commit": self._commit(data["commit_hash"]),
                    "hardware": hardware.describe({"cpu": cpu, **facts}),
                    # the recorded facts themselves (JSON), for a policy keyed by hardware
                    "facts": json.dumps({"cpu": cpu, **facts}, sort_keys=True),
                    "env": str(data.get("env_name") or ""),
                    "python": str(params.get("python") or data.get("python") or ""),
                    "cpu": cpu,
                    "torch": env.get("torch") or str(torch or params.get("torch") or "unknown"),
                    **{k: env.get(k) or "unknown" for k in ("cuda", "cudnn", "gpu",
                                                            "cudnn_allow_tf32")},
                    "file": self.rel}
        file_codes: dict[str, Any] = {k: self.codes[k].code(v) for k, v in file_row.items()}
        try:
            file_codes["threads"] = int(env["threads"]) if "threads" in env else None
        except ValueError:
            file_codes["threads"] = None
        file_codes["date"] = self._date(data.get("date"))
        gpu = env.get("gpu") or "none"
        names = self.codes["device_name"]
        device_names = {"cpu": names.code(cpu), "cuda": names.code(
            "n/a (no CUDA device)" if gpu in ("none", "unknown") else gpu)}
        chunks_before = len(self.chunks)
        skipped: list[str] = []
        retired: list[str] = []
        renamed: list[str] = []
        seen: set[str] = set()
        for name, row in results.items():
            if name.endswith(_ENVIRONMENT):
                continue
            bench = self.benchmarks.get(name) or self._same_method(name)
            if bench is None:
                retired.append(name)
                continue
            if bench.name != name:
                renamed.append(f"{name} as {bench.name}")
            seen.add(bench.name)
            if not isinstance(row, list):
                skipped.append(f"{name}: its row is {judge.show(row)}, not a list of columns")
                continue
            why = self._load_benchmark(bench, dict(zip(columns, row, strict=False)),
                                       len(self.files), device_names)
            if why:
                skipped.append(why)
        self._check_intervals(chunks_before)
        if skipped:
            self._note("benchmarks skipped: " + "; ".join(skipped))
        if retired:  # another version of the suite: not a defect of the file
            self._note("benchmarks the suite in benchmarks.json does not have, left out: "
                       + ", ".join(retired), "warning")
        if renamed:
            self._note("benchmarks not in benchmarks.json, read as the one benchmark with the "
                       "same method name (moved in the suite?): " + ", ".join(renamed), "warning")
        # The instruction counts are a command of their own (main_job.py --instructions): a
        # quick run without them, or a file with only them, is complete.
        own = {n for n in self.benchmarks if n.startswith(OWN_RUN_PREFIX)}
        expected = own if seen and seen <= own else set(self.benchmarks) - own
        missing = sorted(n for n in expected - seen if not n.endswith(_ENVIRONMENT))
        if missing and len(self.chunks) > chunks_before:
            self._note("partial run: no results for " + ", ".join(missing), "warning")
        versions = sorted(n for n in results if n in self.benchmarks
                          and self._version_differs(n, results[n], columns))
        if versions:
            self._note("recorded by a different version of the suite than benchmarks.json "
                       "describes (code changed since): " + ", ".join(versions) + "; loaded, "
                       "with parameters matched by name and position", "warning")
        if len(self.chunks) == chunks_before:
            if not skipped:
                self._note("holds no benchmark results; file skipped")
            return False
        if all(np.isnan(c["rows"]["value"]).all() for c in self.chunks[chunks_before:]):
            self._note("holds no measured value: every result is null (asv skipped every point, "
                       "or the file was blanked); its points are loaded as not measured",
                       "warning")
        self.files.append(file_codes)
        return True

    def _check_intervals(self, first: int) -> None:
        """An estimate with its 99% interval in two more series (``<name>_low``, ``_high``, of
        the same points: the paired ratios) lies within it, as the engine writes it; a point
        where it does not is corrupt: its three values are left out and named."""
        chunks = {chunk["name"]: chunk for chunk in self.chunks[first:]}
        for name, estimate in chunks.items():
            low, high = chunks.get(f"{name}_low"), chunks.get(f"{name}_high")
            if low is None or high is None or not (_same_points(estimate, low)
                                                   and _same_points(estimate, high)):
                continue
            e, lo, hi = (chunk["rows"]["value"] for chunk in (estimate, low, high))
            with np.errstate(invalid="ignore"):
                bad = ~(np.isnan(e) | np.isnan(lo) | np.isnan(hi)) & ~((lo <= e) & (e <= hi))
            if not bad.any():
                continue
            names, params, points = estimate["where"]
            short = name.rsplit(".", 1)[-1]
            self._note(*judge.left_out_message(name, names, params, [
                ("result", int(points[i]), float(e[i]), f"outside its own 99% interval "
                 f"[{lo[i]:g}, {hi[i]:g}] ({short}_low, _high; left out with it)")
                for i in np.flatnonzero(bad)]))
            for chunk in (estimate, low, high):
                for column, values in chunk["rows"].items():
                    if column == "samples":
                        values[bad] = None
                    elif column == "rejected":
                        values[bad] = True
                    elif column != "device_name":
                        values[bad] = np.nan

    def _commit(self, commit: Any) -> str:
        """The commit hash (40 or 64 hex digits) when it is one; else a label unique to the
        file, so its rows never merge into another commit's."""
        if isinstance(commit, str) and _COMMIT.fullmatch(commit):
            return commit
        if isinstance(commit, str):
            why = "too short" if _HEX.fullmatch(commit) else "not hex digits"
        else:
            number = isinstance(commit, int | float) and not isinstance(commit, bool)
            why = "a number" if number else judge.type_name(commit)
        label = f"unknown:{self.rel}"
        self._note(f"commit_hash {judge.show(commit)} is not a commit hash ({why}; expected 40 "
                   f"hex digits); its rows are filed under commit {label!r}", "warning")
        return label

    def _date(self, date: Any) -> pd.Timestamp | None:
        """The run's date (given in ms since 1970), or None with a warning when it is not one
        that pandas can represent."""
        if date is None:
            return None
        if isinstance(date, bool) or not isinstance(date, int | float):
            why = f"{judge.type_name(date)}, not milliseconds since 1970"
        else:
            try:
                return pd.Timestamp(int(date), unit="ms", tz="UTC")
            except (OverflowError, ValueError):
                why = "not a date pandas can represent"
        self._note(f"date {judge.show(date)} is {why}; date left blank", "warning")
        return None

    def _same_method(self, name: str) -> Benchmark | None:
        method = name.rsplit(".", 1)[-1]
        matches = [b for b in self.benchmarks.values() if b.name.rsplit(".", 1)[-1] == method]
        return matches[0] if len(matches) == 1 else None

    def _version_differs(self, name: str, row: Any, columns: list[str]) -> bool:
        expected = self.benchmarks[name].version
        if expected is None or "version" not in columns or not isinstance(row, list):
            return False
        at = columns.index("version")
        return at < len(row) and row[at] is not None and row[at] != expected

    def _environment(self, results: dict[str, Any], columns: list[str]) -> dict[str, str]:
        name = next((n for n in results if n.endswith(_ENVIRONMENT)), None)
        bench = self.benchmarks.get(name) if name else None
        if bench is None or not isinstance(results[name], list):
            return {}
        values = dict(zip(columns, results[name], strict=False)).get("params") or []
        if not isinstance(values, list) or len(values) != len(bench.param_names):
            return {}
        return {pname: str(literal(pvalues[0]))
                for pname, pvalues in zip(bench.param_names, values, strict=True)
                if isinstance(pvalues, list) and pvalues}

    def _load_benchmark(self, bench: Benchmark, row: dict[str, Any], file_index: int,
                        device_names: dict[str, int]) -> str | None:
        """One benchmark's row into a chunk; why it cannot be read, or None."""
        params = [] if row.get("params") is None else row["params"]
        if not isinstance(params, list) or not all(isinstance(p, list) for p in params):
            return f"{bench.name}: parameter values are not lists of lists"
        if not all(isinstance(v, str) for p in params for v in p):
            return f"{bench.name}: parameter values are not repr() strings"
        param_names = bench.param_names
        if len(params) != len(param_names):
            # A results file of the suite before regimes beside a benchmarks.json of today's.
            param_names = LEGACY_PARAM_NAMES.get(len(params))
            if param_names is None or bench.name.split(".")[0] not in LEGACY_MODULES:
                return (f"{bench.name}: {len(params)} parameter lists, but benchmarks.json "
                        f"names {len(bench.param_names)} ({', '.join(bench.param_names)}): "
                        "another suite version")
        n = math.prod(len(p) for p in params)
        result = row.get("result")
        if result is not None and (not isinstance(result, list) or len(result) != n):
            got = len(result) if isinstance(result, list) else type(result).__name__
            return (f"{bench.name}: {got} values for {n} parameter combinations (truncated or "
                    "inconsistent)")
        if n == 0:
            return None
        codes, devices, bad_regimes = self._param_block(param_names, params)
        if bad_regimes is not None:
            ids, dropped = bad_regimes
            self._note(f"{bench.name}: regime {', '.join(ids)} is not a regime id (expected "
                       f"{Regime.FORMAT}, e.g. {Regime.EXAMPLE}); its {int(dropped.sum())} "
                       "point(s) left out")
            if dropped.all():
                return None
        bench_row = {"benchmark": bench.name, "metric": bench.name.rsplit(".", 1)[-1],
                     "kind": bench.kind, "unit": bench.unit}
        bench_codes = {k: self.codes[k].code(v) for k, v in bench_row.items()}
        judged = judge.judge_columns(row, n, bench.kind, bench.unit)
        if isinstance(judged, str):
            return f"{bench.name}: {judged}"
        columns, left_out = judged
        rows = {column: columns[key] for key, column in _STATS.items()}
        if "samples" in columns:
            rows["samples"] = columns["samples"]
        rows["rejected"] = np.zeros(n, dtype=bool)
        rows["rejected"][sorted({i for key, i, _, _ in left_out if key == "result"})] = True
        points = np.arange(n)
        if devices is not None:
            values, at = devices
            lookup = [device_names.get(v, device_names["cpu"]) for v in values]
            rows["device_name"] = np.array(lookup, dtype=np.int32)[at]
        if bad_regimes is not None:
            keep = ~dropped
            left_out = [e for e in left_out if e[1] < 0 or keep[e[1]]]
            codes = {name: values[keep] for name, values in codes.items()}
            rows = {name: values[keep] for name, values in rows.items()}
            points = points[keep]
        if left_out:
            self._note(*judge.left_out_message(bench.name, param_names, params, left_out))
        self.chunks.append({"file": file_index, "n": len(rows["value"]), "params": codes,
                            "rows": rows, "bench": bench_codes, "name": bench.name,
                            "where": (param_names, params, points)})
        return None

    def _param_block(self, names: tuple[str, ...], params: list[list[str]]) -> tuple:
        """A block of points (cached: most files share blocks): per-row codes of each parameter
        and of the regime columns, the device of each row (values and index per row, or None),
        and, when some regime ids are not ids, those ids and a mask of their rows (or None).
        Regime ids fill the grid columns not given as parameters; a full grid makes the id."""
        key = (names, json.dumps(params))
        if key in self.block_cache:
            return self.block_cache[key]
        shape = tuple(len(p) for p in params)
        local = np.indices(shape, dtype=np.int32).reshape(len(shape), math.prod(shape))
        values = [[literal(v) for v in p] for p in params]
        codes: dict[str, np.ndarray] = {}
        devices, bad = None, None
        for i, (name, reprs) in enumerate(zip(names, params, strict=True)):
            table = self.param_codes.setdefault(name, _Codes())
            codes[name] = np.array([table.code(v) for v in reprs], dtype=np.int32)[local[i]]
            if name == "device":
                devices = ([str(v) for v in values[i]], local[i])
        if "regime" in names:
            at = names.index("regime")
            parsed = [_parse(v) for v in values[at]]
            for name in Regime.FIELDS:
                if name not in names:
                    table = self.param_codes[name]
                    lookup = [table.code(repr(p[name])) if p else -1 for p in parsed]
                    codes[name] = np.array(lookup, dtype=np.int32)[local[at]]
            if "device" not in names:
                devices = ([p["device"] if p else "" for p in parsed], local[at])
            unparsed = [i for i, p in enumerate(parsed) if p is None]
            if unparsed:
                bad = ([judge.show(values[at][i]) for i in unparsed],
                       np.isin(local[at], unparsed))
        elif all(name in names for name in Regime.FIELDS):
            axes = [names.index(name) for name in Regime.FIELDS]
            ids = [self.param_codes["regime"].code(repr(Regime(*combo).id))
                   for combo in itertools.product(*(values[a] for a in axes))]
            flat = np.ravel_multi_index(tuple(local[a] for a in axes),
                                        tuple(len(values[a]) for a in axes))
            codes["regime"] = np.array(ids, dtype=np.int32)[flat]
        self.block_cache[key] = codes, devices, bad
        return self.block_cache[key]

    def frame(self) -> pd.DataFrame:
        if not self.chunks:
            return empty_frame()
        ns = np.array([c["n"] for c in self.chunks], dtype=np.int64)
        total = int(ns.sum())
        params = {name: np.full(total, -1, dtype=_code_dtype(len(table)))
                  for name, table in self.param_codes.items()}
        rows = {"device_name": np.full(total, -1, dtype=np.int32), "samples":
                np.full(total, None, dtype=object), "rejected": np.zeros(total, dtype=bool),
                **{n: np.empty(total) for n in _STATS.values()}}
        for chunk, end in zip(self.chunks, np.cumsum(ns), strict=True):
            at = slice(end - chunk["n"], end)
            for name, codes in chunk["params"].items():
                params[name][at] = codes
            for name, values in chunk["rows"].items():
                rows[name][at] = values
        # Chunks are appended file by file: a file's rows are contiguous, so per-file and
        # per-chunk columns are np.repeat (fast), not a gather.
        per_file = np.bincount([c["file"] for c in self.chunks], weights=ns,
                               minlength=len(self.files)).astype(np.int64)
        out: dict[str, Any] = {}
        for name in FILE_COLUMNS:
            if name == "device_name":
                out[name] = self._categorical(name, rows["device_name"])
            elif name == "date":
                dates = pd.DatetimeIndex([f["date"] for f in self.files])
                out[name] = dates.as_unit("us").repeat(per_file)
            elif name == "threads":
                out[name] = pd.array([f["threads"] for f in self.files],
                                     dtype="Int64").repeat(per_file)
            else:
                out[name] = self._categorical(name, [f[name] for f in self.files], per_file)
        for name in BENCH_COLUMNS:
            out[name] = self._categorical(name, [c["bench"][name] for c in self.chunks], ns)
        ordered = list(KNOWN_PARAMS) + [p for p in self.param_codes if p not in KNOWN_PARAMS]
        for name in ordered:
            out[name] = _typed_param(name, list(self.param_codes[name]), params[name])
        for name in STAT_COLUMNS:
            integer = name in ("number", "repeat")  # whole numbers (judged): NaN -> <NA>
            out[name] = pd.array(rows[name], dtype="Int64") if integer else rows[name]
        out["rejected"] = rows["rejected"]
        out["file"] = self._categorical("file", [f["file"] for f in self.files], per_file)
        return pd.DataFrame(out, copy=False)

    def _categorical(self, name: str, codes: Any, repeats: np.ndarray | None = None
                     ) -> pd.Categorical:
        """Codes of ``self.codes[name]`` (each repeated ``repeats`` times) as a categorical."""
        codes = np.asarray(codes, dtype=_code_dtype(len(self.codes[name])))
        if repeats is not None:
            codes = codes.repeat(repeats)
        return pd.Categorical.from_codes(codes, categories=pd.Index(list(self.codes[name]),
                                                                    dtype=object))


def _same_points(one: dict[str, Any], other: dict[str, Any]) -> bool:
    """Two chunks hold the same points in the same order."""
    return one["n"] == other["n"] and one["params"].keys() == other["params"].keys() and all(
        np.array_equal(codes, other["params"][key]) for key, codes in one["params"].items())


def _shape_problem(data: Any) -> str | None:
    """Why ``data`` is not an asv results object, or None."""
    if not isinstance(data, dict):
        what = "only JSON null" if data is None else f"a JSON {type(data).__name__}"
        return f"holds {what}, expected an asv results object"
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


def _code_dtype(n_categories: int) -> type:
    """The integer type pandas keeps categorical codes in (no conversion of 7M codes later)."""
    if n_categories < 127:
        return np.int8
    return np.int16 if n_categories < 32767 else np.int32


def _typed_param(name: str, reprs: Sequence[str], codes: np.ndarray) -> Any:
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


def load_results(results_dir: str | Path, progress: Progress | None = None) -> Loaded:
    """Every results file under ``results_dir`` (all machines, all commits) as one tidy frame:
    the columns of ``FILE_COLUMNS``, ``BENCH_COLUMNS``, every parameter (ints as Int64, the rest
    categorical), ``STAT_COLUMNS``, ``rejected`` and file. Skipped points are rows with ``value``
    NaN, never 0; ``rejected``: NaN because the file's value was judged unusable (a problem says
    which and why), not because asv measured nothing.
    """
    root = Path(results_dir)
    problems: list[Problem] = []
    machine_dirs = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    targets = [(d, f) for d in machine_dirs for f in sorted(d.glob("*.json"))
               if f.name != "machine.json"]
    if not root.exists():
        problems.append(Problem(str(root), "results folder does not exist"))
    elif not root.is_dir():
        problems.append(Problem(str(root), "is not a folder (expected an asv results folder)"))
    elif not targets:
        what = "is empty" if not any(root.iterdir()) else "holds no results files"
        problems.append(Problem(str(root), f"{what} (expected <machine>/<commit>-<env>.json "
                                "files written by asv run)"))
    benchmarks = None if problems else asv_files.read_benchmarks(root / "benchmarks.json",
                                                                 problems)
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
    mixed = [_mixed(machine, files) for machine, files in sorted(loader.hardware.items())]
    return Loaded(loader.frame(), problems + loader.problems + [m for m in mixed if m], loaded,
                  str(root))


def _mixed(machine: str, files: list[tuple[str, dict[str, str]]]) -> Problem | None:
    """A Problem when one machine name holds results of different hardware (facts that both
    files record and that differ: ``birnn_bench.hardware.differences``)."""
    groups: list[tuple[dict[str, str], list[str]]] = []
    for name, facts in files:
        for known, names in groups:
            if not hardware.differences(known, facts):
                names.append(name)
                break
        else:
            groups.append((facts, [name]))
    if len(groups) < 2:
        return None
    parts = [f"{hardware.describe(facts)} ({len(names)} file(s): "
             f"{', '.join(Path(n).name[:8] for n in names)})" for facts, names in groups]
    return Problem(machine, f"one machine name, {len(groups)} different hardware: "
                   + "; ".join(parts) + ". Ratios differ between CPUs, so a change between "
                   "them in the history is the machine, not the code (the history splits the "
                   "series there); new runs belong under a name of their own (the main job "
                   "derives one from the hardware)", "warning")
