"""strategy="auto": the findings' policy, its lookup, and correctness on the oracle grid."""

from __future__ import annotations

import json

import pytest
import torch

from birnn_bench import check, last_states, policy
from birnn_bench.oracle import oracle_last_states, tolerance
from birnn_bench.workload import build


def _write_policy(path, rules, allowed=("hn_index", "packed_unpack", "manual_two_rnn")):
    path.write_text(json.dumps({"correct_everywhere": list(allowed), "rules": rules}))
    policy.load_policy.cache_clear()
    return path


def test_no_policy_means_hn_index(tmp_path) -> None:
    missing = tmp_path / "none.json"
    assert policy.choose(torch.device("cpu"), 2, 8, torch.tensor([3, 4]), 5, missing) == \
        "hn_index"


def test_lookup_picks_the_nearest_regime_on_the_same_device(tmp_path) -> None:
    rules = [
        {"device": "cpu", "layers": 1, "batch": 1, "lengths": "equal", "strategy": "hn_index"},
        {"device": "cpu", "layers": 1, "batch": 64, "lengths": "skewed",
         "strategy": "packed_unpack"},
        {"device": "cpu", "layers": 2, "batch": 64, "lengths": "equal",
         "strategy": "manual_two_rnn"},
    ]
    path = _write_policy(tmp_path / "p.json", rules)
    cpu = torch.device("cpu")
    skewed = torch.tensor([1, 2, 1, 32, 3, 2, 1, 4])
    assert policy.length_pattern(skewed, 32) == "skewed"
    assert policy.length_pattern(torch.full((4,), 9), 9) == "equal"
    assert policy.length_pattern(torch.tensor([16, 20, 12, 32]), 32) == "uniform"
    assert policy.choose(cpu, 1, 48, skewed, 32, path) == "packed_unpack"
    assert policy.choose(cpu, 1, 2, torch.full((2,), 32), 32, path) == "hn_index"
    assert policy.choose(cpu, 3, 64, torch.full((64,), 32), 32, path) == "manual_two_rnn"
    assert policy.choose(torch.device("cuda"), 1, 64, skewed, 32, path) == "hn_index"


def test_a_rule_naming_a_strategy_outside_the_correct_set_is_refused(tmp_path) -> None:
    rules = [{"device": "cpu", "layers": 1, "batch": 1, "lengths": "equal",
              "strategy": "hn_padded"}]
    path = _write_policy(tmp_path / "bad.json", rules)
    with pytest.raises(ValueError, match="not correct on every condition"):
        policy.choose(torch.device("cpu"), 1, 1, torch.tensor([1]), 1, path)


def test_shipped_policy_only_names_strategies_correct_everywhere() -> None:
    policy.load_policy.cache_clear()
    rules, allowed = policy.load_policy()
    assert allowed and all(rule.strategy in allowed for rule in rules)


def test_auto_is_correct_on_every_condition_of_the_oracle_grid() -> None:
    policy.load_policy.cache_clear()
    for spec in check.check_specs():
        rnn, x, lengths = build(spec)
        truth = oracle_last_states(rnn, x, lengths)
        with torch.no_grad():
            fwd, bwd = last_states(rnn, x, lengths, strategy="auto")
        tol = tolerance(x.dtype)
        assert (fwd.double() - truth[0]).abs().max() <= tol, spec
        assert (bwd.double() - truth[1]).abs().max() <= tol, spec
