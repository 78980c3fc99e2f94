"""birnn-bench recommend: correctness first, the paired engine, only safe strategies chosen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from birnn_bench import compare
from birnn_bench.cli import main
from birnn_bench.recommend import Ranked, choose, format_recommendation, recommend
from birnn_bench.workload import WorkloadSpec

NARROW = compare.Interval(1.0, 0.99, 1.01)  # an A/A that resolves


def _row(name: str, ratio: tuple[float, float, float] | None, safe: bool = True,
         aa: compare.Interval | None = NARROW) -> Ranked:
    interval = compare.Interval(*ratio) if ratio else None
    return Ranked(strategy=name, correct=True, safe=safe, max_abs_error=0.0, ratio=interval,
                  verdict="A/A" if name == "hn_index" else
                  compare.verdict(interval, aa) if interval else "")


def test_choice_is_safe_and_the_safe_default_wins_ties() -> None:
    base = _row("hn_index", (1.0, 0.98, 1.02))
    # A pitfall that is right here and much faster is the floor, never the choice.
    assert choose([_row("hn_padded", (0.5, 0.45, 0.55), safe=False), base], "hn_index") \
        == "hn_index"
    # A safe strategy tied with the baseline (interval over 1) does not displace it ...
    assert choose([_row("manual_two_rnn", (0.97, 0.93, 1.01)), base], "hn_index") == "hn_index"
    # ... one significantly faster does; among several, the lowest ratio.
    assert choose([_row("a", (0.8, 0.7, 0.9)), _row("b", (0.6, 0.5, 0.7)), base],
                  "hn_index") == "b"
    # ... unless the run's A/A could not tell: noise is never a decision.
    wide = compare.Interval(0.99, 0.93, 1.01)
    assert choose([_row("b", (0.6, 0.5, 0.7), aa=wide), base], "hn_index") == "hn_index"


def test_recommend_times_only_correct_strategies() -> None:
    spec = WorkloadSpec(cell="gru", num_layers=2, hidden_size=16, batch=4, max_len=10,
                        lengths="skewed")
    rec = recommend(spec, budget_s=1.0)
    timed = [r.strategy for r in rec.ranking if r.ratio is not None]
    assert set(timed) == {"hn_index", "packed_unpack", "chunk_view", "manual_two_rnn",
                          "hn_plain_if_full", "bucketed"}
    assert all(r.safe for r in rec.ranking if r.ratio is not None)
    ratios = [r.ratio.estimate for r in rec.ranking if r.ratio is not None]
    assert ratios == sorted(ratios) and rec.floor == timed[0]
    for row in rec.ranking:
        assert (row.ratio is None) != row.correct
        if row.ratio is not None:
            assert row.rounds >= compare.MIN_ROUNDS
            assert row.ratio.low <= row.ratio.estimate <= row.ratio.high
    assert rec.resolution == next(r.ratio for r in rec.ranking if r.strategy == "hn_index")
    assert rec.choice in timed and rec.environment["threads"] == 1
    text = format_recommendation(rec)
    assert "Recommendation: " + rec.choice in text and "excluded: wrong" in text
    assert "Resolution (A/A" in text and "99% interval" in text


def test_a_pitfall_right_here_is_marked_and_never_chosen() -> None:
    # Equal lengths, one layer: every pitfall is right on this workload.
    spec = WorkloadSpec(cell="lstm", num_layers=1, hidden_size=8, batch=3, max_len=6,
                        lengths="equal")
    rec = recommend(spec, budget_s=0.5)
    unsafe = {r.strategy for r in rec.ranking if r.ratio is not None and not r.safe}
    assert {"hn_padded", "padded_gather", "hn_first_layer"} <= unsafe
    assert rec.choice not in unsafe
    assert "†" in format_recommendation(rec)


def test_recommend_cli_with_a_lengths_file(tmp_path, capsys) -> None:
    lengths = tmp_path / "lengths.txt"
    lengths.write_text("3\n9\n14\n2\n")
    out = tmp_path / "rec.json"
    code = main(["recommend", "--lengths", str(lengths), "--batch", "4", "--hidden", "8",
                 "--input-size", "4", "--budget", "0.5",
                 "--strategies", "hn_index,manual_two_rnn,hn_padded", "--json", str(out)])
    assert code == 0
    captured = capsys.readouterr()
    assert "round 8," in captured.err  # the progress bar
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
                 "--max-len", "8", "--budget", "0.5",
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


def test_a_stand_in_baseline_is_safe_and_no_pitfall_makes_a_choice(tmp_path, capsys) -> None:
    """With hn_index excluded, a pitfall right here (hn_padded: equal lengths) once stood in as
    the baseline, and a slower safe strategy was called "significantly faster" than it."""
    out = tmp_path / "rec.json"
    args = ["recommend", "--batch", "4", "--hidden", "8", "--input-size", "4", "--max-len", "8",
            "--lengths", "equal", "--budget", "0.3", "--require", "export", "--strategies"]
    assert main([*args, "hn_index,hn_padded,manual_two_rnn", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["baseline"] == data["choice"] == "manual_two_rnn"
    assert data["verdict"].startswith("manual_two_rnn: no other safe strategy")
    capsys.readouterr()
    assert main([*args, "hn_index,hn_padded"]) == 2
    assert "no strategy timed is correct on every condition" in capsys.readouterr().err


def test_recommend_profile_path_that_is_a_file(tmp_path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["recommend", "--batch", "2", "--hidden", "4", "--budget", "0.5",
                 "--profile", str(blocker)]) == 2
    assert f"error: --profile {blocker}: is an existing file, not a folder" in \
        capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--budget", "nan"], "--budget"), (["--budget", "inf"], "--budget"),
    (["--budget", "-1"], "--budget"), (["--budget", "0"], "--budget"),
    (["--target", "5"], "--target"), (["--device", "tpu"], "--device"),
    (["--device", "bogus"], "--device"), (["--dtype", "float16"], "--dtype"),
])
def test_recommend_refuses_bad_values_before_any_work(args, message, capsys) -> None:
    try:
        code = main(["recommend", "--batch", "2", "--hidden", "4", *args])
    except SystemExit as exit_:
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and "round" not in err


def test_recommend_json_into_a_directory_is_refused_before_work(tmp_path, capsys) -> None:
    assert main(["recommend", "--batch", "2", "--hidden", "4", "--json", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--json" in err and "checking" not in err
