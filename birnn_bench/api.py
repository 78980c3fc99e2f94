"""The production helper: validated last states of a bidirectional rnn."""

from __future__ import annotations

import torch
from torch import nn

from birnn_bench import policy
from birnn_bench._rnn import batch_dim, time_dim
from birnn_bench.strategies import BASELINE, STRATEGIES
from birnn_bench.validate import validate_inputs

Tensor = torch.Tensor
REDUCTIONS = ("sum", "mean")


def last_states(rnn: nn.RNNBase, x: Tensor, lengths: Tensor, *, strategy: str = BASELINE,
                concat: bool = False, reduce: str | None = None) -> tuple[Tensor, Tensor] | Tensor:
    """Final forward and backward hidden states of the LAST layer of a bidirectional rnn.

    Args:
        rnn: a bidirectional ``nn.LSTM``, ``nn.GRU`` or ``nn.RNN`` (any layers, layout, proj_size).
        x: the padded batch in the rnn's layout, (B, T, F) if ``batch_first`` else (T, B, F).
        lengths: B valid lengths, 1 <= length <= T, any order (integer tensor or list).
        strategy: a name from ``birnn_bench.STRATEGIES``; the default ``hn_index`` is correct on
            every condition of the correctness matrix. ``"auto"``: what the findings recommend
            for this device and shape (``birnn_bench.policy``), among those correct everywhere.
        concat: return one (B, 2 * H_out) tensor, forward half first.
        reduce: ``"sum"`` or ``"mean"`` of the two directions, one (B, H_out) tensor.

    Returns ``(fwd, bwd)``, each (B, H_out) in the original batch order, or one tensor when
    ``concat`` or ``reduce`` is given.
    """
    if not isinstance(strategy, str):
        raise TypeError(f"strategy: expected a name (str), got {type(strategy).__name__} "
                        f"{strategy!r}")
    if strategy not in STRATEGIES and strategy != "auto":
        raise ValueError(f"strategy: expected 'auto' or one of {sorted(STRATEGIES)}, got "
                         f"{strategy!r}")
    if not isinstance(concat, bool):  # "no" or 0.0 would be taken for true or false silently
        raise TypeError(f"concat: expected True or False, got {type(concat).__name__} "
                        f"{concat!r}")
    if reduce is not None and not isinstance(reduce, str):
        raise TypeError(f"reduce: expected one of {REDUCTIONS} or None, got "
                        f"{type(reduce).__name__} {reduce!r}")
    if reduce is not None and reduce not in REDUCTIONS:
        raise ValueError(f"reduce: expected one of {REDUCTIONS} or None, got {reduce!r}")
    if concat and reduce is not None:
        raise ValueError(f"concat=True and reduce={reduce!r} exclude each other")
    rnn, x, lengths = validate_inputs(rnn, x, lengths)
    if strategy == "auto":
        strategy = policy.choose(x.device, rnn.num_layers, x.shape[batch_dim(rnn)], lengths,
                                 x.shape[time_dim(rnn)])
    fwd, bwd = STRATEGIES[strategy](rnn, x, lengths)
    if concat:
        return torch.cat([fwd, bwd], dim=-1)
    if reduce is None:
        return fwd, bwd
    return fwd + bwd if reduce == "sum" else (fwd + bwd) / 2
