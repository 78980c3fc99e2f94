"""birnn-bench recommend and the statistics behind it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from birnn_bench import stats
from birnn_bench.cli import main
from birnn_bench.recommend import format_recommendation, recommend
from birnn_bench.workload import WorkloadSpec


def test_intervals_are_deterministic_and_cover_the_estimate() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(10, 1, 50)
    first, second = stats.median_interval(a), stats.median_interval(a)
    assert first == second and first.low <= first.estimate <= first.high


def test_compare_separates_real_differences_from_noise() -> None:
    rng = np.random.default_rng(2)
    fast, slow = rng.normal(1.0, 0.02, 40), rng.normal(1.3, 0.02, 40)
    real = stats.compare(slow, fast)
    assert real.significant and 1.25 < real.ratio.estimate < 1.35
    same = stats.compare(rng.normal(1.0, 0.05, 40), rng.normal(1.0, 0.05, 40))
    assert not same.significant  # "no significant difference" is a possible answer


def test_empty_samples_are_refused() -> None:
    with pytest.raises(ValueError, match="numerator: no finite samples"):
        stats.ratio_interval([float("nan")], [1.0])


def test_recommend_times_only_correct_strategies() -> None:
    spec = WorkloadSpec(cell="gru", num_layers=2, hidden_size=16, batch=4, max_len=10,
                        lengths="skewed")
    rec = recommend(spec, rounds=2, min_run_time=0.01)
    correct = [r.strategy for r in rec.ranking if r.correct]
    assert set(correct) == {"hn_index", "packed_unpack", "chunk_view", "manual_two_rnn"}
    assert rec.choice == correct[0] and rec.runner_up == correct[1]
    medians = [r.median_s for r in rec.ranking if r.correct]
    assert medians == sorted(medians)
    for row in rec.ranking:
        assert (row.median_s is None) != row.correct
        if row.correct:
            assert row.samples >= 2 and row.ci_low_s <= row.median_s <= row.ci_high_s
    assert rec.ranking[0].vs_best.estimate == 1.0
    text = format_recommendation(rec)
    assert "Recommendation: " + rec.choice in text and "excluded: wrong" in text


def test_recommend_cli_with_a_lengths_file(tmp_path, capsys) -> None:
    lengths = tmp_path / "lengths.txt"
    lengths.write_text("3\n9\n14\n2\n")
    out = tmp_path / "rec.json"
    code = main(["recommend", "--lengths", str(lengths), "--batch", "4", "--hidden", "8",
                 "--input-size", "4", "--rounds", "1", "--min-run-time", "0.01",
                 "--strategies", "hn_index,manual_two_rnn,hn_padded", "--json", str(out)])
    assert code == 0
    captured = capsys.readouterr()
    assert "round 1/1" in captured.err  # the progress bar
    data = json.loads(out.read_text())
    assert data["workload"]["max_len"] == 14 and data["choice"] in {"hn_index", "manual_two_rnn"}
    assert {r["strategy"] for r in data["ranking"] if not r["correct"]} == {"hn_padded"}


def test_recommend_cli_bad_input(tmp_path, capsys) -> None:
    assert main(["recommend", "--lengths", str(tmp_path / "missing.txt")]) == 2
    assert "neither a distribution" in capsys.readouterr().err
    bad = tmp_path / "bad.txt"
    bad.write_text("5 0")
    assert main(["recommend", "--lengths", str(bad)]) == 2
    assert "length 0 is < 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["recommend", "--hidden", "0"])


def test_recommend_require_and_profile(tmp_path, capsys) -> None:
    out = tmp_path / "rec.json"
    code = main(["recommend", "--batch", "4", "--hidden", "8", "--input-size", "4",
                 "--max-len", "8", "--rounds", "1", "--min-run-time", "0.01",
                 "--strategies", "hn_index,manual_two_rnn", "--require", "export",
                 "--profile", str(tmp_path / "traces"), "--json", str(out)])
    assert code == 0
    data = json.loads(out.read_text())
    # Packing strategies do not export (torch 2.13); manual_two_rnn does, via the while-loop
    # rnn decomposition. A PyTorch upgrade that changes this shows here.
    assert data["choice"] == "manual_two_rnn"
    excluded = {r["strategy"]: r["excluded"] for r in data["ranking"] if r["excluded"]}
    assert list(excluded) == ["hn_index"] and "fails --require export" in excluded["hn_index"]
    trace = json.loads(Path(data["traces"]["manual_two_rnn"]).read_text())
    assert "traceEvents" in trace
    assert "birnn::extract" in json.dumps(trace)


def test_recommend_profile_path_that_is_a_file(tmp_path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["recommend", "--batch", "2", "--hidden", "4", "--rounds", "1",
                 "--profile", str(blocker)]) == 2
    assert "profile: cannot use" in capsys.readouterr().err
