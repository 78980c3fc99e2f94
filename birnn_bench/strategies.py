"""Every way the Stack Overflow thread (and its sources) takes the last states of a BiRNN.

A strategy is three small steps, composed by ``Strategy.__call__``:

* ``prepare(rnn, x, lengths)``: pack, reverse, or nothing;
* ``run(rnn, prepared)``: the rnn call(s);
* ``extract(rnn, ran, lengths)``: index, gather, unpack, chunk/view -> ``(fwd, bwd)``.

``STRATEGIES[name](rnn, x, lengths)`` first checks the cheap invariants of its inputs
(``validate.check_call``), then returns the LAST layer's final forward and backward hidden
states, each ``(B, H_out)``, in the original batch order (the contract in README.md). Whether a
strategy meets that contract is never declared here: ``birnn_bench.check`` measures it against the
oracle. ``pitfall`` only labels the answers the thread itself disputes, so that they are kept as
baselines; nothing downstream treats the label as a verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from birnn_bench._rnn import batch_dim, h_n_of, out_size, time_dim
from birnn_bench.validate import check_call

Tensor = torch.Tensor
States = tuple[Tensor, Tensor]


@dataclass(frozen=True)
class Strategy:
    """A named way to take (fwd, bwd); callable as ``strategy(rnn, x, lengths)``."""

    name: str
    description: str
    claim: str
    pitfall: bool
    prepare: Callable[[nn.RNNBase, Tensor, Tensor], Any]
    run: Callable[[nn.RNNBase, Any], Any]
    extract: Callable[[nn.RNNBase, Any, Tensor], States]
    #: What PyTorch's semantics predict, (num_layers, padded, max_len) -> (fwd right, bwd
    #: right): a hypothesis the tests hold against the check's measured verdicts, never used
    #: as a verdict.
    expected: Callable[[int, bool, int], tuple[bool, bool]]

    def __call__(self, rnn: nn.RNNBase, x: Tensor, lengths: Tensor) -> States:
        # The cheap invariants first (ValueError/TypeError naming the argument): a mismatched
        # input size or batch would otherwise give garbage, not an error. The steps themselves
        # stay unchecked; benchmarks time them alone.
        lengths = check_call(rnn, x, lengths)
        return self.extract(rnn, self.run(rnn, self.prepare(rnn, x, lengths)), lengths)


# steps several strategies share -------------------------------------------------------------------


def keep_padded(rnn: nn.RNNBase, x: Tensor, lengths: Tensor) -> Tensor:
    """No preparation: the rnn sees the padded batch, padding included."""
    return x


def pack_inputs(rnn: nn.RNNBase, x: Tensor, lengths: Tensor) -> PackedSequence:
    # enforce_sorted=False sorts internally and gives h_n back in the ORIGINAL batch order.
    return pack_padded_sequence(x, lengths, batch_first=rnn.batch_first, enforce_sorted=False)


def run_rnn(rnn: nn.RNNBase, inputs: Tensor | PackedSequence) -> tuple[Any, Tensor]:
    """One call of the bidirectional rnn; returns (output, h_n)."""
    output, hidden = rnn(inputs)
    return output, h_n_of(hidden)


def gather_at_last_step(rnn: nn.RNNBase, seq: Tensor, lengths: Tensor) -> Tensor:
    """seq[lengths[b] - 1, b] for every b (time axis per the rnn's layout), with torch.gather."""
    tdim = time_dim(rnn)
    index = (lengths - 1).to(seq.device)
    index = index.view(-1, 1, 1) if rnn.batch_first else index.view(1, -1, 1)
    return seq.gather(tdim, index.expand(*index.shape[:2], seq.shape[-1])).squeeze(tdim)


def _gather_split_output(rnn: nn.RNNBase, output: Tensor, lengths: Tensor) -> States:
    hidden = out_size(rnn)
    fwd = gather_at_last_step(rnn, output[..., :hidden], lengths)
    # The backward direction ends at time step 0, not at -1.
    bwd = output.select(time_dim(rnn), 0)[..., hidden:]
    return fwd, bwd


def right_everywhere(layers: int, padded: bool, steps: int) -> tuple[bool, bool]:
    return True, True


#: The registry, in the order the thread discusses the answers.
_ALL: list[Strategy] = []


# hn_index: the asker's h_n indexing after packing (the baseline) ----------------------------------


def last_layer_from_h_n(rnn: nn.RNNBase, ran: tuple[Any, Tensor], lengths: Tensor) -> States:
    h_n = ran[1]
    last = h_n.view(rnn.num_layers, 2, h_n.shape[1], h_n.shape[2])[-1]
    return last[0], last[1]


_ALL.append(Strategy(
    name="hn_index",
    description="pack (enforce_sorted=False), run, h_n.view(num_layers, 2, B, H)[-1]",
    claim="The asker: lasthidden[-1] + lasthidden[-2] after pack_sequence; igrinis: "
    "'if you have more layers, your variant seems better'.",
    pitfall=False,
    prepare=pack_inputs,
    run=run_rnn,
    extract=last_layer_from_h_n,
    expected=right_everywhere,
))


# hn_first_layer (pitfall): h_n[0], h_n[1] ---------------------------------------------------------


def first_layer_from_h_n(rnn: nn.RNNBase, ran: tuple[Any, Tensor], lengths: Tensor) -> States:
    h_n = ran[1]
    return h_n[0], h_n[1]


def right_with_one_layer(layers: int, padded: bool, steps: int) -> tuple[bool, bool]:
    """h_n[0], h_n[1] are the FIRST layer's states."""
    return layers == 1, layers == 1


_ALL.append(Strategy(
    name="hn_first_layer",
    description="pack, run, h_n[0] and h_n[1]",
    claim="igrinis: 'u_emb_batch = lasthidden[0] + lasthidden[1], assuming you have only "
    "one layer'.",
    pitfall=True,
    prepare=pack_inputs,
    run=run_rnn,
    extract=first_layer_from_h_n,
    expected=right_with_one_layer,
))


# last_step_naive (pitfall): the output at the last padded step ------------------------------------


def last_padded_step(rnn: nn.RNNBase, ran: tuple[Tensor, Tensor], lengths: Tensor) -> States:
    hidden = out_size(rnn)
    last = ran[0].select(time_dim(rnn), -1)
    return last[:, :hidden], last[:, hidden:]


def backward_at_last_step(layers: int, padded: bool, steps: int) -> tuple[bool, bool]:
    """The backward direction at t=-1 has seen one step only."""
    return not padded, steps == 1


_ALL.append(Strategy(
    name="last_step_naive",
    description="run on the padded batch, output at the last padded step for both directions",
    claim="igrinis: 'output[-1, :, :H] + output[-1, :, H:] should give the same result'; "
    "the last answer recommends output[:, -1, :H] + output[:, -1, H:] over h_n.",
    pitfall=True,
    prepare=keep_padded,
    run=run_rnn,
    extract=last_padded_step,
    expected=backward_at_last_step,
))


# chunk_view: the second answer, on the unpacked output --------------------------------------------


def chunk_then_gather(
    rnn: nn.RNNBase, ran: tuple[PackedSequence, Tensor], lengths: Tensor
) -> States:
    """The thread's answer: torch.chunk(output, 2, 2) (equivalently view(T, B, 2, H)), gather the
    forward half at lengths-1, take the backward half at position 0."""
    output, _ = pad_packed_sequence(ran[0], batch_first=rnn.batch_first)
    output_forward, output_backward = torch.chunk(output, 2, dim=2)
    fwd = gather_at_last_step(rnn, output_forward, lengths)
    bwd = output_backward.select(time_dim(rnn), 0)
    return fwd, bwd


_ALL.append(Strategy(
    name="chunk_view",
    description="pack, run, pad_packed_sequence, torch.chunk into directions, gather "
    "forward at lengths-1, backward at t=0",
    claim="Second answer: split output with view(seq_len, batch, 2, H) or torch.chunk, "
    "gather the forward pass at lengths-1 and the backward pass at position 0.",
    pitfall=False,
    prepare=pack_inputs,
    run=run_rnn,
    extract=chunk_then_gather,
    expected=right_everywhere,
))


# packed_unpack: the forum's PackedSequence recipe -------------------------------------------------


def gather_from_unpacked(
    rnn: nn.RNNBase, ran: tuple[PackedSequence, Tensor], lengths: Tensor
) -> States:
    output, _ = pad_packed_sequence(ran[0], batch_first=rnn.batch_first)
    return _gather_split_output(rnn, output, lengths)


_ALL.append(Strategy(
    name="packed_unpack",
    description="pack, run, pad_packed_sequence, slice directions, gather forward at "
    "lengths-1, backward at t=0",
    claim="The PackedSequence recipe the asker cites (PyTorch forum, source 2): unpack the "
    "output and gather each sequence's last valid step.",
    pitfall=False,
    prepare=pack_inputs,
    run=run_rnn,
    extract=gather_from_unpacked,
    expected=right_everywhere,
))


# padded_gather: the second answer, on a padded batch ----------------------------------------------


def gather_from_padded(rnn: nn.RNNBase, ran: tuple[Tensor, Tensor], lengths: Tensor) -> States:
    return _gather_split_output(rnn, ran[0], lengths)


def backward_read_in_padding(layers: int, padded: bool, steps: int) -> tuple[bool, bool]:
    """The backward direction starts in the padding; above layer 1 the forward reads the layer
    below's backward outputs, contaminated by padding too."""
    return (not padded) or layers == 1, not padded


_ALL.append(Strategy(
    name="padded_gather",
    description="run on the padded batch (no packing), gather forward at lengths-1, "
    "backward at t=0",
    claim="Second answer, 'for people using unpacked sequences': gather the forward pass "
    "at lengths-1, the backward pass at position 0.",
    pitfall=False,
    prepare=keep_padded,
    run=run_rnn,
    extract=gather_from_padded,
    expected=backward_read_in_padding,
))


# hn_padded (pitfall): h_n of a padded batch -------------------------------------------------------


def last_of_h_n(rnn: nn.RNNBase, ran: tuple[Tensor, Tensor], lengths: Tensor) -> States:
    h_n = ran[1]
    return h_n[-2], h_n[-1]


def right_without_padding(layers: int, padded: bool, steps: int) -> tuple[bool, bool]:
    """Both directions read the padding."""
    return not padded, not padded


_ALL.append(Strategy(
    name="hn_padded",
    description="run on the padded batch (no packing), h_n[-2] and h_n[-1]",
    claim="Third answer: on an unpacked batch, 'h_n of the reverse direction is the hidden "
    "state of the first step', so read h_n.",
    pitfall=True,
    prepare=keep_padded,
    run=run_rnn,
    extract=last_of_h_n,
    expected=right_without_padding,
))


# manual_two_rnn: two unidirectional rnns on the module's own weights ------------------------------


def reversal_index(rnn: nn.RNNBase, lengths: Tensor, steps: int, device: torch.device) -> Tensor:
    """Time index that reverses each sequence within its own length and leaves padding in place.

    Shaped like x without its feature axis ((T, B) or (B, T)); it is its own inverse.
    """
    t = torch.arange(steps).unsqueeze(1)  # (T, 1)
    span = lengths.unsqueeze(0)  # (1, B)
    index = torch.where(t < span, span - 1 - t, t)  # (T, B)
    if rnn.batch_first:
        index = index.t()
    return index.to(device)


def reverse_within_lengths(rnn: nn.RNNBase, seq: Tensor, index: Tensor) -> Tensor:
    """Apply ``reversal_index`` to a padded (T, B, *) or (B, T, *) tensor."""
    batch = torch.arange(seq.shape[batch_dim(rnn)], device=seq.device)
    if rnn.batch_first:
        return seq[batch.unsqueeze(1), index]
    return seq[index, batch.unsqueeze(0)]


def reverse_inputs(rnn: nn.RNNBase, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
    return x, reversal_index(rnn, lengths, x.shape[time_dim(rnn)], x.device)


def _direction_weights(rnn: nn.RNNBase, layer: int, suffix: str) -> list[Tensor]:
    # Same order as nn.RNNBase._flat_weights: w_ih, w_hh, [b_ih, b_hh], [w_hr].
    bases = ["weight_ih", "weight_hh"]
    if rnn.bias:
        bases += ["bias_ih", "bias_hh"]
    if getattr(rnn, "proj_size", 0) > 0:
        bases.append("weight_hr")
    return [getattr(rnn, f"{base}_l{layer}{suffix}") for base in bases]


def run_one_direction(rnn: nn.RNNBase, layer: int, reverse: bool, inputs: Tensor) -> Tensor:
    """A unidirectional one-layer rnn over ``inputs`` with the weights of one direction of rnn.

    Calls the same functional kernels nn.LSTM/GRU/RNN call, with the bidirectional module's own
    parameter tensors: nothing is copied or re-registered per call.
    """
    weights = _direction_weights(rnn, layer, "_reverse" if reverse else "")
    batch = inputs.shape[batch_dim(rnn)]
    h0 = inputs.new_zeros(1, batch, out_size(rnn))
    # Dropout between layers is refused by validation, so dropout=0 here; train=rnn.training
    # keeps what cuDNN saves for backward.
    common = (rnn.bias, 1, 0.0, rnn.training, False, rnn.batch_first)
    if isinstance(rnn, nn.LSTM):
        c0 = inputs.new_zeros(1, batch, rnn.hidden_size)
        return torch.lstm(inputs, (h0, c0), weights, *common)[0]
    if isinstance(rnn, nn.GRU):
        return torch.gru(inputs, h0, weights, *common)[0]
    kernel = torch.rnn_tanh if rnn.nonlinearity == "tanh" else torch.rnn_relu
    return kernel(inputs, h0, weights, *common)[0]


def run_two_rnns(rnn: nn.RNNBase, prepared: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    """Layers stacked by hand; returns the last layer's forward outputs and backward outputs in
    reversed (per-sequence) time."""
    x, index = prepared
    layer_input = x
    fwd_out = bwd_out_reversed = x
    for layer in range(rnn.num_layers):
        fwd_out = run_one_direction(rnn, layer, False, layer_input)
        bwd_out_reversed = run_one_direction(
            rnn, layer, True, reverse_within_lengths(rnn, layer_input, index)
        )
        if layer + 1 < rnn.num_layers:
            bwd_out = reverse_within_lengths(rnn, bwd_out_reversed, index)
            layer_input = torch.cat([fwd_out, bwd_out], dim=-1)
    return fwd_out, bwd_out_reversed


def gather_both_directions(
    rnn: nn.RNNBase, ran: tuple[Tensor, Tensor], lengths: Tensor
) -> States:
    fwd_out, bwd_out_reversed = ran
    return (
        gather_at_last_step(rnn, fwd_out, lengths),
        gather_at_last_step(rnn, bwd_out_reversed, lengths),
    )


_ALL.append(Strategy(
    name="manual_two_rnn",
    description="two unidirectional rnns on the bidirectional rnn's own weights, backward "
    "fed each sequence reversed within its length, layers stacked by hand, no packing",
    claim="igrinis: 'create two regular LSTMs, feed one the input sequence and the other "
    "the reversed sequence, take the last state of both'.",
    pitfall=False,
    prepare=reverse_inputs,
    run=run_two_rnns,
    extract=gather_both_directions,
    expected=right_everywhere,
))


STRATEGIES: dict[str, Strategy] = {strategy.name: strategy for strategy in _ALL}
#: What every ratio is taken against: the asker's h_n indexing after packing, correct everywhere.
BASELINE = "hn_index"
