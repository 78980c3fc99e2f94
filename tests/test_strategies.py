"""The strategy contract and the verdict pattern of the correctness matrix."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from birnn_bench import check
from birnn_bench.check import run_check
from birnn_bench.oracle import max_abs_error, oracle_last_states
from birnn_bench.strategies import STRATEGIES
from birnn_bench.workload import WorkloadSpec, build

CORRECT = ("hn_index", "packed_unpack", "chunk_view", "manual_two_rnn")
PITFALLS = ("last_step_naive", "hn_first_layer", "hn_padded")


def test_registry_names_and_metadata() -> None:
    assert set(CORRECT + PITFALLS + ("padded_gather",)) <= set(STRATEGIES)
    for name, strategy in STRATEGIES.items():
        assert strategy.name == name
        assert strategy.description and strategy.claim
    assert {n for n, s in STRATEGIES.items() if s.pitfall} == set(PITFALLS)


@pytest.fixture(scope="module")
def default_matrix():
    return run_check(check.check_specs())


def test_default_grid_covers_every_factor(default_matrix) -> None:
    conditions = {row.condition() for row in default_matrix}
    assert {c[0] for c in conditions} == {"lstm", "gru", "rnn"}
    assert {c[1] for c in conditions} == {1, 2, 3}
    assert {c[2] for c in conditions} == {0, check.CHECK_PROJ_SIZE}
    assert {c[3] for c in conditions} == {"batch_first", "time_first"}
    assert {c[4] for c in conditions} == set(check.CHECK_LENGTHS)
    assert {c[5] for c in conditions} == {"float64", "float32"}
    assert {row.padded for row in default_matrix} == {True, False}


def test_verdict_pattern_matches_semantics(default_matrix) -> None:
    for row in default_matrix:
        expected = STRATEGIES[row.strategy].expected(row.num_layers, row.padded, row.max_len)
        assert (row.fwd_ok, row.bwd_ok) == expected, row
        assert row.error == ""


def test_correct_strategies_pass_everything_and_pitfalls_fail_somewhere(default_matrix) -> None:
    for name in CORRECT:
        rows = [r for r in default_matrix if r.strategy == name]
        assert rows and all(r.passed for r in rows), name
    for name in (*PITFALLS, "padded_gather"):
        assert any(not r.passed for r in default_matrix if r.strategy == name), name


def test_wrong_answers_miss_by_far_more_than_the_tolerance(default_matrix) -> None:
    # The verdicts must not hinge on rounding: a wrong half misses by >= 100x the tolerance.
    for row in default_matrix:
        if not row.passed:
            assert row.max_abs_error > 100 * row.tolerance, row


def test_verdicts_are_identical_across_runs(default_matrix) -> None:
    again = run_check(check.check_specs(cells=("lstm",), layers=(2,)))
    first = {(r.strategy, r.condition()): (r.fwd_ok, r.bwd_ok) for r in default_matrix}
    for row in again:
        assert first[(row.strategy, row.condition())] == (row.fwd_ok, row.bwd_ok)


# ---------------------------------------------------------------------------------------------
# random configurations for the correct strategies


@st.composite
def configurations(draw):
    cell = draw(st.sampled_from(["lstm", "gru", "rnn"]))
    hidden = draw(st.integers(2, 9))
    proj = draw(st.integers(0, hidden - 1)) if cell == "lstm" else 0
    steps = draw(st.integers(1, 11))
    batch = draw(st.integers(1, 7))
    lengths = draw(st.lists(st.integers(1, steps), min_size=batch, max_size=batch))
    spec = WorkloadSpec(cell=cell, num_layers=draw(st.integers(1, 3)),
                        input_size=draw(st.integers(1, 6)), hidden_size=hidden, proj_size=proj,
                        batch=batch, max_len=steps, lengths="equal",
                        layout=draw(st.sampled_from(["batch_first", "time_first"])),
                        dtype="float64", seed=draw(st.integers(0, 10_000)))
    rnn, x, _ = build(spec)
    lengths = torch.tensor(lengths, dtype=torch.int64)
    # Loud padding after each drawn length, as the workload generator does.
    tdim = 1 if spec.batch_first else 0
    mask = torch.arange(steps).view(-1, 1) >= lengths.view(1, -1)  # (T, B)
    if spec.batch_first:
        mask = mask.t()
    x = x.clone()
    x[mask] = 150.0
    assert x.shape[tdim] == steps
    return rnn, x, lengths


@settings(max_examples=60, deadline=None)
@given(configurations())
def test_correct_strategies_match_the_oracle_on_random_configurations(config) -> None:
    rnn, x, lengths = config
    truth = oracle_last_states(rnn, x, lengths)
    with torch.no_grad():
        for name in CORRECT:
            fwd, bwd = STRATEGIES[name](rnn, x, lengths)
            assert max_abs_error(fwd, truth[0]) < 1e-9, name
            assert max_abs_error(bwd, truth[1]) < 1e-9, name


@pytest.mark.parametrize("name", list(STRATEGIES))
@pytest.mark.parametrize("proj", [0, 3])
def test_contract_shapes_dtype_and_no_mutation(name: str, proj: int) -> None:
    spec = WorkloadSpec(cell="lstm", num_layers=2, hidden_size=6, proj_size=proj, batch=5,
                        max_len=7, lengths="unsorted", dtype="float32")
    rnn, x, lengths = build(spec)
    x_before, lengths_before = x.clone(), lengths.clone()
    params_before = {k: v.clone() for k, v in rnn.state_dict().items()}
    fwd, bwd = STRATEGIES[name](rnn, x, lengths)
    h_out = proj or 6
    assert fwd.shape == bwd.shape == (5, h_out)
    assert fwd.dtype == bwd.dtype == torch.float32
    assert fwd.device == x.device
    assert torch.equal(x, x_before) and torch.equal(lengths, lengths_before)
    for key, value in rnn.state_dict().items():
        assert torch.equal(value, params_before[key]), key
    assert not rnn.training


@pytest.mark.parametrize("name", CORRECT)
def test_gradients_flow_to_every_weight(name: str) -> None:
    rnn, x, lengths = build(WorkloadSpec(cell="gru", num_layers=2, lengths="unsorted"))
    rnn.train()
    fwd, bwd = STRATEGIES[name](rnn, x, lengths)
    (fwd.sum() + bwd.sum()).backward()
    for pname, param in rnn.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, pname


def test_hn_index_returns_original_batch_order() -> None:
    rnn, x, lengths = build(WorkloadSpec(lengths="unsorted", batch=6, dtype="float64"))
    fwd, bwd = STRATEGIES["hn_index"](rnn, x, lengths)
    order = torch.tensor([3, 0, 5, 1, 4, 2])
    fwd_p, bwd_p = STRATEGIES["hn_index"](rnn, x[order], lengths[order])
    assert torch.allclose(fwd_p, fwd[order]) and torch.allclose(bwd_p, bwd[order])
