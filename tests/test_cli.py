"""birnn-bench check: the matrix on the terminal and in files."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from birnn_bench.cli import main


def test_check_prints_matrix_summary_and_writes_files(tmp_path, capsys) -> None:
    out_json, out_csv = tmp_path / "m.json", tmp_path / "m.csv"
    code = main(["check", "--cells", "lstm,gru", "--layers", "1,2", "--lengths", "equal,unsorted",
                 "--json", str(out_json), "--csv", str(out_csv)])
    assert code == 0
    text = capsys.readouterr().out
    assert "Tolerance (max abs error against the float64 oracle): float64 1e-09, float32 1e-04" \
        in text
    assert "hn_index" in text and "FAIL" in text and "ok " in text
    summary = json.loads(out_json.read_text())["summary"]
    assert summary["hn_index"]["passed"] == summary["hn_index"]["total"] > 0
    assert summary["hn_first_layer"]["always_fails"] == ["num_layers=2"]
    assert summary["hn_first_layer"]["never_fails"] == ["num_layers=1"]
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == len(json.loads(out_json.read_text())["rows"])
    assert {r["passed"] for r in rows if r["strategy"] == "manual_two_rnn"} == {"True"}


def test_check_reports_bad_arguments_clearly(tmp_path, capsys) -> None:
    bad = tmp_path / "lengths.txt"
    bad.write_text("4 0 2")
    assert main(["check", "--lengths", f"file:{bad}", "--layers", "1"]) == 2
    assert "length 0 is < 1" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main(["check", "--device", "cuda"]) == 2
        assert "CUDA is not available" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["check", "--strategies", "hn_index,nonsense"])
    assert exit_info.value.code == 2
    assert "'nonsense' is not one of" in capsys.readouterr().err
