"""The strategy contract and the verdict pattern of the correctness matrix."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from birnn_bench import buckets, check
from birnn_bench.buckets import BucketCosts
from birnn_bench.check import run_check
from birnn_bench.oracle import TOLERANCES, max_abs_error, oracle_last_states
from birnn_bench.strategies import STRATEGIES
from birnn_bench.workload import WorkloadSpec, build

CORRECT = ("hn_index", "packed_unpack", "chunk_view", "manual_two_rnn", "hn_plain_if_full",
           "bucketed")
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


# ---------------------------------------------------------------------------------------------
# the strategies beyond the thread: hn_plain_if_full and bucketed

#: Cost constants that force each plan: one bucket per distinct length, or one bucket in all.
PLANS = {"finest": BucketCosts(per_call=0.0, per_step=0.0, per_token=1.0),
         "one": BucketCosts(per_call=1.0, per_step=0.0, per_token=0.0)}


@pytest.fixture(params=list(PLANS))
def plan(request, monkeypatch) -> str:
    """Every rnn mode plans with the costs of ``request.param`` while the test runs."""
    for mode in buckets.DEFAULT_COSTS:
        monkeypatch.setitem(buckets.DEFAULT_COSTS, mode, PLANS[request.param])
    return request.param


def test_bucketed_passes_the_whole_matrix_one_bucket_per_length(monkeypatch) -> None:
    # The check itself runs the shipped costs (mostly one bucket on its small shapes).
    for mode in buckets.DEFAULT_COSTS:
        monkeypatch.setitem(buckets.DEFAULT_COSTS, mode, PLANS["finest"])
    rows = run_check(check.check_specs(), {"bucketed": STRATEGIES["bucketed"]})
    assert rows and all(row.passed and not row.error for row in rows), \
        [row for row in rows if not row.passed][:3]


def test_forced_plans_cut_where_asked(plan: str) -> None:
    strategy = STRATEGIES["bucketed"]
    rnn, x, lengths = build(WorkloadSpec(lengths="unsorted", batch=6, max_len=9))
    ran = strategy.run(rnn, strategy.prepare(x, lengths, rnn.batch_first))
    wanted = len(set(lengths.tolist())) if plan == "finest" else 1
    assert len(ran[0]) == wanted
    for fwd_out, _, bucket_lengths in ran[0]:
        assert fwd_out.shape[1] == int(bucket_lengths.max())  # padded to its own longest only


def _gradients(name: str, rnn: torch.nn.RNNBase, x: torch.Tensor,
               lengths: torch.Tensor) -> dict[str, torch.Tensor]:
    """d(scalar loss)/d(every weight and x) in training mode; the loss weighs every unit
    differently, so a swapped row or direction cannot cancel out."""
    rnn.train()
    rnn.zero_grad(set_to_none=True)
    x = x.detach().clone().requires_grad_(True)
    fwd, bwd = STRATEGIES[name](rnn, x, lengths)
    weights = torch.linspace(-1, 1, fwd.numel(), dtype=fwd.dtype).view_as(fwd)
    ((fwd * weights).sum() + (bwd * weights.flip(0)).square().sum()).backward()
    found = {pname: param.grad.clone() for pname, param in rnn.named_parameters()}
    found["x"] = x.grad.clone()
    rnn.eval()
    return found


TRAINING_CASES = [
    WorkloadSpec(cell=cell, num_layers=layers, proj_size=proj, layout=layout, lengths=pattern,
                 dtype="float64", batch=6, max_len=9, input_size=5, hidden_size=8)
    for cell, proj in (("lstm", 0), ("lstm", 3), ("gru", 0), ("rnn", 0))
    for layers in (1, 3)
    for layout, pattern in (("batch_first", "unsorted"), ("time_first", "unsorted"),
                            ("batch_first", "equal"))]


def _assert_gradients_match_hn_index(name: str, spec: WorkloadSpec) -> None:
    rnn, x, lengths = build(spec)
    want = _gradients("hn_index", rnn, x, lengths)
    got = _gradients(name, rnn, x, lengths)
    assert got.keys() == want.keys()
    tol = TOLERANCES[torch.float64]
    for key, grad in want.items():
        assert grad.abs().sum() > 0, key  # every weight and x gets a gradient
        assert max_abs_error(got[key], grad) <= tol, (key, max_abs_error(got[key], grad))


def _case_id(spec: WorkloadSpec) -> str:
    return f"{spec.cell}{spec.proj_size or ''}-L{spec.num_layers}-{spec.layout}-{spec.lengths}"


@pytest.mark.parametrize("spec", TRAINING_CASES, ids=_case_id)
def test_bucketed_training_step_matches_hn_index_gradients(spec: WorkloadSpec,
                                                          plan: str) -> None:
    _assert_gradients_match_hn_index("bucketed", spec)


@pytest.mark.parametrize("spec", TRAINING_CASES, ids=_case_id)
def test_plain_if_full_training_step_matches_hn_index_gradients(spec: WorkloadSpec) -> None:
    _assert_gradients_match_hn_index("hn_plain_if_full", spec)


def test_plain_if_full_packs_exactly_when_something_is_padded() -> None:
    prepare = STRATEGIES["hn_plain_if_full"].prepare
    for layout in ("batch_first", "time_first"):
        spec = WorkloadSpec(layout=layout, batch=4, max_len=5)
        _, x, _ = build(spec)
        full = torch.tensor([5, 5, 5, 5])
        assert prepare(x, full, spec.batch_first)[1] is None
        for lengths in ([5, 5, 4, 5], [1, 2, 3, 4]):
            packed = prepare(x, torch.tensor(lengths), spec.batch_first)[1]
            assert packed is not None
            assert packed.batch_sizes.numel() == max(lengths)


@settings(max_examples=40, deadline=None)
@given(configurations(), st.sampled_from(list(PLANS)))
def test_bucketed_matches_the_oracle_on_random_configurations_and_plans(config, plan) -> None:
    rnn, x, lengths = config
    truth = oracle_last_states(rnn, x, lengths)
    saved = dict(buckets.DEFAULT_COSTS)
    try:
        buckets.DEFAULT_COSTS.update(dict.fromkeys(saved, PLANS[plan]))
        with torch.no_grad():
            fwd, bwd = STRATEGIES["bucketed"](rnn, x, lengths)
    finally:
        buckets.DEFAULT_COSTS.update(saved)
    assert max_abs_error(fwd, truth[0]) < 1e-9 and max_abs_error(bwd, truth[1]) < 1e-9
