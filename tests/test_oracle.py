"""An independent check of the oracle: the cell equations stepped by hand in NumPy (float64).

Each sequence is run on its own, unpadded, from the rnn's parameters alone, following the
equations in PyTorch's nn.LSTM / nn.GRU / nn.RNN documentation. Nothing here calls the rnn.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from birnn_bench.oracle import oracle_last_states
from birnn_bench.workload import PADDING_SCALE, WorkloadSpec, build

TOL = 1e-10


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def _params(rnn: torch.nn.RNNBase, layer: int, reverse: bool) -> dict[str, np.ndarray]:
    """One direction's parameters of one layer as float64 arrays (zeros for absent biases)."""
    suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    p = {}
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"):
        tensor = getattr(rnn, name + suffix, None)
        if tensor is not None:
            p[name] = tensor.detach().to("cpu", torch.float64).numpy().copy()
    rows = p["weight_hh"].shape[0]
    p.setdefault("bias_ih", np.zeros(rows))
    p.setdefault("bias_hh", np.zeros(rows))
    return p


def _run_direction(cell: str, nonlinearity: str, p: dict[str, np.ndarray],
                   seq: np.ndarray) -> np.ndarray:
    """Outputs (L, H_out) of one direction over ``seq`` (L, F), stepped in the given order."""
    w_ih, w_hh, b_ih, b_hh = p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"]
    hidden = w_hh.shape[0] // {"lstm": 4, "gru": 3, "rnn": 1}[cell]
    h_out = p["weight_hr"].shape[0] if "weight_hr" in p else hidden
    h = np.zeros(h_out)
    c = np.zeros(hidden)
    outs = []
    for x_t in seq:
        if cell == "lstm":
            gates = w_ih @ x_t + b_ih + w_hh @ h + b_hh
            i, f, g, o = np.split(gates, 4)
            i, f, g, o = _sigmoid(i), _sigmoid(f), np.tanh(g), _sigmoid(o)
            c = f * c + i * g
            h = o * np.tanh(c)
            if "weight_hr" in p:
                h = p["weight_hr"] @ h
        elif cell == "gru":
            gi = w_ih @ x_t + b_ih
            gh = w_hh @ h + b_hh
            i_r, i_z, i_n = np.split(gi, 3)
            h_r, h_z, h_n = np.split(gh, 3)
            r = _sigmoid(i_r + h_r)
            z = _sigmoid(i_z + h_z)
            n = np.tanh(i_n + r * h_n)
            h = (1.0 - z) * n + z * h
        else:
            pre = w_ih @ x_t + b_ih + w_hh @ h + b_hh
            h = np.tanh(pre) if nonlinearity == "tanh" else np.maximum(pre, 0.0)
        outs.append(h)
    return np.stack(outs)


def numpy_last_states(rnn: torch.nn.RNNBase, x: torch.Tensor,
                      lengths: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(fwd, bwd) final states of the last layer, (B, H_out) each, one sequence at a time."""
    cell = {torch.nn.LSTM: "lstm", torch.nn.GRU: "gru", torch.nn.RNN: "rnn"}[type(rnn)]
    nonlinearity = getattr(rnn, "nonlinearity", "tanh")
    xs = x.detach().to("cpu", torch.float64).numpy()
    if not rnn.batch_first:
        xs = xs.transpose(1, 0, 2)
    fwd, bwd = [], []
    for b, length in enumerate(lengths.tolist()):
        layer_in = xs[b, :length].copy()  # the unpadded sequence, (L, F)
        for layer in range(rnn.num_layers):
            out_f = _run_direction(cell, nonlinearity, _params(rnn, layer, False), layer_in)
            # Backward: from the last valid step down to step 0, outputs re-aligned to time.
            out_b = _run_direction(cell, nonlinearity, _params(rnn, layer, True),
                                   layer_in[::-1])[::-1]
            layer_in = np.concatenate([out_f, out_b], axis=1)
        fwd.append(out_f[length - 1])  # after step len-1
        bwd.append(out_b[0])  # after step 0
    return np.stack(fwd), np.stack(bwd)


def _check(rnn: torch.nn.RNNBase, x: torch.Tensor, lengths: torch.Tensor) -> None:
    fwd, bwd = oracle_last_states(rnn, x, lengths)
    want_fwd, want_bwd = numpy_last_states(rnn, x, lengths)
    for got, want in ((fwd, want_fwd), (bwd, want_bwd)):
        assert got.dtype == torch.float64
        assert got.device.type == "cpu"
        assert tuple(got.shape) == want.shape
        assert np.isfinite(want).all()
        assert float(np.abs(got.numpy() - want).max()) <= TOL
    # Not a trivial agreement: the two directions differ, and so do the sequences.
    assert float((fwd - bwd).abs().max()) > 1e-3


CELL_CASES = [
    pytest.param("lstm", 0, id="lstm"),
    pytest.param("lstm", 5, id="lstm-proj5"),
    pytest.param("gru", 0, id="gru"),
    pytest.param("rnn", 0, id="rnn"),
]


@pytest.mark.parametrize("cell,proj_size", CELL_CASES)
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("layout", ["batch_first", "time_first"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_oracle_matches_numpy_cells(cell: str, proj_size: int, num_layers: int, layout: str,
                                    dtype: str) -> None:
    spec = WorkloadSpec(cell=cell, num_layers=num_layers, input_size=5, hidden_size=7,
                        proj_size=proj_size, batch=6, max_len=7, lengths="unsorted",
                        layout=layout, dtype=dtype, seed=11 * num_layers + len(cell))
    rnn, x, lengths = build(spec)
    assert next(rnn.parameters()).dtype == spec.torch_dtype
    _check(rnn, x, lengths)


@pytest.mark.parametrize("cell,proj_size", CELL_CASES)
@pytest.mark.parametrize("pattern", ["equal", "uniform", "skewed", "sorted", "unsorted",
                                     "short", "with_ones"])
def test_oracle_matches_numpy_length_patterns(cell: str, proj_size: int, pattern: str) -> None:
    spec = WorkloadSpec(cell=cell, num_layers=2, input_size=4, hidden_size=6,
                        proj_size=proj_size, batch=7, max_len=9, lengths=pattern,
                        layout="time_first" if pattern in ("short", "skewed") else "batch_first",
                        dtype="float64", seed=3)
    rnn, x, lengths = build(spec)
    if pattern == "with_ones":
        assert (lengths == 1).any()
    if pattern == "short":
        assert int(lengths.max()) < spec.max_len
    _check(rnn, x, lengths)


def test_oracle_matches_numpy_relu_rnn_without_bias() -> None:
    torch.manual_seed(0)
    rnn = torch.nn.RNN(3, 5, num_layers=2, nonlinearity="relu", bias=False,
                       bidirectional=True, batch_first=True).double().eval()
    lengths = torch.tensor([4, 1, 3, 4])
    x = torch.randn(4, 4, 3, dtype=torch.float64)
    x[1, 1:] = 150.0
    x[2, 3:] = -150.0
    _check(rnn, x, lengths)


def test_lengths_one_backward_state_is_one_step() -> None:
    """With length 1 the bwd state is one step from zero on x[0], whatever follows."""
    rnn, x, lengths = build(WorkloadSpec(cell="gru", num_layers=1, input_size=3, hidden_size=4,
                                         batch=4, max_len=5, lengths="with_ones",
                                         dtype="float64"))
    ones = (lengths == 1).nonzero().flatten()
    assert len(ones) > 0
    _, bwd = oracle_last_states(rnn, x, lengths)
    solo_fwd, solo_bwd = oracle_last_states(rnn, x[ones, :1], lengths[ones])
    assert torch.equal(bwd[ones], solo_bwd)
    # For a single step both directions see the same input from a zero state; only the
    # weights differ, so the two states must not coincide.
    assert float((solo_fwd - solo_bwd).abs().max()) > 1e-6


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("layout", ["batch_first", "time_first"])
def test_oracle_does_not_modify_inputs(dtype: str, layout: str) -> None:
    rnn, x, lengths = build(WorkloadSpec(cell="lstm", num_layers=2, input_size=4, hidden_size=6,
                                         proj_size=3, batch=5, max_len=6, lengths="with_ones",
                                         layout=layout, dtype=dtype))
    rnn.train()  # the oracle must not flip the caller's mode either
    x_before, lengths_before = x.clone(), lengths.clone()
    params_before = {k: v.detach().clone() for k, v in rnn.state_dict().items()}
    dtype_before = next(rnn.parameters()).dtype

    fwd, bwd = oracle_last_states(rnn, x, lengths)

    assert fwd.dtype == bwd.dtype == torch.float64
    assert x.dtype == x_before.dtype and torch.equal(x, x_before)
    assert lengths.dtype == torch.int64 and torch.equal(lengths, lengths_before)
    after = rnn.state_dict()
    assert after.keys() == params_before.keys()
    for name, value in params_before.items():
        assert after[name].dtype == value.dtype, name
        assert torch.equal(after[name], value), name
    assert all(p.dtype == dtype_before for p in rnn.parameters())
    assert rnn.training
    assert rnn.batch_first == (layout == "batch_first")
    # The results are fresh tensors: writing to them leaves the inputs alone.
    fwd.fill_(0.0)
    bwd.fill_(0.0)
    assert torch.equal(x, x_before)
    assert all(torch.equal(rnn.state_dict()[k], v) for k, v in params_before.items())


@pytest.mark.parametrize("cell,proj_size", CELL_CASES)
@pytest.mark.parametrize("layout", ["batch_first", "time_first"])
def test_oracle_ignores_padding_values(cell: str, proj_size: int, layout: str) -> None:
    spec = WorkloadSpec(cell=cell, num_layers=2, input_size=4, hidden_size=6,
                        proj_size=proj_size, batch=6, max_len=8, lengths="with_ones",
                        layout=layout, dtype="float64", seed=5)
    rnn, x, lengths = build(spec)
    tdim, bdim = (1, 0) if spec.batch_first else (0, 1)
    steps = torch.arange(x.shape[tdim])
    valid = steps.view(-1, 1) < lengths.view(1, -1)  # (T, B)
    if spec.batch_first:
        valid = valid.T
    valid = valid.unsqueeze(-1).expand_as(x)
    assert (~valid).any(), "the workload needs some padding for this test to mean anything"

    generator = torch.Generator().manual_seed(99)
    other = torch.where(valid, x, -PADDING_SCALE * torch.rand(x.shape, generator=generator,
                                                              dtype=x.dtype))
    zeros = torch.where(valid, x, torch.zeros_like(x))
    assert not torch.equal(other, x) and not torch.equal(zeros, x)

    fwd, bwd = oracle_last_states(rnn, x, lengths)
    for padded in (other, zeros):
        fwd2, bwd2 = oracle_last_states(rnn, padded, lengths)
        assert torch.equal(fwd, fwd2)
        assert torch.equal(bwd, bwd2)
    # Sanity: changing a VALID value does change the result, so equality above is not vacuous.
    nudged = x.clone()
    nudged.select(bdim, 0).select(0, 0).add_(1.0)
    fwd3, bwd3 = oracle_last_states(rnn, nudged, lengths)
    assert not (torch.equal(fwd, fwd3) and torch.equal(bwd, bwd3))
