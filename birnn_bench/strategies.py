"""Every way the Stack Overflow thread (and its sources) takes the last states of a BiRNN, and two
built on this project's measurements (``hn_plain_if_full``, ``bucketed``).

A strategy is three steps on tensors and plain values, so that TorchScript compiles them:
``prepare(x, lengths, batch_first)`` (pack, reverse, or nothing), ``run(rnn, prepared)`` (the rnn
call(s); ``run_module(rnn)`` is it as an ``nn.Module``: TorchScript takes no module argument) and
``extract(ran, lengths, batch_first, num_layers, out_size) -> (fwd, bwd)``.

``STRATEGIES[name](rnn, x, lengths)`` returns the LAST layer's final forward and backward states,
each ``(B, H_out)``, in the original batch order (README.md's contract); the call checks its
input as ``last_states`` does (``validate.check_call``), bar the range of accelerator lengths.
The steps themselves check nothing: building blocks for timing and deployment. Whether a
strategy meets it is measured (``birnn_bench.check``), never declared here: ``pitfall`` only
labels the answers the thread itself disputes, kept as baselines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from birnn_bench._rnn import extract_dims, h_n_of, out_size
from birnn_bench.buckets import costs_for, plan_buckets
from birnn_bench.validate import check_call

Tensor = torch.Tensor
States = tuple[Tensor, Tensor]
#: The calling convention every strategy and a user's own function share.
StateFunction = Callable[[nn.RNNBase, Tensor, Tensor], States]


@dataclass(frozen=True)
class Strategy:
    """A named way to take (fwd, bwd); callable as ``strategy(rnn, x, lengths)``."""

    name: str
    description: str
    claim: str
    pitfall: bool
    prepare: Callable[[Tensor, Tensor, bool], Any]
    run: Callable[[nn.RNNBase, Any], Any]
    run_module: Callable[[nn.RNNBase], nn.Module]
    extract: Callable[[Any, Tensor, bool, int, int], States]
    #: What PyTorch's semantics predict, (num_layers, padded, max_len) -> (fwd right, bwd right):
    #: a hypothesis the tests hold against the check's measured verdicts, never a verdict.
    expected: Callable[[int, bool, int], tuple[bool, bool]]
    #: Why it is wrong where it is (empty for a strategy correct everywhere): what a user's own
    #: function that fails on the same conditions is told (``birnn_bench.function_check``).
    wrong_because: str = ""

    def __call__(self, rnn: nn.RNNBase, x: Tensor, lengths: Tensor) -> States:
        # Inputs checked first (a mismatched size would give garbage); the timed steps are not.
        lengths = check_call(rnn, x, lengths)
        ran = self.run(rnn, self.prepare(x, lengths, rnn.batch_first))
        return self.extract(ran, lengths, *extract_dims(rnn))


# steps several strategies share -------------------------------------------------------------------
def keep_padded(x: Tensor, lengths: Tensor, batch_first: bool) -> Tensor:
    return x


def pack_inputs(x: Tensor, lengths: Tensor, batch_first: bool) -> PackedSequence:
    # enforce_sorted=False sorts internally and gives h_n back in the ORIGINAL batch order.
    return pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)


def run_rnn(rnn: nn.RNNBase, inputs: Tensor | PackedSequence) -> tuple[Any, Tensor]:
    output, hidden = rnn(inputs)
    return output, h_n_of(hidden)


class PaddedRun(nn.Module):
    """``run_rnn`` on a padded batch, as a module."""

    def __init__(self, rnn: nn.RNNBase) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        output, hidden = self.rnn(inputs)
        return output, h_n_of(hidden)


class PackedRun(PaddedRun):
    """``run_rnn`` on a PackedSequence (TorchScript compiles forward for its annotated type)."""

    def forward(self, inputs: PackedSequence) -> tuple[PackedSequence, Tensor]:  # type: ignore[override]
        output, hidden = self.rnn(inputs)
        return output, h_n_of(hidden)


def gather_at_last_step(seq: Tensor, lengths: Tensor, batch_first: bool) -> Tensor:
    """seq[lengths[b] - 1, b] for every b (time axis per the layout), with torch.gather."""
    tdim = 1 if batch_first else 0
    index = (lengths - 1).to(seq.device)
    index = index.view(-1, 1, 1) if batch_first else index.view(1, -1, 1)
    index = index.expand(index.shape[0], index.shape[1], seq.shape[-1])
    return seq.gather(tdim, index).squeeze(tdim)


def _gather_split_output(output: Tensor, lengths: Tensor, batch_first: bool,
                         out_size: int) -> States:
    fwd = gather_at_last_step(output[..., :out_size], lengths, batch_first)
    # The backward direction ends at time step 0, not at -1.
    bwd = output.select(1 if batch_first else 0, 0)[..., out_size:]
    return fwd, bwd


def right_everywhere(layers: int, padded: bool, steps: int) -> tuple[bool, bool]:
    return True, True


#: The steps before extract of the strategies that call the rnn once, packed or padded.
ON_PACKED: dict[str, Any] = {"prepare": pack_inputs, "run": run_rnn, "run_module": PackedRun}
ON_PADDED: dict[str, Any] = {"prepare": keep_padded, "run": run_rnn, "run_module": PaddedRun}

#: The registry, in the order the thread discusses the answers.
_ALL: list[Strategy] = []


# hn_index: the asker's h_n indexing after packing (the baseline) ----------------------------------
def last_layer_from_h_n(ran: tuple[PackedSequence, Tensor], lengths: Tensor, batch_first: bool,
                        num_layers: int, out_size: int) -> States:
    h_n = ran[1]
    last = h_n.view(num_layers, 2, h_n.shape[1], h_n.shape[2])[-1]
    return last[0], last[1]


_ALL.append(Strategy(
    name="hn_index", pitfall=False, **ON_PACKED, extract=last_layer_from_h_n,
    expected=right_everywhere,
    description="pack (enforce_sorted=False), run, h_n.view(num_layers, 2, B, H)[-1]",
    claim="The asker: lasthidden[-1] + lasthidden[-2] after pack_sequence; igrinis: "
    "'if you have more layers, your variant seems better'."))


# hn_first_layer (pitfall): h_n[0], h_n[1] ---------------------------------------------------------
def first_layer_from_h_n(ran: tuple[PackedSequence, Tensor], lengths: Tensor, batch_first: bool,
                         num_layers: int, out_size: int) -> States:
    h_n = ran[1]
    return h_n[0], h_n[1]


_ALL.append(Strategy(
    name="hn_first_layer", pitfall=True, **ON_PACKED, extract=first_layer_from_h_n,
    # h_n[0], h_n[1] are the FIRST layer's states.
    expected=lambda layers, padded, steps: (layers == 1, layers == 1),
    wrong_because="h_n[0] and h_n[1] are the FIRST layer's states, not the last layer's",
    description="pack, run, h_n[0] and h_n[1]",
    claim="igrinis: 'u_emb_batch = lasthidden[0] + lasthidden[1], assuming you have only "
    "one layer'."))


# last_step_naive (pitfall): the output at the last padded step ------------------------------------
def last_padded_step(ran: tuple[Tensor, Tensor], lengths: Tensor, batch_first: bool,
                     num_layers: int, out_size: int) -> States:
    last = ran[0].select(1 if batch_first else 0, -1)
    return last[:, :out_size], last[:, out_size:]


_ALL.append(Strategy(
    name="last_step_naive", pitfall=True, **ON_PADDED, extract=last_padded_step,
    # The backward direction at t=-1 has seen one step only.
    expected=lambda layers, padded, steps: (not padded, steps == 1),
    wrong_because="the backward output at the last padded step has seen one step only, and "
    "a padded sequence's forward output there has run on through the padding",
    description="run on the padded batch, output at the last padded step for both directions",
    claim="igrinis: 'output[-1, :, :H] + output[-1, :, H:] should give the same result'; "
    "the last answer recommends output[:, -1, :H] + output[:, -1, H:] over h_n."))


# chunk_view: the second answer, on the unpacked output --------------------------------------------
def chunk_then_gather(ran: tuple[PackedSequence, Tensor], lengths: Tensor, batch_first: bool,
                      num_layers: int, out_size: int) -> States:
    """torch.chunk(output, 2, 2) (or view(T, B, 2, H)); forward at lengths-1, backward at 0."""
    output, _ = pad_packed_sequence(ran[0], batch_first=batch_first)
    output_forward, output_backward = torch.chunk(output, 2, dim=2)
    fwd = gather_at_last_step(output_forward, lengths, batch_first)
    bwd = output_backward.select(1 if batch_first else 0, 0)
    return fwd, bwd


_ALL.append(Strategy(
    name="chunk_view", pitfall=False, **ON_PACKED, extract=chunk_then_gather,
    expected=right_everywhere,
    description="pack, run, pad_packed_sequence, torch.chunk into directions, gather "
    "forward at lengths-1, backward at t=0",
    claim="Second answer: split output with view(seq_len, batch, 2, H) or torch.chunk, "
    "gather the forward pass at lengths-1 and the backward pass at position 0."))


# packed_unpack: the forum's PackedSequence recipe -------------------------------------------------
def gather_from_unpacked(ran: tuple[PackedSequence, Tensor], lengths: Tensor, batch_first: bool,
                         num_layers: int, out_size: int) -> States:
    output, _ = pad_packed_sequence(ran[0], batch_first=batch_first)
    return _gather_split_output(output, lengths, batch_first, out_size)


_ALL.append(Strategy(
    name="packed_unpack", pitfall=False, **ON_PACKED, extract=gather_from_unpacked,
    expected=right_everywhere,
    description="pack, run, pad_packed_sequence, slice directions, gather forward at "
    "lengths-1, backward at t=0",
    claim="The PackedSequence recipe the asker cites (PyTorch forum, source 2): unpack the "
    "output and gather each sequence's last valid step."))


# padded_gather: the second answer, on a padded batch ----------------------------------------------
def gather_from_padded(ran: tuple[Tensor, Tensor], lengths: Tensor, batch_first: bool,
                       num_layers: int, out_size: int) -> States:
    return _gather_split_output(ran[0], lengths, batch_first, out_size)


_ALL.append(Strategy(
    name="padded_gather", pitfall=False, **ON_PADDED, extract=gather_from_padded,
    # The backward direction starts in the padding; above layer 1 the forward reads the layer
    # below's backward outputs, contaminated by padding too.
    expected=lambda layers, padded, steps: ((not padded) or layers == 1, not padded),
    wrong_because="without packing the backward direction starts in the padding, and above "
    "layer 1 the forward reads the layer below's backward outputs, contaminated too",
    description="run on the padded batch (no packing), gather forward at lengths-1, "
    "backward at t=0",
    claim="Second answer, 'for people using unpacked sequences': gather the forward pass "
    "at lengths-1, the backward pass at position 0."))


# hn_padded (pitfall): h_n of a padded batch -------------------------------------------------------
def last_of_h_n(ran: tuple[Tensor, Tensor], lengths: Tensor, batch_first: bool,
                num_layers: int, out_size: int) -> States:
    h_n = ran[1]
    return h_n[-2], h_n[-1]


_ALL.append(Strategy(
    name="hn_padded", pitfall=True, **ON_PADDED, extract=last_of_h_n,
    expected=lambda layers, padded, steps: (not padded, not padded),  # both read the padding
    wrong_because="without packing h_n is the state after the last PADDED step: both "
    "directions have read the padding",
    description="run on the padded batch (no packing), h_n[-2] and h_n[-1]",
    claim="Third answer: on an unpacked batch, 'h_n of the reverse direction is the hidden "
    "state of the first step', so read h_n."))


# manual_two_rnn: two unidirectional rnns on the module's own weights ------------------------------
def reversal_index(lengths: Tensor, steps: int, batch_first: bool, device: torch.device) -> Tensor:
    """Time index, shaped (T, B) or (B, T), that reverses each sequence within its own length and
    leaves padding in place; it is its own inverse."""
    t = torch.arange(steps).unsqueeze(1)  # (T, 1)
    span = lengths.unsqueeze(0)  # (1, B)
    index = torch.where(t < span, span - 1 - t, t)  # (T, B)
    if batch_first:
        index = index.t()
    return index.to(device)


def reverse_within_lengths(seq: Tensor, index: Tensor, batch_first: bool) -> Tensor:
    batch = torch.arange(seq.shape[0 if batch_first else 1], device=seq.device)
    if batch_first:
        return seq[batch.unsqueeze(1), index]
    return seq[index, batch.unsqueeze(0)]


def reverse_inputs(x: Tensor, lengths: Tensor, batch_first: bool) -> tuple[Tensor, Tensor]:
    return x, reversal_index(lengths, x.shape[1 if batch_first else 0], batch_first, x.device)


def run_one_direction(inputs: Tensor, weights: list[Tensor], mode: str, bias: bool,
                      batch_first: bool, out_size: int, hidden_size: int,
                      training: bool) -> Tensor:
    """One direction of one layer on nn.RNNBase's own kernels (``mode``: its ``mode``); no dropout
    (validation refuses it); ``training`` keeps what cuDNN saves for backward."""
    h0 = inputs.new_zeros(1, inputs.shape[0 if batch_first else 1], out_size)
    if mode == "LSTM":
        c0 = inputs.new_zeros(1, h0.shape[1], hidden_size)
        return torch.lstm(inputs, [h0, c0], weights, bias, 1, 0.0, training, False,
                          batch_first)[0]
    if mode == "GRU":
        return torch.gru(inputs, h0, weights, bias, 1, 0.0, training, False, batch_first)[0]
    if mode == "RNN_TANH":
        return torch.rnn_tanh(inputs, h0, weights, bias, 1, 0.0, training, False,
                              batch_first)[0]
    return torch.rnn_relu(inputs, h0, weights, bias, 1, 0.0, training, False, batch_first)[0]


def two_rnns(prepared: tuple[Tensor, Tensor], flat_weights: list[Tensor], mode: str, bias: bool,
             batch_first: bool, num_layers: int, out_size: int, hidden_size: int,
             training: bool) -> tuple[Tensor, Tensor]:
    """Layers by hand -> the last layer's (forward outputs, backward outputs in reversed time).
    ``flat_weights``: ``rnn._flat_weights``, per layer forward then backward w_ih, w_hh, [b...]."""
    x, index = prepared
    per = len(flat_weights) // (2 * num_layers)
    sizes = (mode, bias, batch_first, out_size, hidden_size, training)
    layer_input = x
    fwd_out = bwd_out_reversed = x
    for layer in range(num_layers):
        first = 2 * layer * per
        fwd_out = run_one_direction(layer_input, flat_weights[first:first + per], *sizes)
        bwd_out_reversed = run_one_direction(
            reverse_within_lengths(layer_input, index, batch_first),
            flat_weights[first + per:first + 2 * per], *sizes)
        if layer + 1 < num_layers:
            bwd_out = reverse_within_lengths(bwd_out_reversed, index, batch_first)
            layer_input = torch.cat([fwd_out, bwd_out], dim=-1)
    return fwd_out, bwd_out_reversed


def run_two_rnns(rnn: nn.RNNBase, prepared: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    return two_rnns(prepared, rnn._flat_weights, rnn.mode, rnn.bias, rnn.batch_first,
                    rnn.num_layers, out_size(rnn), rnn.hidden_size, rnn.training)


class TwoRNNsRun(PaddedRun):
    """``run_two_rnns`` as a module (the weights are read at each call, as the function does)."""

    def __init__(self, rnn: nn.RNNBase) -> None:
        super().__init__(rnn)
        self.out_size = out_size(rnn)

    def forward(self, prepared: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        rnn = self.rnn
        return two_rnns(prepared, rnn._flat_weights, rnn.mode, rnn.bias, rnn.batch_first,
                        rnn.num_layers, self.out_size, rnn.hidden_size, rnn.training)


def gather_both_directions(ran: tuple[Tensor, Tensor], lengths: Tensor, batch_first: bool,
                           num_layers: int, out_size: int) -> States:
    fwd_out, bwd_out_reversed = ran
    return (gather_at_last_step(fwd_out, lengths, batch_first),
            gather_at_last_step(bwd_out_reversed, lengths, batch_first))


_ALL.append(Strategy(
    name="manual_two_rnn", pitfall=False, prepare=reverse_inputs, run=run_two_rnns,
    run_module=TwoRNNsRun, extract=gather_both_directions, expected=right_everywhere,
    description="two unidirectional rnns on the bidirectional rnn's own weights, backward "
    "fed each sequence reversed within its length, layers stacked by hand, no packing",
    claim="igrinis: 'create two regular LSTMs, feed one the input sequence and the other "
    "the reversed sequence, take the last state of both'."))


# Beyond the thread: strategies built on the measurements --------------------------------------
# hn_plain_if_full: the plain call when nothing is padded, else hn_index ---------------------------
def pack_unless_full(x: Tensor, lengths: Tensor,
                     batch_first: bool) -> tuple[Tensor, PackedSequence | None]:
    """(x, None) when every length equals T: nothing is padded, so the plain call's h_n is the
    packed one; else (x, packed) as hn_index. The test reads the lengths on the host: free for CPU
    lengths; an accelerator's are copied once, the copy packing makes anyway."""
    lengths = lengths.to("cpu")
    if bool(lengths.min() == x.shape[1 if batch_first else 0]):
        return x, None
    return x, pack_inputs(x, lengths, batch_first)


def run_plain_or_packed(rnn: nn.RNNBase, prepared: tuple[Tensor, PackedSequence | None]) -> Tensor:
    x, packed = prepared
    if packed is None:
        return h_n_of(rnn(x)[1])
    return h_n_of(rnn(packed)[1])


class PlainOrPackedRun(PaddedRun):
    """``run_plain_or_packed`` as a module."""

    def forward(self, prepared: tuple[Tensor, PackedSequence | None]) -> Tensor:  # type: ignore[override]
        x, packed = prepared
        if packed is None:
            return h_n_of(self.rnn(x)[1])
        return h_n_of(self.rnn(packed)[1])


def last_layer_of_h_n(h_n: Tensor, lengths: Tensor, batch_first: bool, num_layers: int,
                      out_size: int) -> States:
    last = h_n.view(num_layers, 2, h_n.shape[1], h_n.shape[2])[-1]
    return last[0], last[1]


_ALL.append(Strategy(
    name="hn_plain_if_full", pitfall=False, prepare=pack_unless_full, run=run_plain_or_packed,
    run_module=PlainOrPackedRun, extract=last_layer_of_h_n, expected=right_everywhere,
    description="no packing when every length equals T (the plain call's h_n), else pack as "
    "hn_index; h_n.view(num_layers, 2, B, H)[-1]",
    claim="Not in the thread: packing is only needed when something is padded; a full-length "
    "batch (fixed windows, truncated or bucketed batches) can skip it."))


# bucketed: sorted by length, cut into buckets by a cost model, manual_two_rnn on each -----------
def sort_by_length(x: Tensor, lengths: Tensor, batch_first: bool) -> tuple[Tensor, Tensor, Tensor]:
    """(x, lengths sorted longest first, the order that sorts them), on the host: the plan reads
    them there (an accelerator's lengths are copied once, as packing does)."""
    sorted_lengths, order = torch.sort(lengths.to("cpu"), descending=True, stable=True)
    return x, sorted_lengths, order


def run_buckets(prepared: tuple[Tensor, Tensor, Tensor], flat_weights: list[Tensor], mode: str,
                bias: bool, batch_first: bool, num_layers: int, out_size: int, hidden_size: int,
                training: bool, per_call: float, per_step: float,
                per_token: float) -> tuple[list[tuple[Tensor, Tensor, Tensor]], Tensor]:
    """``two_rnns`` on each bucket of ``plan_buckets``, padded to the bucket's own longest
    -> ([(forward outputs, reversed backward outputs, lengths) per bucket], order)."""
    x, sorted_lengths, order = prepared
    steps: list[int] = sorted_lengths.tolist()
    cuts = plan_buckets(steps, per_call, per_step, per_token)
    rows = order.to(x.device)
    bdim = 0 if batch_first else 1
    ran: list[tuple[Tensor, Tensor, Tensor]] = []
    for r in range(len(cuts) - 1):
        start, end = cuts[r], cuts[r + 1]
        bucket_lengths = sorted_lengths[start:end]
        bucket = x.index_select(bdim, rows[start:end]).narrow(1 - bdim, 0, steps[start])
        fwd_out, bwd_out_reversed = two_rnns(
            reverse_inputs(bucket, bucket_lengths, batch_first), flat_weights, mode, bias,
            batch_first, num_layers, out_size, hidden_size, training)
        ran.append((fwd_out, bwd_out_reversed, bucket_lengths))
    return ran, order


def run_bucketed(rnn: nn.RNNBase, prepared: tuple[Tensor, Tensor, Tensor],
                 ) -> tuple[list[tuple[Tensor, Tensor, Tensor]], Tensor]:
    costs = costs_for(rnn.mode)
    return run_buckets(prepared, rnn._flat_weights, rnn.mode, rnn.bias, rnn.batch_first,
                       rnn.num_layers, out_size(rnn), rnn.hidden_size, rnn.training,
                       costs.per_call, costs.per_step, costs.per_token)


class BucketedRun(PaddedRun):
    """``run_bucketed`` as a module (the costs are read when it is built)."""

    def __init__(self, rnn: nn.RNNBase) -> None:
        super().__init__(rnn)
        self.out_size = out_size(rnn)
        costs = costs_for(rnn.mode)
        self.per_call, self.per_step, self.per_token = (costs.per_call, costs.per_step,
                                                        costs.per_token)

    def forward(self, prepared: tuple[Tensor, Tensor, Tensor],  # type: ignore[override]
                ) -> tuple[list[tuple[Tensor, Tensor, Tensor]], Tensor]:
        rnn = self.rnn
        return run_buckets(prepared, rnn._flat_weights, rnn.mode, rnn.bias, rnn.batch_first,
                           rnn.num_layers, self.out_size, rnn.hidden_size, rnn.training,
                           self.per_call, self.per_step, self.per_token)


def gather_buckets(ran: tuple[list[tuple[Tensor, Tensor, Tensor]], Tensor], lengths: Tensor,
                   batch_first: bool, num_layers: int, out_size: int) -> States:
    """Each bucket's last states (``gather_both_directions``), back in the original order."""
    buckets, order = ran
    fwds: list[Tensor] = []
    bwds: list[Tensor] = []
    for fwd_out, bwd_out_reversed, bucket_lengths in buckets:
        fwd, bwd = gather_both_directions((fwd_out, bwd_out_reversed), bucket_lengths,
                                          batch_first, num_layers, out_size)
        fwds.append(fwd)
        bwds.append(bwd)
    restore = torch.argsort(order).to(fwds[0].device)
    return torch.cat(fwds).index_select(0, restore), torch.cat(bwds).index_select(0, restore)


_ALL.append(Strategy(
    name="bucketed", pitfall=False, prepare=sort_by_length, run=run_bucketed,
    run_module=BucketedRun, extract=gather_buckets, expected=right_everywhere,
    description="sort by length, cut into buckets where a cost model says (birnn_bench.buckets), "
    "manual_two_rnn on each bucket padded to its own longest, original order restored",
    claim="Not in the thread: bucketing by length, as data loaders do, inside one batch; each "
    "bucket pays for its own padding only."))


STRATEGIES: dict[str, Strategy] = {strategy.name: strategy for strategy in _ALL}
#: What every ratio is taken against: the asker's h_n indexing after packing, correct everywhere.
BASELINE = "hn_index"
