"""AllenNLP-style: ``final_encoder_states`` reads, from an encoder's output (B, T, 2H) and its
mask, the forward half at each sequence's last valid step and the backward half at t=0. Right on
the output of a PACKED run; on a plain padded run the backward direction started in the padding.
Written for birnn-bench, not copied from AllenNLP.

    birnn-bench check --strategies examples/allennlp_style.py:on_packed
    birnn-bench check --strategies examples/allennlp_style.py:on_unpacked
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

States = tuple[torch.Tensor, torch.Tensor]


def final_encoder_states(outputs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, 2H): forward half at each row's last True step of ``mask``, backward half at t=0."""
    batch, _, width = outputs.shape
    last = (mask.sum(dim=1) - 1).view(batch, 1, 1).expand(batch, 1, width)
    at_last = outputs.gather(1, last).squeeze(1)
    half = width // 2
    return torch.cat([at_last[:, :half], outputs[:, 0, half:]], dim=-1)


def _split(rnn: nn.RNNBase, outputs: torch.Tensor, lengths: torch.Tensor) -> States:
    if not rnn.batch_first:
        outputs = outputs.transpose(0, 1)  # (B, T, 2H)
    steps = torch.arange(outputs.size(1), device=outputs.device)
    mask = steps.unsqueeze(0) < lengths.to(outputs.device).unsqueeze(1)
    both = final_encoder_states(outputs, mask)
    half = both.size(-1) // 2
    return both[:, :half], both[:, half:]


def on_packed(rnn: nn.RNNBase, x: torch.Tensor, lengths: torch.Tensor) -> States:
    """The encoder packs its input (pad_packed_sequence gives the output back, zero-padded)."""
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=rnn.batch_first,
                                  enforce_sorted=False)
    outputs, _ = pad_packed_sequence(rnn(packed)[0], batch_first=rnn.batch_first)
    return _split(rnn, outputs, lengths)


def on_unpacked(rnn: nn.RNNBase, x: torch.Tensor, lengths: torch.Tensor) -> States:
    """The same reading of an encoder that runs the padded batch as it is."""
    outputs, _ = rnn(x)
    return _split(rnn, outputs, lengths)
