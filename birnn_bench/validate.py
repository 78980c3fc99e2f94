"""Input checks: ``check_call``, what every strategy call runs (timed too, equally for every
strategy); ``validate_inputs``, that and the range of lengths on an accelerator, for
``last_states`` and the correctness check. Failures name the argument
and value; nothing is silently clamped (a zero length would wrap around to the last padded step)."""

from __future__ import annotations

import torch
from torch import nn

from birnn_bench._rnn import batch_dim, time_dim

Tensor = torch.Tensor


def validate_inputs(rnn: object, x: object, lengths: object) -> tuple[nn.RNNBase, Tensor, Tensor]:
    """Checks (rnn, x, lengths) against the strategy contract; returns CPU int64 lengths."""
    rnn = _check_bidirectional_rnn(rnn)
    checked = check_call(rnn, x, lengths).to(device="cpu", dtype=torch.int64)  # what packing needs
    _check_range(checked, x.shape[time_dim(rnn)], _layout(rnn))  # lengths from an accelerator
    return rnn, x, checked


def check_call(rnn: object, x: object, lengths: object) -> Tensor:
    """What every strategy call checks (and so what its timing includes, equally for all): a
    bidirectional rnn without active dropout between layers, a 3-D floating x of ``input_size``
    features with the rnn's dtype and device, 1-D integer lengths with values (not on the meta
    device), one per sequence, within 1..T when on the CPU (range-checking an accelerator's
    would synchronise every call). Attribute reads only, plus one ``aminmax`` of the lengths.
    Returns lengths as a tensor: CPU int64 from a list or CPU tensor, an accelerator's as given."""
    rnn = _check_bidirectional_rnn(rnn)
    if rnn.training and rnn.dropout > 0 and rnn.num_layers > 1:
        raise ValueError(f"rnn: dropout={rnn.dropout} between layers is active in training "
                         "mode, so no two strategies (nor the oracle) can agree; call rnn.eval() "
                         "or set dropout=0")
    if not isinstance(x, Tensor):
        raise TypeError(f"x: expected a tensor, got {type(x).__name__}")
    if x.dim() != 3:
        raise ValueError(f"x: expected a 3-D padded batch ({_layout_shape(rnn)}), got shape "
                         f"{tuple(x.shape)}")
    if not x.dtype.is_floating_point:
        raise TypeError(f"x: expected a floating dtype, got {x.dtype}")
    weight = rnn.weight_ih_l0  # every nn.RNNBase has it; cheaper than next(rnn.parameters())
    if x.dtype != weight.dtype:
        raise TypeError(f"x: dtype {x.dtype} differs from the rnn's parameters ({weight.dtype})")
    if x.device != weight.device:
        raise ValueError(f"x: on {x.device} but the rnn's parameters are on {weight.device}")
    if x.shape[-1] != rnn.input_size:
        raise ValueError(f"x: last dimension is {x.shape[-1]} but the rnn expects "
                         f"input_size={rnn.input_size} ({_layout_shape(rnn)})")
    lengths = _lengths_tensor(lengths)
    batch = x.shape[batch_dim(rnn)]
    if lengths.numel() != batch:
        raise ValueError(f"lengths: has {lengths.numel()} entries but x holds a batch of {batch} "
                         f"({_layout(rnn)}); is x in the rnn's layout?")
    if batch == 0:
        raise ValueError("x: the batch is empty")
    if lengths.device.type == "cpu":
        lengths = lengths.to(dtype=torch.int64)
        steps = x.shape[time_dim(rnn)]
        low, high = torch.aminmax(lengths)
        if int(low) < 1 or int(high) > steps:
            _check_range(lengths, steps, _layout(rnn))
    return lengths


def _check_bidirectional_rnn(rnn: object) -> nn.RNNBase:
    if not isinstance(rnn, nn.RNNBase):
        raise TypeError(f"rnn: expected an nn.LSTM, nn.GRU or nn.RNN, got {type(rnn).__name__}")
    if not rnn.bidirectional:
        raise ValueError(f"rnn: expected a bidirectional rnn (bidirectional=True), got "
                         f"{type(rnn).__name__} with bidirectional=False")
    return rnn


def _lengths_tensor(lengths: object) -> Tensor:
    """A list of ints as an int64 tensor; any other non-tensor, non-integer or non-1-D refused."""
    if isinstance(lengths, (list, tuple)):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in lengths):
            raise TypeError(f"lengths: expected integers, got {list(lengths)!r}")
        try:
            lengths = torch.tensor(lengths, dtype=torch.int64)
        except (OverflowError, RuntimeError, ValueError):  # an int beyond int64
            raise ValueError(f"lengths: {list(lengths)!r} holds a value beyond int64") from None
    if not isinstance(lengths, Tensor):
        raise TypeError(f"lengths: expected a 1-D integer tensor, got {type(lengths).__name__}")
    if lengths.dtype.is_floating_point or lengths.dtype.is_complex or lengths.dtype == torch.bool:
        raise TypeError(f"lengths: expected an integer dtype (int64), got {lengths.dtype}")
    if lengths.dim() != 1:
        raise ValueError(f"lengths: expected a 1-D tensor of B lengths, got shape "
                         f"{tuple(lengths.shape)}")
    if lengths.is_meta:  # packing and the range check read the values
        raise ValueError("lengths: on the meta device, which holds no values; pass the lengths "
                         "as a CPU tensor or a list (x and the rnn may stay on meta)")
    return lengths


def _check_range(lengths: Tensor, steps: int, layout: str) -> None:
    low, high = (int(v) for v in torch.aminmax(lengths))
    if low < 1:
        where = int(torch.nonzero(lengths < 1)[0])
        raise ValueError(f"lengths: lengths[{where}] = {int(lengths[where])}; every sequence "
                         "needs at least one step (a zero length would silently read padding)")
    if high > steps:
        where = int(torch.nonzero(lengths > steps)[0])
        raise ValueError(f"lengths: lengths[{where}] = {int(lengths[where])} is longer than x's "
                         f"{steps} time steps ({layout}); is x in the rnn's layout?")


def _layout(rnn: nn.RNNBase) -> str:
    return f"batch_first={rnn.batch_first}, so x is {_layout_shape(rnn)}"


def _layout_shape(rnn: nn.RNNBase) -> str:
    return "(B, T, F)" if rnn.batch_first else "(T, B, F)"
