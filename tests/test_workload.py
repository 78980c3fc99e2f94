"""Workloads are deterministic, loud in their padding, and honest about their lengths."""

from __future__ import annotations

import pytest
import torch

from birnn_bench.workload import PADDING_SCALE, WorkloadSpec, build, make_lengths


def test_same_spec_same_tensors_and_seed_matters() -> None:
    spec = WorkloadSpec(cell="gru", num_layers=2, lengths="skewed", batch=12, max_len=20)
    a, b = build(spec), build(spec)
    assert torch.equal(a.x, b.x) and torch.equal(a.lengths, b.lengths)
    for pa, pb in zip(a.rnn.parameters(), b.rnn.parameters(), strict=True):
        assert torch.equal(pa, pb)
    c = build(spec.with_(seed=1))
    assert not torch.equal(a.x, c.x)


def test_build_does_not_touch_the_global_generator() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build(WorkloadSpec())
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("layout", ["batch_first", "time_first"])
def test_padding_is_loud_and_valid_steps_are_not(layout: str) -> None:
    rnn, x, lengths = build(WorkloadSpec(layout=layout, lengths="uniform", batch=10, max_len=9))
    assert rnn.batch_first == (layout == "batch_first") and not rnn.training
    xt = x if layout == "time_first" else x.transpose(0, 1)  # (T, B, F)
    for b, length in enumerate(lengths.tolist()):
        assert xt[:length, b].abs().max() < 10
        if length < 9:
            assert xt[length:, b].abs().min() >= PADDING_SCALE


def test_length_patterns() -> None:
    g = torch.Generator().manual_seed(0)
    assert make_lengths("equal", 5, 7, g).tolist() == [7] * 5
    for pattern in ("uniform", "skewed", "sorted", "unsorted", "short", "with_ones"):
        lengths = make_lengths(pattern, 16, 12, g)
        assert lengths.dtype == torch.int64 and lengths.shape == (16,)
        assert int(lengths.min()) >= 1 and int(lengths.max()) <= 12, pattern
    assert int(make_lengths("short", 16, 12, g).max()) < 12
    assert 1 in make_lengths("with_ones", 16, 12, g).tolist()
    ordered = make_lengths("sorted", 16, 12, g)
    assert ordered.tolist() == sorted(ordered.tolist(), reverse=True)
    unordered = make_lengths("unsorted", 16, 12, g)
    assert unordered.tolist() != sorted(unordered.tolist(), reverse=True)
    skewed = make_lengths("skewed", 400, 100, g).float()
    assert skewed.median() < 30 and int(skewed.max()) == 100  # long-tailed


def test_lengths_from_a_file(tmp_path) -> None:
    path = tmp_path / "lengths.txt"
    path.write_text("3, 5\n9 1\n")
    lengths = build(WorkloadSpec(lengths=f"file:{path}", batch=20, max_len=9)).lengths
    assert set(lengths.tolist()) <= {1, 3, 5, 9} and len(lengths) == 20


@pytest.mark.parametrize(("text", "pattern"), [
    ("3 0 2", r"length 0 is < 1"),
    ("3 x 2", r"'x' is not an integer"),
    ("3 50", r"holds length 50, longer than max_len=9"),
    ("", r"holds no lengths"),
])
def test_bad_lengths_files_name_the_problem(tmp_path, text: str, pattern: str) -> None:
    path = tmp_path / "lengths.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=pattern):
        build(WorkloadSpec(lengths=f"file:{path}", max_len=9))


def test_missing_lengths_file(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"cannot be read"):
        build(WorkloadSpec(lengths=f"file:{tmp_path / 'none.txt'}"))


@pytest.mark.parametrize(("changes", "pattern"), [
    ({"cell": "transformer"}, r"cell: expected one of"),
    ({"num_layers": 0}, r"num_layers: expected an integer >= 1"),
    ({"proj_size": 2, "cell": "gru"}, r"proj_size: must be 0, or > 0 for an lstm only"),
    ({"proj_size": 40}, r"proj_size: must be smaller than hidden_size"),
    ({"dtype": "int8"}, r"dtype: expected one of"),
    ({"layout": "nhwc"}, r"layout: expected one of"),
    ({"lengths": "gaussian"}, r"lengths: expected one of"),
])
def test_bad_specs(changes: dict, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        WorkloadSpec(**changes)
