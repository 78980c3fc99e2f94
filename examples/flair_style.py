"""flair-style document RNN: pack, run, pad_packed_sequence, and embed each sequence as the
concatenation of its output at t=0 and at its last valid step, length-1: a (B, 4H) embedding
[fwd(0), bwd(0), fwd(L-1), bwd(L-1)]. Written for birnn-bench, not copied from flair.

Which parts of that embedding are the final states? The check says (README, "Check your own
code"): ``final_states`` reads fwd(L-1) and bwd(0), the two final states the embedding holds;
``other_halves`` reads fwd(0) and bwd(L-1), the other half of its width: states after ONE step.

    birnn-bench check --strategies examples/flair_style.py:final_states
    birnn-bench check --strategies examples/flair_style.py:other_halves
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

States = tuple[torch.Tensor, torch.Tensor]


def document_embedding(rnn: nn.RNNBase, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(B, 4 * H): per sequence, cat(output[b, 0], output[b, length - 1])."""
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=rnn.batch_first,
                                  enforce_sorted=False)
    outputs, _ = pad_packed_sequence(rnn(packed)[0], batch_first=True)  # (B, T, 2H)
    rows = [torch.cat([outputs[b, 0], outputs[b, int(length) - 1]])
            for b, length in enumerate(lengths)]
    return torch.stack(rows)


def final_states(rnn: nn.RNNBase, x: torch.Tensor, lengths: torch.Tensor) -> States:
    """fwd(L-1) and bwd(0): where each direction ends."""
    emb = document_embedding(rnn, x, lengths)
    width = emb.size(1) // 4
    return emb[:, 2 * width:3 * width], emb[:, width:2 * width]


def other_halves(rnn: nn.RNNBase, x: torch.Tensor, lengths: torch.Tensor) -> States:
    """fwd(0) and bwd(L-1): where each direction starts."""
    emb = document_embedding(rnn, x, lengths)
    width = emb.size(1) // 4
    return emb[:, :width], emb[:, 3 * width:]
