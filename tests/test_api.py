"""last_states: the production helper and its input checks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from birnn_bench import STRATEGIES, WorkloadSpec, build, last_states
from birnn_bench.oracle import oracle_last_states


@pytest.fixture
def workload():
    return build(WorkloadSpec(cell="lstm", num_layers=2, hidden_size=6, batch=4, max_len=5,
                              lengths="unsorted", dtype="float64"))


def test_default_matches_the_oracle(workload) -> None:
    fwd, bwd = last_states(*workload)
    truth = oracle_last_states(*workload)
    assert torch.allclose(fwd, truth[0], atol=1e-12) and torch.allclose(bwd, truth[1], atol=1e-12)


def test_concat_and_reduce_forms(workload) -> None:
    fwd, bwd = last_states(*workload)
    both = last_states(*workload, concat=True)
    assert both.shape == (4, 12) and torch.equal(both, torch.cat([fwd, bwd], dim=-1))
    assert torch.equal(last_states(*workload, reduce="sum"), fwd + bwd)
    assert torch.allclose(last_states(*workload, reduce="mean"), (fwd + bwd) / 2)


def test_accepts_a_list_and_other_integer_dtypes(workload) -> None:
    rnn, x, lengths = workload
    expected = last_states(rnn, x, lengths)
    for variant in (lengths.tolist(), lengths.to(torch.int32)):
        got = last_states(rnn, x, variant)
        assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])


def test_every_strategy_is_reachable(workload) -> None:
    for name in STRATEGIES:
        fwd, bwd = last_states(*workload, strategy=name)
        assert fwd.shape == bwd.shape == (4, 6)


def _bad_cases(rnn, x, lengths):
    uni = nn.LSTM(x.shape[-1], 6, batch_first=True).double()
    dropped = nn.GRU(x.shape[-1], 6, num_layers=2, dropout=0.5, bidirectional=True,
                     batch_first=True).double().train()
    zero = lengths.clone()
    zero[2] = 0
    too_long = lengths.clone()
    too_long[1] = 99
    return [
        ((rnn, x, zero), {}, ValueError, r"lengths\[2\] = 0"),
        ((rnn, x, too_long), {}, ValueError, r"lengths\[1\] = 99 is longer than x's 5"),
        ((rnn, x, lengths.view(2, 2)), {}, ValueError, r"lengths: expected a 1-D"),
        ((rnn, x, lengths.float()), {}, TypeError, r"lengths: expected an integer dtype"),
        ((rnn, x, [1.5, 2, 3, 4]), {}, TypeError, r"lengths: expected integers"),
        ((rnn, x, lengths[:3]), {}, ValueError, r"lengths: has 3 entries but x holds a batch of 4"),
        ((rnn, x.transpose(0, 1), lengths), {}, ValueError, r"lengths: has 4 entries.*layout"),
        ((uni, x, lengths), {}, ValueError, r"rnn: expected a bidirectional rnn"),
        ((dropped, x, lengths), {}, ValueError, r"rnn: dropout=0.5"),
        ((nn.Linear(3, 3), x, lengths), {}, TypeError, r"rnn: expected an nn.LSTM"),
        ((rnn, x[0], lengths), {}, ValueError, r"x: expected a 3-D padded batch"),
        ((rnn, x.float(), lengths), {}, TypeError, r"x: dtype torch.float32 differs"),
        ((rnn, x.long(), lengths), {}, TypeError, r"x: expected a floating dtype"),
        ((rnn, x[..., :2], lengths), {}, ValueError, r"x: last dimension is 2"),
        ((rnn, "x", lengths), {}, TypeError, r"x: expected a tensor"),
        ((rnn, x, lengths), {"strategy": "nope"}, ValueError,
         r"strategy: expected .auto. or one of"),
        ((rnn, x, lengths), {"reduce": "max"}, ValueError, r"reduce: expected one of"),
        ((rnn, x, lengths), {"concat": True, "reduce": "sum"}, ValueError, r"exclude each other"),
        ((rnn, x, lengths.to("meta")), {}, ValueError, r"lengths: on the meta device"),
        ((rnn, x, lengths), {"strategy": ["hn_index"]}, TypeError,
         r"strategy: expected a name \(str\), got list \['hn_index'\]"),
        ((rnn, x, lengths), {"concat": "no"}, TypeError,
         r"concat: expected True or False, got str 'no'"),
        ((rnn, x, lengths), {"concat": 1}, TypeError, r"concat: expected True or False"),
        ((rnn, x, lengths), {"reduce": ["sum"]}, TypeError,
         r"reduce: expected one of \('sum', 'mean'\) or None, got list"),
    ]


def test_bad_input_gets_a_clear_error(workload) -> None:
    for args, kwargs, error, pattern in _bad_cases(*workload):
        with pytest.raises(error, match=pattern):
            last_states(*args, **kwargs)


def test_errors_leave_inputs_untouched(workload) -> None:
    rnn, x, lengths = workload
    x_before = x.clone()
    bad = lengths.clone()
    bad[0] = 0
    with pytest.raises(ValueError):
        last_states(rnn, x, bad)
    assert torch.equal(x, x_before) and int(bad[0]) == 0


def test_everything_on_meta_still_traces_shapes() -> None:
    """Only meta lengths are refused: x and the rnn on meta (shape tracing) run as before."""
    rnn = nn.LSTM(3, 4, bidirectional=True, batch_first=True).to("meta")
    fwd, bwd = last_states(rnn, torch.empty(2, 5, 3, device="meta"), torch.tensor([5, 2]))
    assert fwd.shape == bwd.shape == (2, 4) and fwd.is_meta


def test_inactive_dropout_is_fine_in_eval_mode() -> None:
    rnn = nn.GRU(3, 4, num_layers=2, dropout=0.5, bidirectional=True).eval()
    x = torch.randn(5, 2, 3)
    fwd, bwd = last_states(rnn, x, torch.tensor([5, 2]))
    assert fwd.shape == (2, 4) and torch.isfinite(bwd).all()
