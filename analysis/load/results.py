"""asv results tree -> one tidy, long-form DataFrame (one row per measured or skipped point).

Parsed here, not by ``asv.results.Results.load`` (a dict per point: far too slow for a hundred
full-grid runs; errors that do not name the file), into integer codes shared by all files that
become categoricals once, at the end (``analysis.load.tidy``: the frame's columns). Only a missing
or unreadable ``benchmarks.json`` stops the load: every other defect is a :class:`Problem`
naming the file, and the rest is loaded. Values are judged against their unit
(``analysis.load.judge``), left out (NaN) when unusable, never coerced. Regime ids
(``benchmarks.regimes.Regime``) and the grid's columns are read into each other: both formats
have the same columns.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.load import asv_files, judge, tidy
from analysis.load.asv_files import Benchmark, Problem, literal
from analysis.load.loaded import Loaded
from analysis.load.tidy import (
    CATEGORIES,
    KNOWN_PARAMS,
    OLD_GRID,
    STATS,
    Codes,
    empty_frame,
)
from benchmarks.regimes import Regime
from birnn_bench import hardware

#: What a damaged file can make the reading raise: that file's problem, never the whole load's.
_BAD_DATA = (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError,
             RecursionError, MemoryError)
_ENVIRONMENT = "Environment.track_threads"
#: Benchmarks measured by a command of their own, not by the quick run.
OWN_RUN_PREFIX = "instructions."
#: The parameter names of the suite before regimes, by count: what the old results files need to
#: load beside a benchmarks.json of today's suite.
LEGACY_PARAM_NAMES = {9: OLD_GRID, 10: (*OLD_GRID, "compile")}
LEGACY_MODULES = ("strategies", "profiles", "deploy", "compiled")
Progress = Callable[[int, int, str], None]


def _parse(text: Any) -> dict[str, Any] | None:
    """The id fields of a regime id, or None when ``text`` is not one."""
    try:
        return Regime.parse(text).fields()
    except ValueError:
        return None


class _Loader:
    def __init__(self, root: Path, benchmarks: dict[str, Benchmark]) -> None:
        self.root = root
        self.benchmarks = benchmarks
        self.codes = {name: Codes() for name in CATEGORIES}
        self.param_codes: dict[str, Codes] = {name: Codes() for name in KNOWN_PARAMS}
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
        error = error or asv_files.results_problem(data)
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
                                                            "cudnn_allow_tf32", "allocator")},
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
        for note in judge.outside_intervals(self.chunks[chunks_before:]):
            self._note(*note)
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

    def _commit(self, commit: Any) -> str:
        """The commit hash when it is one; else a label unique to the file, so its rows never
        merge into another commit's."""
        why = judge.commit_problem(commit)
        if why is None:
            return commit
        label = f"unknown:{self.rel}"
        self._note(f"commit_hash {judge.show(commit)} is not a commit hash ({why}; expected 40 "
                   f"hex digits); its rows are filed under commit {label!r}", "warning")
        return label

    def _date(self, date: Any) -> pd.Timestamp | None:
        found, why = judge.run_date(date)
        if why is not None:
            self._note(f"date {judge.show(date)} is {why}; date left blank", "warning")
        return found

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
        rows = {column: columns[key] for key, column in STATS.items()}
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
            table = self.param_codes.setdefault(name, Codes())
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
        return tidy.assemble(self.files, self.chunks, self.codes, self.param_codes)


def load_results(results_dir: str | Path, progress: Progress | None = None) -> Loaded:
    """Every results file under ``results_dir`` (all machines, all commits) as one tidy frame:
    the columns of ``tidy.FILE_COLUMNS``, ``tidy.BENCH_COLUMNS``, every parameter (ints as
    Int64, the rest categorical), ``tidy.STAT_COLUMNS``, ``rejected`` and file. Skipped points
    are rows with ``value`` NaN, never 0; ``rejected``: NaN because the file's value was judged
    unusable (a problem says which and why), not because asv measured nothing.
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
    for folder, recorded in machines.items():
        loader.problems += asv_files.machine_disagrees(
            folder / "machine.json", recorded, loader.hardware.get(folder.name, []))
    mixed = [asv_files.mixed_hardware(machine, files)
             for machine, files in sorted(loader.hardware.items())]
    return Loaded(loader.frame(), problems + loader.problems + [m for m in mixed if m], loaded,
                  str(root))
