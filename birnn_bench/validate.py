"""Input checks shared by ``last_states`` and the correctness check.

Every failure names the argument and the offending value; nothing is ever silently clamped
(index arithmetic on a zero length wraps around to the last padded step without a word).
"""

from __future__ import annotations

import torch
from torch import nn

from birnn_bench._rnn import batch_dim, param_device, param_dtype, time_dim

Tensor = torch.Tensor


def validate_rnn(rnn: object) -> nn.RNNBase:
    if not isinstance(rnn, nn.RNNBase):
        raise TypeError(f"rnn: expected an nn.LSTM, nn.GRU or nn.RNN, got {type(rnn).__name__}")
    if not rnn.bidirectional:
        raise ValueError(f"rnn: expected a bidirectional rnn (bidirectional=True), got "
                         f"{type(rnn).__name__} with bidirectional=False")
    if rnn.training and rnn.dropout > 0 and rnn.num_layers > 1:
        raise ValueError(f"rnn: dropout={rnn.dropout} between layers is active in training "
                         "mode, so no two strategies (nor the oracle) can agree; call rnn.eval() "
                         "or set dropout=0")
    return rnn


def validate_lengths(lengths: object, batch: int, steps: int, layout: str) -> Tensor:
    """Returns lengths as the 1-D int64 CPU tensor packing needs."""
    if isinstance(lengths, (list, tuple)):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in lengths):
            raise TypeError(f"lengths: expected integers, got {list(lengths)!r}")
        lengths = torch.tensor(lengths, dtype=torch.int64)
    if not isinstance(lengths, Tensor):
        raise TypeError(f"lengths: expected a 1-D integer tensor, got {type(lengths).__name__}")
    if lengths.dtype.is_floating_point or lengths.dtype.is_complex or lengths.dtype == torch.bool:
        raise TypeError(f"lengths: expected an integer dtype (int64), got {lengths.dtype}")
    if lengths.dim() != 1:
        raise ValueError(f"lengths: expected a 1-D tensor of B lengths, got shape "
                         f"{tuple(lengths.shape)}")
    if lengths.numel() != batch:
        raise ValueError(f"lengths: has {lengths.numel()} entries but x holds a batch of {batch} "
                         f"({layout}); is x in the rnn's layout?")
    lengths = lengths.to(device="cpu", dtype=torch.int64)
    if batch == 0:
        raise ValueError("x: the batch is empty")
    low, high = int(lengths.min()), int(lengths.max())
    if low < 1:
        where = int(torch.nonzero(lengths < 1)[0])
        raise ValueError(f"lengths: lengths[{where}] = {int(lengths[where])}; every sequence "
                         "needs at least one step (a zero length would silently read padding)")
    if high > steps:
        where = int(torch.nonzero(lengths > steps)[0])
        raise ValueError(f"lengths: lengths[{where}] = {int(lengths[where])} is longer than x's "
                         f"{steps} time steps ({layout}); is x in the rnn's layout?")
    return lengths


def validate_inputs(rnn: object, x: object, lengths: object) -> tuple[nn.RNNBase, Tensor, Tensor]:
    """Checks (rnn, x, lengths) against the strategy contract; returns CPU int64 lengths."""
    rnn = validate_rnn(rnn)
    if not isinstance(x, Tensor):
        raise TypeError(f"x: expected a tensor, got {type(x).__name__}")
    if x.dim() != 3:
        raise ValueError(f"x: expected a 3-D padded batch ({_layout_shape(rnn)}), got shape "
                         f"{tuple(x.shape)}")
    if not x.dtype.is_floating_point:
        raise TypeError(f"x: expected a floating dtype, got {x.dtype}")
    if x.dtype != param_dtype(rnn):
        raise TypeError(f"x: dtype {x.dtype} differs from the rnn's parameters "
                        f"({param_dtype(rnn)})")
    if x.device != param_device(rnn):
        raise ValueError(f"x: on {x.device} but the rnn's parameters are on {param_device(rnn)}")
    if x.shape[-1] != rnn.input_size:
        raise ValueError(f"x: last dimension is {x.shape[-1]} but the rnn expects "
                         f"input_size={rnn.input_size} ({_layout_shape(rnn)})")
    layout = f"batch_first={rnn.batch_first}, so x is {_layout_shape(rnn)}"
    checked = validate_lengths(lengths, x.shape[batch_dim(rnn)], x.shape[time_dim(rnn)], layout)
    return rnn, x, checked


def _layout_shape(rnn: nn.RNNBase) -> str:
    return "(B, T, F)" if rnn.batch_first else "(T, B, F)"
