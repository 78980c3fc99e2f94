"""analysis/: results tree -> tidy frame -> verdicts, throughput, recommendations, history.

Every results file here comes from a REAL asv run (the session's ``smoke_results``, or
``asv_partial_samples`` below). Merges, histories and bad input are made by copying those real
files under other commit hashes / machine names, or by damaging copies; nothing is hand-written.
"""

from __future__ import annotations

import ast
import itertools
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from asv import results as asv_results

from analysis import summarize as s
from analysis.cli import main
from analysis.load import Problem, default_results_dir, load_results
from birnn_bench.grid import BENCH_PARAM_NAMES, bench_spec
from birnn_bench.oracle import TOLERANCES
from birnn_bench.workload import build
from tests.conftest import REPO, head_commit, load_asv_conf

SMOKE_CORRECT = {"hn_index", "packed_unpack", "chunk_view", "manual_two_rnn"}
SMOKE_WRONG = {"hn_first_layer", "last_step_naive", "padded_gather", "hn_padded"}
KINDS = {"time_extract": "time", "time_forward": "time", "time_train_step": "time",
         "track_peak_bytes": "memory", "track_max_abs_error": "error"}


# ---------------------------------------------------------------------------------------------
# helpers: copies of real results files


def n_points(tree: Path, device: str | None = None) -> int:
    """Grid points of the suite per results file, from benchmarks.json (every benchmark but
    Environment, whose params are columns), optionally on one device only."""
    names = json.loads((tree / "benchmarks.json").read_text())
    total = 0
    for name, info in names.items():
        if name == "version" or name.endswith("Environment.track_threads"):
            continue
        sizes = [len(p) for p in info["params"]]
        if device is not None:
            sizes[info["param_names"].index("device")] = 1
        total += math.prod(sizes)
    return total


def core(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of the five benchmarks the analysis is about (the suite may hold more)."""
    return df[df["metric"].isin(list(KINDS))]


def results_file(tree: Path, machine: str = "smoke-box") -> Path:
    return next(p for p in (tree / machine).glob("*.json") if p.name != "machine.json")


def copy_tree(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


def copy_as(source: Path, tree: Path, *, commit: str | None = None, machine: str | None = None,
            date_shift_ms: int = 0, time_factor: float = 1.0, edit=None) -> Path:
    """A real results file under another commit hash and/or machine (file name rewritten)."""
    data = json.loads(source.read_text())
    if commit is not None:
        data["commit_hash"] = commit
    if machine is not None:
        data["params"]["machine"] = machine
    data["date"] += date_shift_ms
    if time_factor != 1.0:
        columns = data["result_columns"]
        for name, row in data["results"].items():
            if ".time_" not in name:
                continue
            for key in ("result", "stats_ci_99_a", "stats_ci_99_b", "stats_q_25", "stats_q_75"):
                at = columns.index(key)
                row[at] = [v * time_factor if v is not None else None for v in row[at]]
    if edit is not None:
        edit(data)
    folder = tree / (machine or source.parent.name)
    folder.mkdir(parents=True, exist_ok=True)
    if machine is not None and not (folder / "machine.json").exists():
        (folder / "machine.json").write_text(json.dumps({"machine": machine, "version": 1}))
    env = source.name.split("-", 1)[1]
    path = folder / f"{data['commit_hash'][:8]}-{env}"
    path.write_text(json.dumps(data))
    return path


def synthetic_intervals(width: float):
    """An ``edit`` for ``copy_as``: every timed point's spread made synthetic and deterministic
    (asv's 99% interval at +-``width`` of its median, quartiles at +-``width / 2``, no raw
    samples), so that what a test asserts about intervals does not depend on how loaded the
    machine was during the real run. The medians stay the measured ones."""
    spread = {"stats_ci_99_a": 1 - width, "stats_ci_99_b": 1 + width,
              "stats_q_25": 1 - width / 2, "stats_q_75": 1 + width / 2}

    def edit(data: dict) -> None:
        columns = data["result_columns"]
        for name, row in data["results"].items():
            if ".time_" not in name or row[columns.index("result")] is None:
                continue
            value = row[columns.index("result")]
            for key, factor in spread.items():
                row[columns.index(key)] = [v * factor if v is not None else None for v in value]
            at = columns.index("samples")
            if at < len(row):
                row[at] = None

    return edit


def run_asv(workdir: Path, machine: str, *extra: str) -> Path:
    """Like conftest.run_asv_smoke, with extra ``asv run`` arguments (a real run)."""
    conf = load_asv_conf(REPO / "asv.conf.json")
    conf.update(repo=str(REPO), benchmark_dir=str(REPO / "benchmarks"),
                results_dir=str(workdir / "results"), html_dir=str(workdir / "html"),
                env_dir=str(workdir / "env"))
    conf_path = workdir / "asv.conf.json"
    conf_path.write_text(json.dumps(conf))
    env = {**os.environ, "HOME": str(workdir), "BIRNN_BENCH_GRID": "smoke",
           "ASV_PYTHONPATH": str(REPO)}
    asv = [sys.executable, "-m", "asv"]
    subprocess.run([*asv, "machine", "--yes", "--machine", machine], cwd=workdir, env=env,
                   check=True, capture_output=True, text=True)
    done = subprocess.run([*asv, "run", "--python=same", f"--set-commit-hash={head_commit()}",
                           "--config", str(conf_path), "--machine", machine, *extra],
                          cwd=workdir, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return workdir / "results"


@pytest.fixture(scope="module")
def asv_partial_samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real PARTIAL asv run (Forward only) that records raw samples."""
    return run_asv(tmp_path_factory.mktemp("asv-partial"), "partial-box", "--bench",
                   "Forward", "--record-samples")


@pytest.fixture(scope="module")
def smoke(smoke_results: Path):
    return load_results(smoke_results)


def asv_errors(tree: Path, machine: str) -> dict[tuple, float]:
    """Error per grid point read with asv's own reader: an independent check of the loader."""
    out = {}
    for result in asv_results.iter_results(str(tree / machine)):
        for name in result.get_all_result_keys():
            if not name.endswith("track_max_abs_error"):
                continue
            params = result.get_result_params(name)
            for combo, value in zip(itertools.product(*params),
                                    result.get_result_value(name, params), strict=True):
                if value is not None and value == value:
                    out[tuple(ast.literal_eval(c) for c in combo)] = value
    return out


# ---------------------------------------------------------------------------------------------
# load


def test_tidy_frame_has_typed_columns(smoke, smoke_results) -> None:
    df = smoke.data
    assert smoke.problems == [] and len(smoke.files) == 1
    for name in ("machine", "device_name", "commit", "date", "torch", "cudnn", "gpu", "threads",
                 "benchmark", "metric", "kind", "unit", *BENCH_PARAM_NAMES, "value", "ci_low",
                 "ci_high", "q25", "q75", "number", "repeat", "samples", "file"):
        assert name in df.columns, name
    for name in ("batch", "max_len", "hidden", "layers", "threads", "number", "repeat"):
        assert str(df[name].dtype) == "Int64", name
    for name in ("device", "cell", "lengths", "dtype", "strategy", "machine", "kind"):
        assert isinstance(df[name].dtype, pd.CategoricalDtype), name
    assert str(df["date"].dtype).startswith("datetime64") and df["value"].dtype == np.float64
    # Every point of every benchmark; Environment is columns.
    assert len(df) == n_points(smoke_results)
    assert dict(zip(core(df)["metric"], core(df)["kind"], strict=True)) == KINDS
    assert {"seconds", "bytes", "abs error"} <= set(df["unit"])
    assert set(df["commit"]) == {head_commit()} and set(df["machine"]) == {"smoke-box"}
    assert set(df["torch"]) == {torch.__version__} and set(df["threads"]) == {1}
    assert set(df["batch"]) == {4} and set(df["layers"]) == {2}
    # Categories keep the suite's order (first appearance), not the alphabet's.
    cats = list(df["strategy"].cat.categories)
    assert cats[0] == "hn_index"
    assert cats.index("hn_first_layer") < cats.index("last_step_naive") < cats.index("chunk_view")
    forward = df[(df["metric"] == "time_forward") & (df["device"] == "cpu")]
    assert (forward["ci_low"] <= forward["value"]).all()
    assert (forward["value"] <= forward["ci_high"]).all()
    assert forward["repeat"].notna().all() and (forward["number"] >= 1).all()


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA points are measured here")
def test_skipped_cuda_points_are_missing_not_zero(smoke, smoke_results) -> None:
    df = smoke.data
    cuda = df[df["device"] == "cuda"]
    assert len(cuda) == n_points(smoke_results, "cuda")
    assert cuda["value"].isna().all() and cuda["ci_low"].isna().all()
    assert cuda["number"].isna().all()
    assert not (core(df)["value"] == 0).any()
    cpu = core(df)[core(df)["device"] == "cpu"]
    assert cpu["value"].notna().all()


def test_valid_tokens_match_the_workload_the_suite_builds() -> None:
    for lengths, batch, max_len in (("skewed", 4, 8), ("uniform", 64, 32), ("equal", 16, 128),
                                    ("skewed", 256, 512)):
        spec = bench_spec("cpu", "gru", batch, max_len, lengths, 16, 1, "float32")
        assert s.valid_tokens(lengths, batch, max_len) == float(build(spec).lengths.sum())


def test_default_results_dir_comes_from_asv_conf(tmp_path) -> None:
    assert default_results_dir(REPO / "asv.conf.json") == (REPO / "results").resolve()
    conf = tmp_path / "asv.conf.json"
    conf.write_text('{\n  // a comment, as in the repo\'s\n  "version": 1,\n'
                    '  "results_dir": "elsewhere/res"\n}\n')
    assert default_results_dir(conf) == (tmp_path / "elsewhere" / "res").resolve()


# ---------------------------------------------------------------------------------------------
# correctness and recommendations


def test_correctness_verdicts_follow_the_oracle_tolerance(smoke, smoke_results) -> None:
    verdicts = s.correctness(smoke.data)
    assert len(verdicts) == 8  # CPU only: CUDA points are n/a, not verdicts
    assert set(verdicts.loc[verdicts["correct"], "strategy"]) == SMOKE_CORRECT
    assert set(verdicts.loc[~verdicts["correct"], "strategy"]) == SMOKE_WRONG
    assert (verdicts["tolerance"] == TOLERANCES[torch.float32]).all()
    independent = asv_errors(smoke_results, "smoke-box")
    for row in verdicts.itertuples():
        key = tuple(getattr(row, n) for n in BENCH_PARAM_NAMES)
        assert row.error == independent[key]
        assert row.correct == (independent[key] <= TOLERANCES[getattr(torch, row.dtype)])
    matrix = s.correctness_matrix(verdicts)
    assert set(matrix.loc[matrix["share"] == 1, "strategy"]) == SMOKE_CORRECT


def test_recommendations_list_only_correct_strategies(smoke) -> None:
    tp = s.throughput(smoke.data)
    assert set(tp["metric"]) == {"time_extract", "time_forward", "time_train_step"}
    forward = tp[tp["metric"] == "time_forward"].set_index("strategy")
    assert (forward["seq_per_s"] == 4 / forward["time_s"]).all()
    assert (forward["valid_tokens"] == s.valid_tokens("skewed", 4, 8)).all()
    assert forward["peak_bytes"].gt(0).all()
    for metric in ("time_forward", "time_train_step"):
        recs = s.recommend(tp, metric)
        assert len(recs) == 1  # one device x one regime in the smoke grid
        rec = recs.iloc[0]
        assert rec["strategy"] in SMOKE_CORRECT and rec["runner_up"] in SMOKE_CORRECT
        assert rec["n_correct"] == 4 and set(rec["incorrect"].split(", ")) == SMOKE_WRONG
        assert rec["margin"] >= 0 and rec["method"] == "asv 99% CIs"
        assert rec["verdict"] in ("fastest", "no significant difference")
        assert set(filter(None, rec["tied_with"].split(", "))) <= SMOKE_CORRECT
    front = s.pareto(tp)
    assert set(front["strategy"]) == SMOKE_CORRECT and front["on_front"].any()
    sp = s.speedup(tp)
    base = sp[sp["strategy"] == "hn_index"]
    assert np.allclose(base["speedup"], 1.0) and (base["speedup_low"] <= 1).all()


def test_compiled_against_eager_is_checked_on_the_timed_point(smoke) -> None:
    table = s.compiled(smoke.data)
    # The smoke compile sub-grid on CPU: lstm, hn_index and padded_gather, eager vs compile.
    assert sorted(table["strategy"]) == ["hn_index", "padded_gather"]
    assert (table["device"] == "cpu").all() and table["verified"].all()
    assert np.allclose(table["speedup"], table["eager_s"] / table["compiled_s"])
    assert ((table["speedup_low"] <= table["speedup"])
            & (table["speedup"] <= table["speedup_high"])).all()
    assert (table["ci_method"] == "asv 99% CIs combined").all()  # no samples recorded
    assert (table["compile_s"] > 0).all()
    # Verdicts come from the compiled output on that very point: padding read on skewed lengths.
    verdict = dict(zip(table["strategy"], table["correct"], strict=True))
    assert verdict == {"hn_index": True, "padded_gather": False}


def test_significance_can_say_no_difference() -> None:
    rng = np.random.default_rng(1)
    a = tuple(1e-3 * (1 + 0.05 * rng.standard_normal(20)))
    b = tuple(1e-3 * (1 + 0.05 * rng.standard_normal(20)))
    c = tuple(1.5e-3 * (1 + 0.05 * rng.standard_normal(20)))
    row = lambda t: pd.Series({"samples": t, "time_s": float(np.median(t)),  # noqa: E731
                               "ci_low": np.nan, "ci_high": np.nan})
    same, p_same, method = s.compare(row(a), row(b))
    assert method == s.ROUND_METHOD and not same and p_same > 0.01
    differ, p_diff, _ = s.compare(row(a), row(c))
    assert differ and p_diff < 0.01
    # What this shared 2-core box does: a whole process lands on a slower CPU. Pooled, the
    # samples "differ" (p < 0.01); one round of the faster is slower than one of the other, so
    # the difference is not reproduced in every round and does not count.
    jitter = 1 + 0.001 * rng.standard_normal(5)
    by_round = lambda *levels: tuple(np.concatenate([lv * 1e-3 * jitter for lv in levels]))  # noqa: E731
    one, other = by_round(1.0, 1.0, 1.0, 1.3), by_round(1.25, 1.35, 1.35, 1.35)
    assert s.SAMPLES_PER_ROUND == 5
    noisy, p_noisy, _ = s.compare(row(one), row(other))
    assert p_noisy < 0.01 and not noisy
    clean, _, _ = s.compare(row(one), row(by_round(1.35, 1.35, 1.4, 1.35)))
    assert clean
    assert s.permutation_p(a, c) == s.permutation_p(a, c)  # fixed seed: deterministic
    overlap = s.compare(pd.Series({"time_s": 1.0, "ci_low": 0.9, "ci_high": 1.2}),
                        pd.Series({"time_s": 1.1, "ci_low": 1.0, "ci_high": 1.3}))
    apart = s.compare(pd.Series({"time_s": 1.0, "ci_low": 0.9, "ci_high": 1.05}),
                      pd.Series({"time_s": 1.5, "ci_low": 1.4, "ci_high": 1.6}))
    assert overlap[0] is False and apart[0] is True and apart[2] == "asv 99% CIs"


def test_round_medians_follow_asv_processes() -> None:
    """Samples are split one chunk per asv process when the count says so (3 rounds x 5 now, 4 x
    5 in older committed results, Compiled's 2 x 10 in aligned halves), else in asv's two
    default rounds; a chunk never mixes two processes when the count is a multiple of 5."""
    from birnn_bench import stats

    per_process = lambda *levels: np.repeat(np.array(levels, dtype=float), 5)  # noqa: E731
    assert stats.round_medians(per_process(1, 2, 3), 5).tolist() == [1, 2, 3]
    assert stats.round_medians(per_process(1, 2, 3, 4), 5).tolist() == [1, 2, 3, 4]
    assert stats.round_medians(np.repeat([1.0, 2.0], 10), 5).tolist() == [1, 1, 2, 2]
    assert stats.round_medians([1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0], 5).tolist() == [1, 2]
    assert stats.round_medians([1.0, 2.0, 3.0], 5).tolist() == [2]  # too few to split
    # One process of 5 (rounds=1): the two-round fallback halves it, which is only stricter.
    assert stats.round_medians(per_process(1), 5).tolist() == [1, 1]
    # One process of the faster strategy landed on a slow CPU: not reproduced in every round.
    assert not stats.reproduced_in_every_round(per_process(2, 2, 2), per_process(1, 1, 2.5), 5)
    assert stats.reproduced_in_every_round(per_process(2, 2, 2), per_process(1, 1, 1.5), 5)


def test_round_spread_measures_how_far_one_points_processes_land() -> None:
    """The figure FINDINGS quotes for the every-round criterion: slowest round median over the
    fastest, per point, summarised per device; points without samples are left out."""
    level = lambda *levels: tuple(np.repeat(np.array(levels) * 1e-3, 5))  # noqa: E731
    keys = {"machine": "box", "device": "cpu", "device_name": "AMD EPYC"}
    tp = pd.DataFrame([
        {**keys, "samples": level(1.0, 1.0, 2.0, 1.0)},
        {**keys, "samples": level(1.0, 1.2, 1.1, 1.0)},
        {**keys, "samples": level(3.0, 3.0, 3.0, 3.0)},
        {**keys, "samples": None},
        {**keys, "device": "cuda", "device_name": "H100", "samples": level(1.0, 1.5, 1.0, 1.0)},
    ])
    out = s.round_spread(tp)
    assert out[["device", "points"]].values.tolist() == [["cpu", 3], ["cuda", 1]]
    cpu, cuda = out.to_dict("records")
    assert cpu["max_spread"] == pytest.approx(2.0) and cpu["median_spread"] == pytest.approx(1.2)
    assert cuda["max_spread"] == pytest.approx(1.5)
    assert s.round_spread(tp.iloc[[3]]).empty and s.round_spread(tp.iloc[:0]).empty


def test_partial_run_with_samples_is_loaded_and_never_recommended(smoke_results,
                                                                  asv_partial_samples,
                                                                  tmp_path) -> None:
    """A real run of only the Forward benchmark, with raw samples, merged with the smoke run:
    its timings have no error measurement, so nothing is recommended for that machine."""
    tree = copy_tree(smoke_results, tmp_path / "results")
    partial = results_file(asv_partial_samples, "partial-box")
    shutil.copytree(partial.parent, tree / "partial-box")
    loaded = load_results(tree)
    assert {str(p.path) for p in loaded.problems} == {f"partial-box/{partial.name}"}
    (problem,) = loaded.problems
    assert problem.severity == "warning" and "partial run" in problem.message
    assert "track_max_abs_error" in problem.message
    df = loaded.data
    part = df[df["machine"] == "partial-box"]
    assert set(part["metric"]) == {"time_forward"}
    cpu = part[part["device"] == "cpu"]
    assert all(isinstance(x, tuple) and len(x) >= s.MIN_SAMPLES for x in cpu["samples"])
    assert all(min(x) <= v <= max(x) for x, v in zip(cpu["samples"], cpu["value"], strict=True))
    tp = s.throughput(df)
    recs = s.recommend(tp)
    mine = recs[recs["machine"] == "partial-box"].iloc[0]
    assert pd.isna(mine["strategy"]) and mine["verdict"] == "no correct strategy measured"
    assert set(mine["unverified"].split(", ")) == SMOKE_CORRECT | SMOKE_WRONG
    smoke_rec = recs[recs["machine"] == "smoke-box"].iloc[0]
    assert smoke_rec["strategy"] in SMOKE_CORRECT
    # With samples on both sides, the speed-up interval is a bootstrap.
    sp = s.speedup(tp)
    assert set(sp.loc[(sp["machine"] == "partial-box"), "ci_method"]) == {"bootstrap 99%"}


# ---------------------------------------------------------------------------------------------
# several machines and commits; history


def test_machines_and_commits_merge(smoke_results, tmp_path) -> None:
    tree = copy_tree(smoke_results, tmp_path / "results")
    source = results_file(tree)
    copy_as(source, tree, commit="a" * 40, date_shift_ms=3_600_000)
    copy_as(source, tree, machine="other-box")
    loaded = load_results(tree)
    assert loaded.problems == [] and len(loaded.files) == 3
    df = loaded.data
    assert set(df["machine"]) == {"smoke-box", "other-box"}
    assert set(df["commit"]) == {head_commit(), "a" * 40}
    assert len(df) == 3 * n_points(tree)
    recs = s.recommend(s.throughput(df))
    assert set(recs["machine"]) == {"smoke-box", "other-box"}
    assert set(recs["strategy"]) <= SMOKE_CORRECT
    # The newest commit per machine feeds the tables.
    snap = s.latest(df)
    assert set(snap.loc[snap["machine"] == "smoke-box", "commit"]) == {"a" * 40}


def test_history_flags_an_injected_regression(smoke_results, tmp_path) -> None:
    tree = copy_tree(smoke_results, tmp_path / "results")
    source = results_file(tree)
    # The compared commits carry synthetic intervals (the smoke run's own widths follow the
    # machine's load); the head file stays as measured. c: twice b's time, both +-1%: flagged.
    # d: twice c's time again, but +-70%: its interval reaches into c's, so not flagged.
    copy_as(source, tree, commit="b" * 40, date_shift_ms=3_600_000,
            edit=synthetic_intervals(0.01))
    copy_as(source, tree, commit="c" * 40, date_shift_ms=7_200_000, time_factor=2.0,
            edit=synthetic_intervals(0.01))
    copy_as(source, tree, commit="d" * 40, date_shift_ms=10_800_000, time_factor=4.0,
            edit=synthetic_intervals(0.7))
    hist = s.history(load_results(tree).data)
    timed = 3 * 8  # CPU points of the three time benchmarks on the suite's grid
    compiled = hist[hist["metric"] == "time_forward_compiled"]
    # The compile sub-grid: eager and compiled points are separate series.
    assert set(compiled["variant"]) == {"compile=eager", "compile=compile"}
    assert (hist.loc[hist["metric"] != "time_forward_compiled", "variant"] == "").all()
    assert not compiled.duplicated(["commit", "strategy", "variant"]).any()
    hist = hist[hist["metric"] != "time_forward_compiled"]
    assert len(hist) == 4 * timed
    assert not hist.loc[hist["commit"] != "c" * 40, "regression"].any()
    slow = hist[hist["commit"] == "c" * 40]
    assert np.allclose(slow["ratio"], 2.0) and set(slow["previous_commit"]) == {"b" * 40}
    # Twice as slow with +-1% intervals: the intervals separate, and every point is flagged.
    before = hist[hist["commit"] == "b" * 40].set_index(["metric", "strategy"])
    after = slow.set_index(["metric", "strategy"])
    separated = before.loc[after.index, "ci_high"].to_numpy() < after["ci_low"].to_numpy()
    assert separated.all() and len(after) == timed
    assert after["regression"].all()
    # Twice as slow again, intervals overlapping: a slowdown, never a flagged regression.
    noisy = hist[hist["commit"] == "d" * 40]
    assert np.allclose(noisy["ratio"], 2.0) and set(noisy["previous_commit"]) == {"c" * 40}
    assert len(noisy) == timed and not noisy["regression"].any()
    assert not hist["improvement"].any()
    summary = s.history_summary(hist)
    assert summary.loc[summary["commit"] == "c" * 40, "regressions"].sum() == \
        after["regression"].sum()


# ---------------------------------------------------------------------------------------------
# bad input


def test_missing_and_empty_results_folders(tmp_path, capsys) -> None:
    missing = tmp_path / "nope"
    loaded = load_results(missing)
    assert loaded.data.empty and loaded.problems == [
        Problem(str(missing), "results folder does not exist")]
    assert main(["report", "--results", str(missing), "--out", str(tmp_path / "r"),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{missing}: results folder does not exist" in err
    assert "nothing could be loaded" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    loaded = load_results(empty)
    assert loaded.data.empty and "is empty" in loaded.problems[0].message
    assert main(["report", "--results", str(empty), "--out", str(tmp_path / "r")]) == 2
    assert "is empty" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
    # The empty frame keeps the schema.
    assert str(loaded.data["batch"].dtype) == "Int64" and "strategy" in loaded.data


def test_truncated_corrupt_and_foreign_files_are_named_and_the_rest_loaded(smoke_results,
                                                                           tmp_path) -> None:
    tree = copy_tree(smoke_results, tmp_path / "results")
    source = results_file(tree)
    truncated = copy_as(source, tree, commit="d" * 40)
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    corrupt = copy_as(source, tree, commit="e" * 40)
    corrupt.write_bytes(b"\x00\x01 not json at all")

    def other_suite(data: dict) -> None:
        results = data["results"]
        results["strategies.Old.time_gone"] = results.pop("strategies.Extract.time_extract")
        row = results["strategies.Forward.time_forward"]
        row[1] = row[1][:-1]  # one parameter fewer than benchmarks.json names

    foreign = copy_as(source, tree, commit="f" * 40, edit=other_suite)

    def moved(data: dict) -> None:  # a benchmark class moved to another module of the suite
        results = data["results"]
        results["extract.Extract.time_extract"] = results.pop("strategies.Extract.time_extract")

    renamed = copy_as(source, tree, commit="1" * 40, edit=moved)
    (tree / "smoke-box" / "machine.json").write_text("{ broken")
    loaded = load_results(tree)
    by_file = {Path(p.path).name: p for p in loaded.problems}
    assert "is not valid JSON (truncated)" in by_file[truncated.name].message
    assert by_file[truncated.name].severity == "error"
    assert "is not valid JSON" in by_file[corrupt.name].message or \
        "not UTF-8" in by_file[corrupt.name].message
    message = " / ".join(p.message for p in loaded.problems if p.path.endswith(foreign.name))
    assert "'strategies.Old.time_gone' is not in benchmarks.json" in message
    assert "strategies.Forward.time_forward: 8 parameter lists, but benchmarks.json names 9" \
        in message
    assert by_file["machine.json"].severity == "warning"
    assert by_file[renamed.name].severity == "warning"
    assert "extract.Extract.time_extract as strategies.Extract.time_extract" in \
        by_file[renamed.name].message
    # The intact and the moved files are loaded in full, the foreign one in part.
    assert set(loaded.files) == {f"smoke-box/{p.name}" for p in (source, foreign, renamed)}
    df = loaded.data
    for commit in (head_commit(), "1" * 40):
        assert len(df[df["commit"] == commit]) == n_points(tree)
    rest = core(df[df["commit"] == "f" * 40])
    assert set(rest["metric"]) == {"time_train_step", "track_peak_bytes", "track_max_abs_error"}
    assert set(s.recommend(s.throughput(df))["strategy"]) <= SMOKE_CORRECT


def test_missing_benchmarks_json_and_foreign_format(smoke_results, tmp_path) -> None:
    tree = copy_tree(smoke_results, tmp_path / "results")
    source = results_file(tree)
    copy_as(source, tree, commit="9" * 40, edit=lambda d: d.update(version=1))
    loaded = load_results(tree)
    (problem,) = loaded.problems
    assert problem.path.endswith("99999999-" + source.name.split("-", 1)[1])
    assert "results format version 1, expected 2" in problem.message
    assert len(loaded.files) == 1
    (tree / "benchmarks.json").unlink()
    loaded = load_results(tree)
    assert loaded.data.empty
    assert loaded.problems[0].path == str(tree / "benchmarks.json")
    assert "missing" in loaded.problems[0].message


# ---------------------------------------------------------------------------------------------
# the report, in a browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def dump_dom(page: Path, tmp_path: Path) -> str:
    profile = tmp_path / "chromium-profile"
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def committed_results() -> Path | None:
    path = default_results_dir(REPO / "asv.conf.json")
    has_files = any(p.name != "machine.json" for p in path.glob("*/*.json"))
    return path if has_files and (path / "benchmarks.json").is_file() else None


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium")
@pytest.mark.parametrize("which", ["smoke", "committed"])
def test_report_opens_in_chromium_and_recommends_only_correct(which, smoke_results, tmp_path,
                                                              capsys) -> None:
    tree = smoke_results if which == "smoke" else committed_results()
    if tree is None:
        pytest.skip("no committed results in this checkout yet")
    out = tmp_path / "report"
    assert main(["report", "--results", str(tree), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "report:" in captured.out and "loading results" in captured.err
    for name in ("index.html", "summary.md", "recommendations.csv", "correctness.csv",
                 "throughput.csv", "speedup.csv", "pareto.csv", "correctness.png",
                 "correctness.svg", "time_vs_batch.png", "memory.svg", "speedup.png"):
        assert (out / name).is_file(), name
    page = (out / "index.html").read_text()
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "<link" not in page  # nothing loaded from anywhere
    dom = dump_dom(out / "index.html", tmp_path)
    assert 'id="recommendations"' in dom
    assert dom.count('src="data:image/png;base64,') >= 4
    assert "http://" not in dom and "https://" not in dom
    for heading in ("Production recommendation", "Correctness", "Throughput", "Speed-up",
                    "Memory", "Pareto front", "History", "Data problems", "Method"):
        assert heading in dom, heading
    # Every recommended strategy was measured correct on that very regime (checked against
    # the error values read with asv's own reader and the oracle's tolerances).
    recs = pd.read_csv(out / "recommendations.csv")
    assert len(recs) > 0
    machines = {str(m) for m in recs["machine"]}
    errors = {m: asv_errors(tree, m) for m in machines}
    for row in recs.itertuples():
        if pd.isna(row.strategy):
            assert row.verdict == "no correct strategy measured"
            continue
        key = (row.device, row.cell, row.batch, row.max_len, row.lengths, row.hidden,
               row.layers, row.dtype, row.strategy)
        assert errors[row.machine][key] <= TOLERANCES[getattr(torch, row.dtype)], key
    if which == "smoke":
        assert set(recs["strategy"]) <= SMOKE_CORRECT
        summary = (out / "summary.md").read_text()
        assert "## Production recommendation" in summary and "| strategy |" not in summary[:50]


def test_markdown_table_escapes_pipes() -> None:
    from analysis.report import markdown_table

    text = markdown_table(pd.DataFrame({"a": ["x|y", None], "b": [1.5, math.nan]}))
    assert text.splitlines() == ["| a | b |", "|---|---|", "| x\\|y | 1.5 |", "|  |  |"]
