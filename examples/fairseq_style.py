"""fairseq-style (its LSTMEncoder): pack the batch, run, view h_n as (num_layers, 2, B, H) and
take the last layer, directions side by side. Written for birnn-bench, not copied from fairseq.

    birnn-bench check --strategies examples/fairseq_style.py:final_states
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence


def final_states(rnn: nn.RNNBase, x: torch.Tensor,
                 lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=rnn.batch_first,
                                  enforce_sorted=False)
    _, hidden = rnn(packed)
    h_n = hidden[0] if isinstance(hidden, tuple) else hidden  # an LSTM also returns c_n
    layers, batch, width = rnn.num_layers, h_n.size(1), h_n.size(2)
    # (layers * 2, B, H) -> (layers, B, 2 * H): each layer's forward and backward state side by
    # side, as an encoder hands them to its decoder; the last layer's is the sentence's state.
    combined = h_n.view(layers, 2, batch, width).transpose(1, 2).reshape(layers, batch, 2 * width)
    last = combined[-1]
    return last[:, :width], last[:, width:]
