"""The production helper: validated last states of a bidirectional rnn."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from birnn_bench import policy
from birnn_bench._rnn import time_dim
from birnn_bench.strategies import BASELINE, STRATEGIES
from birnn_bench.validate import validate_inputs

Tensor = torch.Tensor
REDUCTIONS = ("sum", "mean")


def last_states(rnn: nn.RNNBase, x: Tensor, lengths: Tensor, *, strategy: str = BASELINE,
                concat: bool = False, reduce: str | None = None,
                policy_file: str | Path | None = None) -> tuple[Tensor, Tensor] | Tensor:
    """Final forward and backward hidden states of the LAST layer of a bidirectional rnn.

    Args:
        rnn: a bidirectional ``nn.LSTM``, ``nn.GRU`` or ``nn.RNN`` (any layers, layout, proj_size).
        x: the padded batch in the rnn's layout, (B, T, F) if ``batch_first`` else (T, B, F).
        lengths: B valid lengths, 1 <= length <= T, any order (integer tensor or list).
        strategy: a name from ``birnn_bench.STRATEGIES``; the default ``hn_index`` is correct on
            every condition of the correctness matrix. ``"auto"``: the strategy measured fastest
            on THIS hardware for a call like this one (device, cell, inference or training,
            full-length or not, shape), among those correct everywhere (``birnn_bench.policy``:
            the local policy ``birnn-bench tune`` writes, else the shipped one when it was
            measured on this hardware, else ``hn_index`` with one warning).
        concat: return one (B, 2 * H_out) tensor, forward half first.
        reduce: ``"sum"`` or ``"mean"`` of the two directions, one (B, H_out) tensor.
        policy_file: for ``"auto"``, a policy file to look in first (``birnn-bench tune --out``).

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
    if policy_file is not None and not isinstance(policy_file, (str, Path)):
        raise TypeError(f"policy_file: expected a path (str or pathlib.Path) or None, got "
                        f"{type(policy_file).__name__} {policy_file!r}")
    if concat and reduce is not None:
        raise ValueError(f"concat=True and reduce={reduce!r} exclude each other")
    rnn, x, lengths = validate_inputs(rnn, x, lengths)
    if strategy == "auto":
        strategy = policy.choose(rnn, x, lengths, x.shape[time_dim(rnn)], policy_file)
    fwd, bwd = STRATEGIES[strategy](rnn, x, lengths)
    if concat:
        return torch.cat([fwd, bwd], dim=-1)
    if reduce is None:
        return fwd, bwd
    return fwd + bwd if reduce == "sum" else (fwd + bwd) / 2
