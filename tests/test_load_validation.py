"""Nothing hangs, nothing measured is lost: the loader judges every value, the CLI every argument,
the report writer every file it writes.

Results trees here are tiny synthetic asv 0.6 trees (the layout of results/benchmarks.json and
results/<machine>/<sha8>-<env>.json, two points per benchmark), built in tmp_path: each test
damages exactly one thing and checks that it is reported by file, benchmark and point, that
it is left out, and that everything else is kept. No timing, no asv run.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from analysis.cli import main
from analysis.load import judge
from analysis.load.results import Problem, load_results
from analysis.model.paired import regime_label
from analysis.render.output import write_report
from analysis.render.report import Report
from benchmarks import regimes
from benchmarks.regimes import Regime
from tests.conftest import REPO

GRID = ["device", "cell", "batch", "max_len", "lengths", "hidden", "layers", "dtype",
        "strategy"]
GRID_VALUES = [["'cpu'"], ["'lstm'"], ["4"], ["8"], ["'skewed'"], ["16"], ["2"], ["'float32'"],
               ["'hn_index'", "'chunk_view'"]]
REGIME = "cpu-lstm-L2-B4-T8-H16-skewed-float32"
PAIR = ["'hn_index'", "'chunk_view'"]
#: name -> (type, unit, param_names, params, result of the two points)
BENCHES: dict[str, tuple[str, str, list[str], list[list[str]], list[Any]]] = {
    "strategies.Forward.time_forward": ("time", "seconds", GRID, GRID_VALUES, [1e-3, 2e-3]),
    "strategies.Error.track_max_abs_error": ("track", "abs error", GRID, GRID_VALUES,
                                             [0.0, 0.5]),
    "strategies.PeakMemory.track_peak_bytes": ("track", "bytes", GRID, GRID_VALUES,
                                               [4096, 8192]),
    "profiles.Profiles.track_ops": ("track", "ops", GRID, GRID_VALUES, [12, 30]),
    "regimes.Forward.time_forward": ("time", "seconds", ["regime", "strategy"],
                                     [[repr(REGIME)], PAIR], [1.5e-3, 2.5e-3]),
    "ratios.PairedForward.track_time_ratio": ("track", "x hn_index", ["regime", "strategy"],
                                              [[repr(REGIME)], PAIR], [1.0, 1.25]),
}
COLUMNS = ["result", "params", "version", "started_at", "duration", "stats_ci_99_a",
           "stats_ci_99_b", "stats_q_25", "stats_q_75", "stats_number", "stats_repeat",
           "samples", "profile"]
ENV_NAMES = ["torch", "threads", "cuda", "cudnn", "gpu", "cudnn_allow_tf32"]
ENV_VALUES = [["'2.13.0+cpu'"], ["'1'"], ["'none'"], ["'none'"], ["'none'"], ["'False'"]]
ENV_FILE = "existing-py_python.json"
POINT_2 = "strategy='chunk_view'"


def benchmarks_json() -> dict[str, Any]:
    out: dict[str, Any] = {"version": 2}
    for name, (kind, unit, names, params, _) in BENCHES.items():
        out[name] = {"name": name, "type": kind, "unit": unit, "param_names": list(names),
                     "params": [list(p) for p in params], "version": "v1"}
    out["strategies.Environment.track_threads"] = {
        "name": "strategies.Environment.track_threads", "type": "track", "unit": "threads",
        "param_names": list(ENV_NAMES), "params": [list(p) for p in ENV_VALUES],
        "version": "v1"}
    return out


def row(name: str, result: list[Any] | None = None) -> list[Any]:
    kind, _, _, params, values = BENCHES[name]
    values = list(values if result is None else result)
    timed = kind == "time"
    stats = (lambda f: [f(v) if isinstance(v, float) else None for v in values]) if timed \
        else (lambda f: None)
    return [values, [list(p) for p in params], "v1", 1_700_000_000_000, 1.0,
            stats(lambda v: v * 0.9), stats(lambda v: v * 1.1), stats(lambda v: v * 0.95),
            stats(lambda v: v * 1.05), [1, 1] if timed else None, [5, 5] if timed else None,
            [[v] * 5 if isinstance(v, float) else None for v in values] if timed else None,
            None]


def results_data(commit: str = "a" * 40, machine: str = "box") -> dict[str, Any]:
    results = {name: row(name) for name in BENCHES}
    results["strategies.Environment.track_threads"] = [[1], [list(p) for p in ENV_VALUES],
                                                        "v1", 0, 0.1]
    return {"commit_hash": commit, "env_name": "existing-py_python", "date": 1_700_000_000_000,
            "params": {"machine": machine, "cpu": "Test CPU", "python": "3.11"},
            "python": "3.11", "requirements": {"torch": "2.13.0"}, "env_vars": {},
            "result_columns": list(COLUMNS), "results": results, "durations": {}, "version": 2}


def make_tree(tmp_path: Path, *edits: Any, raw: str | bytes | None = None) -> Path:
    """results/ with benchmarks.json, box/machine.json, one intact file (commit a...) and, when
    edits or raw text are given, a second file (commit b...) edited by them or holding ``raw``."""
    root = tmp_path / "results"
    (root / "box").mkdir(parents=True)
    (root / "benchmarks.json").write_text(json.dumps(benchmarks_json()))
    (root / "box" / "machine.json").write_text(json.dumps({"machine": "box", "cpu": "Test CPU",
                                                           "version": 1}))
    (root / "box" / f"{'a' * 8}-{ENV_FILE}").write_text(json.dumps(results_data()))
    if edits or raw is not None:
        second = root / "box" / f"{'b' * 8}-{ENV_FILE}"
        if raw is not None:
            second.write_bytes(raw.encode() if isinstance(raw, str) else raw)
        else:
            data = results_data("b" * 40)
            for edit in edits:
                edit(data)
            second.write_text(json.dumps(data))
    return root


def set_result(name: str, point: int, value: Any, column: str = "result"):
    def edit(data: dict[str, Any]) -> None:
        data["results"][name][COLUMNS.index(column)][point] = value
    return edit


BAD = f"box/{'b' * 8}-{ENV_FILE}"
N_ROWS = 2 * len(BENCHES)  # per file


def problems_of(loaded, path: str = BAD) -> list[Problem]:
    return [p for p in loaded.problems if p.path == path]


def rows_of(loaded, metric_bench: str, commit: str = "b" * 40) -> pd.DataFrame:
    df = loaded.data
    return df[(df["benchmark"] == metric_bench) & (df["commit"] == commit)].set_index("strategy")


# ---------------------------------------------------------------------------------------------
# clean trees, both parameter formats


def test_clean_tree_has_both_formats_in_the_same_columns(tmp_path) -> None:
    loaded = load_results(make_tree(tmp_path))
    assert loaded.problems == [] and len(loaded.data) == N_ROWS
    df = loaded.data
    assert (df["regime"] == REGIME).all()  # parsed for new rows, synthesised for grid rows
    for name, value in (("device", "cpu"), ("cell", "lstm"), ("lengths", "skewed"),
                        ("dtype", "float32")):
        assert (df[name] == value).all(), name
    for name, value in (("layers", 2), ("batch", 4), ("max_len", 8), ("hidden", 16)):
        assert str(df[name].dtype) == "Int64" and (df[name] == value).all(), name
    assert (df["device_name"] == "Test CPU").all()
    ratio = df[df["metric"] == "track_time_ratio"].set_index("strategy")
    assert set(ratio["kind"]) == {"ratio"} and ratio.loc["chunk_view", "value"] == 1.25
    assert df.loc[df["metric"] == "track_ops", "value"].tolist() == [12, 30]
    assert df["value"].notna().all()


def test_regime_ids_round_trip_with_the_suite() -> None:
    """``Regime.parse`` reads back every id ``Regime.id`` writes (every grid, both devices, the
    instruction regimes), and nothing else."""
    every = [*regimes.instruction_regimes("quick").values()]
    for grid in ("quick", "full", "smoke"):
        every += regimes.regimes(grid, ("cpu", "cuda"))
    for regime in every:
        parsed = Regime.parse(regime.id)
        assert parsed.fields() == regime.fields() and parsed.id == regime.id
        assert list(parsed.fields()) == list(Regime.FIELDS)
    for bad in ("", "cpu-lstm", "cpu-lstm-L0-B4-T8-H16-skewed-float32",
                "cpu-lstm-L02-B4-T8-H16-skewed-float32", "cpu-lstm-L2-B4-T8-H16-float32",
                "cpu-lstm-L2-B4-T8-H16-skewed-float32-", "cpu lstm-L2-B4-T8-H16-skewed-float32",
                123, None):
        with pytest.raises(ValueError, match="is not a regime id"):
            Regime.parse(bad)


def test_a_new_length_pattern_needs_no_change_to_the_analysis(tmp_path, monkeypatch) -> None:
    """A new value of a regime axis (a length distribution here) is its generator's
    (``birnn_bench/workload.py``) and the grid's (``benchmarks/regimes.py``): the ids, the loader
    and the tables take it from the id as it is."""
    monkeypatch.setitem(regimes.FULL_AXES, "lengths", (*regimes.FULL_AXES["lengths"], "bimodal"))
    full = regimes.regimes("full", ("cpu",))
    new = [r for r in full if r.lengths == "bimodal"]
    assert len(new) == len(full) // 4 and Regime.parse(new[0].id).fields() == new[0].fields()
    bench = "ratios.PairedForward.track_time_ratio"
    kind, unit, names, _, values = BENCHES[bench]
    monkeypatch.setitem(BENCHES, bench, (kind, unit, names, [[repr(new[0].id)], PAIR], values))
    df = load_results(make_tree(tmp_path)).data
    row = df[df["benchmark"] == bench].iloc[0]
    assert {name: row[name] for name in Regime.FIELDS} == new[0].fields()
    assert row["regime"] == new[0].id and regime_label(row).endswith(" bimodal")


def test_committed_results_load_every_row() -> None:
    """results/ as committed: one row per parameter combination of every benchmark of every
    file that today's suite still has (counted here from the JSON alone; the Cartesian suite's
    CUDA-only counters and its compile benchmarks were replaced), every row with a regime, no
    error."""
    root = REPO / "results"
    files = [p for p in root.glob("*/*.json") if p.name != "machine.json"]
    if not files:
        pytest.skip("no committed results in this checkout")
    known = json.loads((root / "benchmarks.json").read_text())
    methods = {name.rsplit(".", 1)[-1] for name in known}
    expected = 0
    for path in files:
        data = json.loads(path.read_text())
        at = data["result_columns"].index("params")
        expected += sum(math.prod(len(p) for p in r[at]) for name, r in data["results"].items()
                        if not name.endswith("Environment.track_threads")
                        and (name in known or name.rsplit(".", 1)[-1] in methods))
    loaded = load_results(root)
    assert len(loaded.data) == expected
    # Every row has a regime, but the correctness matrix's verdict per strategy (no regime).
    per_strategy = loaded.data["benchmark"].astype(str).str.startswith("strategies.Correctness.")
    assert loaded.errors == [] and loaded.data.loc[~per_strategy, "regime"].notna().all()


# ---------------------------------------------------------------------------------------------
# values judged against their unit


@pytest.mark.parametrize(("bench", "value", "why"), [
    ("strategies.Forward.time_forward", True, "a JSON boolean, not a time in seconds"),
    ("strategies.Forward.time_forward", "0.002", "a string, not a time in seconds"),
    ("strategies.Forward.time_forward", [0.002], "a list, not a time in seconds"),
    ("strategies.Forward.time_forward", {"v": 1}, "a JSON object, not a time in seconds"),
    ("strategies.Forward.time_forward", -1.0, "not > 0, for a time in seconds"),
    ("strategies.Forward.time_forward", 0.0, "not > 0, for a time in seconds"),
    ("strategies.Forward.time_forward", math.inf, "infinite, for a time in seconds"),
    ("strategies.Forward.time_forward", 10 ** 400, "too large for a float"),
    ("strategies.PeakMemory.track_peak_bytes", 0, "not > 0, for a byte count"),
    ("strategies.PeakMemory.track_peak_bytes", False, "a JSON boolean"),
    ("strategies.Error.track_max_abs_error", -1e-9, "not >= 0, for an error (abs error)"),
    ("strategies.Error.track_max_abs_error", math.inf, "infinite, for an error (abs error)"),
    ("strategies.Error.track_max_abs_error", "nan", "a string"),
    ("profiles.Profiles.track_ops", 2.5, "not a whole number, for a count of ops"),
    ("profiles.Profiles.track_ops", -3, "not >= 0, for a count of ops"),
    ("profiles.Profiles.track_ops", True, "a JSON boolean, not a count of ops"),
    ("ratios.PairedForward.track_time_ratio", 0.0, "not > 0, for a ratio (x hn_index)"),
    ("ratios.PairedForward.track_time_ratio", -math.inf, "infinite"),
    ("ratios.PairedForward.track_time_ratio", "1.2", "a string, not a ratio"),
    ("regimes.Forward.time_forward", [[1e-3]], "a list, not a time in seconds"),
])
def test_a_bad_value_is_named_and_left_out_and_the_rest_kept(tmp_path, bench, value,
                                                             why) -> None:
    loaded = load_results(make_tree(tmp_path, set_result(bench, 1, value)))
    assert len(loaded.files) == 2 and len(loaded.data) == 2 * N_ROWS
    (problem,) = problems_of(loaded)
    assert problem.severity == "error"
    assert problem.message.startswith(f"{bench}: 1 value(s) not usable, 1 point(s) left out")
    assert why in problem.message and POINT_2 in problem.message
    if "regime" not in BENCHES[bench][2]:
        assert "device='cpu'" in problem.message and "layers=2" in problem.message
    else:
        assert f"regime='{REGIME}'" in problem.message
    mine = rows_of(loaded, bench)
    assert math.isnan(mine.loc["chunk_view", "value"])  # left out: not measured, never 0 or 1
    assert mine.loc["chunk_view", "samples"] is None
    assert pd.isna(mine.loc["chunk_view", "ci_low"])
    assert mine.loc["hn_index", "value"] == BENCHES[bench][4][0]  # the rest is kept
    others = loaded.data[(loaded.data["benchmark"] != bench)
                         | (loaded.data["commit"] != "b" * 40)]
    assert others["value"].notna().all()


def test_zero_error_and_zero_count_are_values(tmp_path) -> None:
    edits = (set_result("strategies.Error.track_max_abs_error", 1, 0.0),
             set_result("profiles.Profiles.track_ops", 1, 0))
    loaded = load_results(make_tree(tmp_path, *edits))
    assert loaded.problems == []
    assert rows_of(loaded, "profiles.Profiles.track_ops").loc["chunk_view", "value"] == 0


def test_bad_statistics_and_samples_are_left_out_but_the_value_kept(tmp_path) -> None:
    forward = "strategies.Forward.time_forward"

    def samples(data: dict[str, Any]) -> None:
        data["results"][forward][COLUMNS.index("samples")][1] = [2e-3, True, 2e-3]

    loaded = load_results(make_tree(
        tmp_path, set_result(forward, 0, "low", "stats_ci_99_a"),
        set_result(forward, 1, 2.5, "stats_number"), samples))
    (problem,) = problems_of(loaded)
    assert problem.severity == "warning" and "3 value(s) not usable, the points are kept" \
        in problem.message
    assert 'stats_ci_99_a "low" at (' in problem.message
    assert "stats_number 2.5" in problem.message and "not a whole number" in problem.message
    assert "samples [0.002, true, 0.002]" in problem.message
    mine = rows_of(loaded, forward)
    assert mine["value"].tolist() == [1e-3, 2e-3]
    assert pd.isna(mine.loc["hn_index", "ci_low"]) and mine.loc["hn_index", "ci_high"] > 0
    assert pd.isna(mine.loc["chunk_view", "number"])
    assert mine.loc["chunk_view", "samples"] is None
    assert mine.loc["hn_index", "samples"] == (1e-3,) * 5


def test_infinite_asv_interval_is_not_a_problem(tmp_path) -> None:
    """asv writes -inf/inf bounds when one sample gives no estimate: that is asv's meaning."""
    forward = "strategies.Forward.time_forward"
    loaded = load_results(make_tree(tmp_path, set_result(forward, 0, -math.inf, "stats_ci_99_a"),
                                    set_result(forward, 0, math.inf, "stats_ci_99_b")))
    assert loaded.problems == []


# ---------------------------------------------------------------------------------------------
# whole-file defects


def test_a_string_date_is_reported_and_left_blank(tmp_path) -> None:
    loaded = load_results(make_tree(tmp_path, lambda d: d.update(date="2024-05-01")))
    (problem,) = problems_of(loaded)
    assert problem.severity == "warning"
    assert problem.message == ('date "2024-05-01" is a string, not milliseconds since 1970; '
                               "date left blank")
    mine = loaded.data[loaded.data["commit"] == "b" * 40]
    assert len(mine) == N_ROWS and mine["date"].isna().all() and mine["value"].notna().all()


@pytest.mark.parametrize("date", [10 ** 30, math.inf, True])
def test_a_date_out_of_range_is_reported(tmp_path, date) -> None:
    loaded = load_results(make_tree(tmp_path, lambda d: d.update(date=date)))
    (problem,) = problems_of(loaded)
    assert problem.message.startswith("date ") and "date left blank" in problem.message
    assert len(loaded.data) == 2 * N_ROWS


@pytest.mark.parametrize(("commit", "why"), [(1234567, "a number"), ("abc1234", "too short"),
                                             ("z" * 40, "not hex digits"), (None, "null")])
def test_a_bad_commit_hash_is_reported_and_kept_apart(tmp_path, commit, why) -> None:
    loaded = load_results(make_tree(tmp_path, lambda d: d.update(commit_hash=commit)))
    (problem,) = problems_of(loaded)
    assert problem.severity == "warning" and f"is not a commit hash ({why};" in problem.message
    assert set(loaded.data["commit"]) == {"a" * 40, f"unknown:{BAD}"}
    assert loaded.data["value"].notna().all() and len(loaded.data) == 2 * N_ROWS


@pytest.mark.parametrize(("raw", "why"), [
    ("null", "holds only JSON null"),
    ('{"version": 2, "commit_hash": "' + "b" * 40 + '", "result_columns": [], "results": '
     '{"x": ' + "9" * 5000 + "}}", "cannot be read: ValueError"),
    ("", "is empty"),
], ids=["null", "huge-int", "empty"])
def test_an_unreadable_file_is_one_problem_and_the_rest_loads(tmp_path, raw, why) -> None:
    loaded = load_results(make_tree(tmp_path, raw=raw))
    (problem,) = problems_of(loaded)
    assert problem.severity == "error" and why in problem.message
    assert problem.message.endswith("file skipped")
    assert loaded.files == [f"box/{'a' * 8}-{ENV_FILE}"] and len(loaded.data) == N_ROWS


@pytest.mark.parametrize("parser", ["orjson", "json"])
def test_deep_nesting_never_stops_the_load(tmp_path, monkeypatch, parser) -> None:
    """A value nested 100 000 lists deep never stops the load and is named as rejected. stdlib
    json cannot parse it (RecursionError: the file is skipped); orjson before 3.9 parses it (the
    value is reported as a list where a time belongs), newer releases refuse the depth and hand
    the file to stdlib json. Either way: one error naming the problem, the other file kept."""
    import analysis.load.asv_files

    if parser == "json":
        monkeypatch.setattr(analysis.load.asv_files, "_orjson", None)
    elif analysis.load.asv_files._orjson is None:
        pytest.skip("orjson is not installed")
    text = json.dumps(results_data("b" * 40)).replace(
        "[0.001, 0.002]", "[0.001, " + "[" * 100_000 + "0.002" + "]" * 100_000 + "]", 1)
    loaded = load_results(make_tree(tmp_path, raw=text))
    (problem,) = problems_of(loaded)
    assert problem.severity == "error"
    skipped = ("nests lists or objects too deeply to be read (RecursionError); file skipped")
    left_out = ("strategies.Forward.time_forward: 1 value(s) not usable, 1 point(s) left out "
                "(kept as not measured): result a list at (")
    if problem.message == skipped:
        assert len(loaded.data) == N_ROWS  # the other file's rows
    else:
        assert parser == "orjson" and problem.message.startswith(left_out), problem.message
        assert len(loaded.data) == 2 * N_ROWS


def test_an_all_null_file_is_reported(tmp_path) -> None:
    def rows_null(data: dict[str, Any]) -> None:
        data["results"] = dict.fromkeys(data["results"])

    def values_null(data: dict[str, Any]) -> None:
        for name in BENCHES:
            data["results"][name] = row(name, [None, None])

    loaded = load_results(make_tree(tmp_path, rows_null))
    (problem,) = problems_of(loaded)
    assert "every benchmark's row is null" in problem.message and len(loaded.files) == 1
    loaded = load_results(make_tree(tmp_path / "2", values_null))
    (problem,) = problems_of(loaded)
    assert problem.severity == "warning" and "holds no measured value" in problem.message
    assert len(loaded.data) == 2 * N_ROWS  # the points are there, not measured


def test_a_null_row_skips_that_benchmark_only(tmp_path) -> None:
    bench = "profiles.Profiles.track_ops"
    loaded = load_results(make_tree(tmp_path, lambda d: d["results"].update({bench: None})))
    (problem,) = problems_of(loaded)
    assert f"{bench}: its row is null, not a list of columns" in problem.message
    assert len(loaded.data) == 2 * N_ROWS - 2


def test_a_value_that_breaks_the_reader_costs_only_its_file(tmp_path, monkeypatch) -> None:
    """Whatever a file makes the reading raise (here an OverflowError planted in the judge)
    becomes that file's problem; the other file is loaded in full."""
    real = judge.judge_columns

    def judge_columns(row, n, kind, unit):
        if row.get("result") == [7.0, 7.0]:
            raise OverflowError("int too large to convert to float")
        return real(row, n, kind, unit)

    monkeypatch.setattr(judge, "judge_columns", judge_columns)
    loaded = load_results(make_tree(tmp_path, set_result("profiles.Profiles.track_ops", 0, 7.0),
                                    set_result("profiles.Profiles.track_ops", 1, 7.0)))
    (problem,) = problems_of(loaded)
    assert problem.message == ("holds a value that cannot be used (int too large to convert to "
                               "float) (OverflowError); file skipped")
    assert loaded.files == [f"box/{'a' * 8}-{ENV_FILE}"] and len(loaded.data) == N_ROWS


def test_a_regime_id_that_does_not_parse_is_named_and_its_points_left_out(tmp_path) -> None:
    bench = "regimes.Forward.time_forward"

    def two_regimes(data: dict[str, Any]) -> None:
        data["results"][bench][COLUMNS.index("params")] = [[repr(REGIME), "'gpu-foo'"], PAIR]
        for column in ("result", "stats_ci_99_a", "stats_ci_99_b", "stats_q_25", "stats_q_75",
                       "stats_number", "stats_repeat", "samples"):
            at = COLUMNS.index(column)
            data["results"][bench][at] = data["results"][bench][at] * 2

    loaded = load_results(make_tree(tmp_path, two_regimes))
    (problem,) = problems_of(loaded)
    assert problem.severity == "error"
    assert problem.message.startswith(f'{bench}: regime "gpu-foo" is not a regime id')
    assert "its 2 point(s) left out" in problem.message
    mine = rows_of(loaded, bench)
    assert len(mine) == 2 and (mine["regime"] == REGIME).all()
    assert mine["value"].tolist() == [1.5e-3, 2.5e-3]
    assert len(loaded.data) == 2 * N_ROWS


@pytest.mark.parametrize("batch", ["1" + "0" * 30, "9" * 400, "1e999", "-1e999"])
def test_a_parameter_out_of_int64_range_costs_nothing_else(tmp_path, batch) -> None:
    """An integer-grid literal no int64 (or float) holds once stopped the whole load."""
    def huge_batch(data: dict[str, Any]) -> None:
        data["results"]["strategies.Forward.time_forward"][COLUMNS.index("params")][2] = [batch]

    loaded = load_results(make_tree(tmp_path, huge_batch))
    assert len(loaded.data) == 2 * N_ROWS
    mine = rows_of(loaded, "strategies.Forward.time_forward")
    assert mine["value"].tolist() == [1e-3, 2e-3]


# ---------------------------------------------------------------------------------------------
# the CLI: every argument checked before any work


@pytest.fixture
def no_load(monkeypatch):
    """Fails the test if the CLI loads anything (arguments are checked first)."""
    import analysis.load.results

    def refuse(*args, **kwargs):
        raise AssertionError("loaded results before checking the arguments")

    monkeypatch.setattr(analysis.load.results, "load_results", refuse)


def report_error(capsys, *argv: str) -> str:
    assert main(["report", "--quiet", *argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1
    return err.strip()


@pytest.mark.parametrize(("content", "why"), [
    (None, "no such file"),
    ("{bad", "is not valid JSON"),
])
def test_a_bad_check_file_is_refused_before_loading(tmp_path, capsys, no_load, content,
                                                    why) -> None:
    check = tmp_path / "check.json"
    if content is not None:
        check.write_text(content)
    out = tmp_path / "r"
    err = report_error(capsys, "--results", str(tmp_path), "--out", str(out), "--check",
                       str(check))
    assert err.startswith(f"analysis report: error: --check {check}: {why}")
    assert not out.exists()


def test_out_must_be_a_folder_that_can_be_written(tmp_path, capsys, no_load,
                                                  monkeypatch) -> None:
    results = make_tree(tmp_path)
    taken = tmp_path / "taken.txt"
    taken.write_text("keep me")
    err = report_error(capsys, "--results", str(results), "--out", str(taken))
    assert err == (f"analysis report: error: --out {taken}: is an existing file, not a folder "
                   "(give a folder to write into)")
    assert taken.read_text() == "keep me"
    under = taken / "sub" / "report"
    err = report_error(capsys, "--results", str(results), "--out", str(under))
    assert err == (f"analysis report: error: --out {under}: cannot be created: {taken} is a "
                   "file, not a folder")
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    err = report_error(capsys, "--results", str(results), "--out", str(dangling))
    assert f"--out {dangling}: is a symbolic link to nothing ({dangling} -> " in err
    # Not writable (simulated: this test may run as root, whom permissions do not stop).
    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    err = report_error(capsys, "--results", str(results), "--out", str(tmp_path / "new"))
    assert err == (f"analysis report: error: --out {tmp_path / 'new'}: cannot be created: "
                   f"{tmp_path} is not writable")
    err = report_error(capsys, "--results", str(results), "--out", str(tmp_path))
    assert err == f"analysis report: error: --out {tmp_path}: the folder is not writable"


def test_results_and_config_must_be_readable(tmp_path, capsys, no_load) -> None:
    out = str(tmp_path / "r")
    missing = tmp_path / "nope"
    err = report_error(capsys, "--results", str(missing), "--out", out)
    assert err == (f"analysis report: error: --results {missing}: results folder does not "
                   "exist, so nothing could be loaded")
    a_file = tmp_path / "file.json"
    a_file.write_text("{}")
    err = report_error(capsys, "--results", str(a_file), "--out", out)
    assert err.startswith(f"analysis report: error: --results {a_file}: is not a folder")
    for text, why in (("{ not json", "is not valid JSON"),
                      ("[1, 2]", "holds a JSON list, expected an asv configuration object"),
                      ('{"results_dir": 5}', "its results_dir is 5, expected a folder name"),
                      ("\udcff", "is not UTF-8 text")):
        config = tmp_path / "asv.conf.json"
        config.write_bytes(text.encode("utf-8", "surrogateescape"))
        err = report_error(capsys, "--config", str(config), "--out", out)
        assert err.startswith(f"analysis report: error: --config {config}: {why}"), err
    config.write_text('{"results_dir": "elsewhere"}')
    err = report_error(capsys, "--config", str(config), "--out", out)
    assert err == (f"analysis report: error: results_dir {tmp_path / 'elsewhere'}: results "
                   f"folder does not exist (named by {config}), so nothing could be loaded")
    err = report_error(capsys, "--config", str(tmp_path / "none.json"), "--out", out)
    assert err == f"analysis report: error: --config {tmp_path / 'none.json'}: no such file"
    err = report_error(capsys, "--results", str(tmp_path), "--out", out, "--deploy",
                       str(tmp_path / "deploy.json"))
    assert err.startswith(f"analysis report: error: --deploy {tmp_path / 'deploy.json'}: "
                          "no such file")
    assert not (tmp_path / "r").exists()


def test_findings_checks_its_arguments_first(tmp_path, capsys, no_load) -> None:
    assert main(["findings", "--quiet", "--results", str(tmp_path), "--out",
                 str(tmp_path)]) == 2
    assert f"error: --out {tmp_path}: is a folder, not a file" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# the files written


def tiny_report(markdown: str = "# summary\n", tables: dict | None = None) -> Report:
    return Report(tables=tables or {"t": pd.DataFrame({"a": [1]})}, png={"fig": b"\x89PNG"},
                  svg={"fig": b"<svg/>"}, html="<html></html>", markdown=markdown)


def test_a_link_inside_out_is_replaced_never_followed(tmp_path) -> None:
    out = tmp_path / "report"
    out.mkdir()
    outside = tmp_path / "precious.txt"
    outside.write_text("untouched")
    (out / "summary.md").symlink_to(outside)
    (out / "t.csv").symlink_to(tmp_path / "nowhere.csv")  # dangling: not created through
    (out / "fig.png").symlink_to(tmp_path)  # a link to a folder: replaced too
    written = write_report(out, tiny_report())
    assert outside.read_text() == "untouched" and not (tmp_path / "nowhere.csv").exists()
    assert sorted(p.name for p in written) == [".birnn-bench-output.json", "fig.png", "fig.svg",
                                               "index.html", "summary.md", "t.csv"]
    for path in written:
        assert path.parent == out and path.is_file() and not path.is_symlink(), path
    assert (out / "summary.md").read_text() == "# summary\n"
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written)  # no temps


def test_a_folder_in_the_way_is_a_clear_error(tmp_path, capsys) -> None:
    out = tmp_path / "report"
    (out / "index.html").mkdir(parents=True)
    with pytest.raises(IsADirectoryError):
        write_report(out, tiny_report())
    assert [p.name for p in out.iterdir()] == ["index.html"]  # no temporary file left behind


def test_a_folder_in_the_way_fails_the_cli_cleanly(tmp_path, capsys) -> None:
    out = tmp_path / "report"
    (out / "summary.md").mkdir(parents=True)
    assert main(["report", "--quiet", "--force", "--results", str(make_tree(tmp_path)),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().endswith(f"error: --out {out}: cannot write the report "
                                f"({out / 'summary.md'}: a folder is in the way of the file)")
    assert [p.name for p in out.iterdir()] == ["summary.md"]  # checked first: nothing written


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(tmp_path) -> None:
    table = pd.DataFrame({
        "text": ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "-0.5",
                 "a\rb"],
        "number": [-1.5, 2.0, -3.0, 0.0, 1e-9, -1e300, 7.0, 8.0],
        "category": pd.Categorical(["=1", "ok", "ok", "ok", "ok", "ok", "ok", "-"]),
    }).rename(columns={"category": "=cat"})
    write_report(tmp_path, tiny_report(tables={"t": table}))
    with (tmp_path / "t.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["text", "number", "'=cat"]
    assert [r[0] for r in rows[1:]] == ["'=HYPERLINK(\"http://x\")", "'+1+1", "'-2+3",
                                        "'@SUM(A1)", "'\tx", "'\nx", "-0.5", "a\nb"]
    assert [float(r[1]) for r in rows[1:]] == table["number"].tolist()  # numbers stay numbers
    assert [r[2] for r in rows[1:]] == ["'=1", "ok", "ok", "ok", "ok", "ok", "ok", "'-"]


def test_summary_shows_markup_from_results_as_text(tmp_path) -> None:
    markdown = ("# summary\n\n| machine |\n|---|\n| <script>alert(1)</script> |\n\n"
                "- p < 0.01 & [x](javascript:alert(1)) ![i](http://t/p.png) &amp;\n")
    write_report(tmp_path, tiny_report(markdown))
    text = (tmp_path / "summary.md").read_text()
    assert "<script" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "](" not in text and "![" not in text
    assert "p &lt; 0.01 & [x]" in text and "&amp;amp;" in text
    assert text.startswith("# summary\n\n| machine |\n|---|\n")


def test_report_end_to_end_on_hostile_names(tmp_path, capsys) -> None:
    """A machine named like markup and a formula: the whole report is written, summary.md and
    the CSVs show it as text."""
    hostile = "=cmd|'/c calc'!A0<script>alert(1)</script>"
    root = tmp_path / "results"
    make_tree(tmp_path)
    data = json.loads((root / "box" / f"{'a' * 8}-{ENV_FILE}").read_text())
    data["params"]["machine"] = hostile
    (root / "box" / f"{'a' * 8}-{ENV_FILE}").write_text(json.dumps(data))
    out = tmp_path / "report"
    assert main(["report", "--quiet", "--results", str(root), "--out", str(out)]) == 0
    summary = (out / "summary.md").read_text()
    assert "<script" not in summary and "&lt;script&gt;" in summary
    environment = pd.read_csv(out / "environment.csv")
    assert environment["machine"].tolist() == ["'" + hostile]
    problems = pd.read_csv(out / "problems.csv")
    assert problems["severity"].tolist() == ["warning"]  # "says machine ... but lies in box"
    assert all(p.is_file() and not p.is_symlink() for p in out.iterdir())
    assert "error" not in capsys.readouterr().err


def test_value_rules_follow_units() -> None:
    assert judge.value_rule("time", "seconds").strict
    assert judge.value_rule("track", "seconds").what == "a time in seconds"  # compile seconds
    assert judge.value_rule("track", "kernels").integral
    assert judge.value_rule("track", "syncs").minimum == 0 and not judge.value_rule(
        "track", "syncs").strict
    assert judge.value_rule("ratio", "x hn_index").strict
    floats, bad = judge.numbers([1.0, None, True, "2", [3], 4], 6)
    assert bad == {2: "a JSON boolean", 3: "a string", 4: "a list"}
    assert floats[0] == 1.0 and math.isnan(floats[1]) and floats[5] == 4.0
    assert judge.show(True) == "true" and judge.show("x" * 100).endswith("...")
