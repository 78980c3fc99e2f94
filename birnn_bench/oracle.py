"""The truth: every sequence run on its own, unpadded, in float64 on the CPU (sequences of equal
length together: a batch without padding computes the same as batch size 1, only faster)."""

from __future__ import annotations

import copy

import torch
from torch import nn

from birnn_bench._rnn import batch_dim, h_n_of, out_size, time_dim
from birnn_bench.validate import validate_inputs

Tensor = torch.Tensor

#: Max abs error a correct strategy may show against the float64 oracle, per dtype. Wrong
#: strategies read loud padding or the wrong layer and miss by 1e-2 to 1e0 (see README).
TOLERANCES: dict[torch.dtype, float] = {torch.float64: 1e-9, torch.float32: 1e-4,
                                        torch.float16: 2e-2, torch.bfloat16: 6e-2}


def tolerance(dtype: torch.dtype) -> float:
    if dtype not in TOLERANCES:
        raise TypeError(f"dtype: no tolerance for {dtype}; expected a floating dtype in "
                        f"{sorted(str(d) for d in TOLERANCES)}")
    return TOLERANCES[dtype]


@torch.no_grad()
def oracle_last_states(rnn: nn.RNNBase, x: Tensor, lengths: Tensor,
                       device: str | torch.device = "cpu") -> tuple[Tensor, Tensor]:
    """Last layer's final (fwd, bwd) states, (B, H_out) each, float64 on the CPU. ``device`` only
    chooses where the float64 arithmetic runs (a GPU is faster for large benchmark shapes)."""
    rnn, x, lengths = validate_inputs(rnn, x, lengths)
    reference = copy.deepcopy(rnn).to(device=device, dtype=torch.float64).eval()
    xs = x.detach().to(device=device, dtype=torch.float64)
    tdim, bdim = time_dim(rnn), batch_dim(rnn)
    truth = torch.empty(2, len(lengths), out_size(rnn), dtype=torch.float64)
    for length in torch.unique(lengths).tolist():
        members = torch.nonzero(lengths == length).flatten()
        seqs = xs.index_select(bdim, members.to(xs.device)).narrow(tdim, 0, length)
        h_n = h_n_of(reference(seqs)[1])
        truth[:, members] = h_n.view(rnn.num_layers, 2, len(members), -1)[-1].cpu()
    return truth[0], truth[1]


def max_abs_error(states: Tensor, truth: Tensor) -> float:
    """Max abs difference in float64; NaN or inf in ``states`` counts as infinitely wrong."""
    diff = (states.detach().to(device="cpu", dtype=torch.float64) - truth).abs()
    if not torch.isfinite(diff).all():
        return float("inf")
    return float(diff.max()) if diff.numel() else 0.0


def error_against_oracle(rnn: nn.RNNBase, x: Tensor, lengths: Tensor,
                         states: tuple[Tensor, Tensor], device: str | torch.device = "cpu"
                         ) -> float:
    """The worse of the two directions' max abs errors of ``states`` = (fwd, bwd)."""
    truth = oracle_last_states(rnn, x, lengths, device=device)
    return max(max_abs_error(states[0], truth[0]), max_abs_error(states[1], truth[1]))
