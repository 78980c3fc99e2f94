"""Small facts about a bidirectional ``nn.RNNBase`` that every step needs."""

from __future__ import annotations

import torch
from torch import nn

Tensor = torch.Tensor


def out_size(rnn: nn.RNNBase) -> int:
    """H_out: the width of one direction's hidden state (proj_size when projecting)."""
    proj = getattr(rnn, "proj_size", 0)
    return proj if proj > 0 else rnn.hidden_size


def extract_dims(rnn: nn.RNNBase) -> tuple[bool, int, int]:
    """What a strategy's ``extract`` step is told of the rnn: (batch_first, num_layers, H_out)."""
    return rnn.batch_first, rnn.num_layers, out_size(rnn)


def time_dim(rnn: nn.RNNBase) -> int:
    """The time axis of x and of the rnn's output (h_n ignores batch_first)."""
    return 1 if rnn.batch_first else 0


def batch_dim(rnn: nn.RNNBase) -> int:
    return 0 if rnn.batch_first else 1


def h_n_of(hidden: Tensor | tuple[Tensor, Tensor]) -> Tensor:
    """h_n from the rnn's second return value (LSTM returns (h_n, c_n))."""
    return hidden[0] if isinstance(hidden, tuple) else hidden

