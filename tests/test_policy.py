"""strategy="auto": a policy per hardware, its lookup from the call, tune, and correctness on the
oracle grid. No timing is asserted: tune runs on a tiny budget and its choices are checked for
what they may be (safe strategies, from a resolved comparison), never for which is faster."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch

from birnn_bench import buckets, check, hardware, last_states, policy, tune
from birnn_bench.cli import main
from birnn_bench.oracle import oracle_last_states, tolerance
from birnn_bench.workload import WorkloadSpec, build

SAFE = ["hn_index", "chunk_view", "packed_unpack", "manual_two_rnn"]


def _rule(**given) -> dict:
    rule = {"device": "cpu", "cell": "lstm", "mode": "forward", "full_length": False,
            "layers": 1, "batch": 64, "max_len": 128, "hidden": 128, "lengths": "skewed",
            "dtype": "float32", "strategy": "hn_index"}
    return {**rule, **given}


def _write(path, rules, facts=None, allowed=SAFE) -> str:
    here = {k: v for k, v in hardware.facts("cpu").items() if k != "gpu"}
    path.write_text(json.dumps({"version": policy.VERSION, "correct_everywhere": list(allowed),
                                "machines": [{"machine": "m", "hardware": facts or here,
                                              "rules": rules}]}))
    policy.clear_caches()
    return str(path)


@pytest.fixture(autouse=True)
def _fresh(monkeypatch, tmp_path):
    """No user policy of the machine running the tests leaks in; caches cleared around."""
    monkeypatch.setenv(policy.POLICY_ENV, str(tmp_path / "no-local-policy.json"))
    policy.clear_caches()
    yield
    policy.clear_caches()


def _call(cell: str = "lstm", layers: int = 1, batch: int = 8, steps: int = 32,
          full: bool = False, train: bool = False):
    rnn = getattr(torch.nn, cell.upper())(4, 128, num_layers=layers, bidirectional=True,
                                          batch_first=True)
    rnn.train(train)
    lengths = torch.full((batch,), steps) if full else torch.tensor(
        [steps] + [max(1, steps // 8)] * (batch - 1))
    return rnn, torch.randn(batch, steps, 4), lengths


def test_the_lookup_reads_cell_mode_and_full_length_from_the_call(tmp_path) -> None:
    path = _write(tmp_path / "p.json", [
        _rule(strategy="packed_unpack"),
        _rule(cell="gru", mode="train_step", full_length=True, lengths="equal",
              strategy="manual_two_rnn", max_len=32),
        _rule(cell="gru", mode="forward", full_length=True, lengths="equal", max_len=32),
    ])
    rnn, x, lengths = _call("lstm", batch=48, steps=128)
    assert policy.choose(rnn, x, lengths, 128, path) == "packed_unpack"
    rnn, x, lengths = _call("gru", batch=64, full=True, train=True)
    assert policy.choose(rnn, x, lengths, 32, path) == "manual_two_rnn"
    with torch.no_grad():  # training mode without a graph is inference
        assert policy.choose(rnn, x, lengths, 32, path) == "hn_index"
    rnn, x, lengths = _call("gru", batch=64, full=False, train=True)
    assert policy.choose(rnn, x, lengths, 32, path) == "hn_index"  # no rule: padded training
    assert policy.length_pattern([1, 2, 1, 32, 3, 2, 1, 4], 32) == "skewed"
    assert policy.length_pattern([9] * 4, 9) == "equal"
    assert policy.length_pattern([16, 20, 12, 32], 32) == "uniform"


def test_other_hardware_means_hn_index_and_one_warning_naming_tune(tmp_path, monkeypatch) -> None:
    other = {"cpu": "Imaginary CPU 9000", "num_cpu": "2"}
    path = _write(tmp_path / "p.json", [_rule(strategy="packed_unpack")], facts=other)
    # The shipped policy, too, was measured elsewhere only (the committed one may hold this box).
    monkeypatch.setattr(policy, "_shipped_policy", lambda: Path(path))
    rnn, x, lengths = _call(batch=48, steps=128)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert policy.choose(rnn, x, lengths, 128, path) == "hn_index"
        assert policy.choose(rnn, x, lengths, 128, path) == "hn_index"
    messages = [str(w.message) for w in caught if "no policy measured" in str(w.message)]
    assert len(messages) == 1 and "birnn-bench tune" in messages[0]


def test_a_rule_naming_a_strategy_outside_the_correct_set_is_refused(tmp_path) -> None:
    path = _write(tmp_path / "bad.json", [_rule(strategy="hn_padded")])
    rnn, x, lengths = _call()
    with pytest.raises(ValueError, match="not correct on every condition"):
        policy.choose(rnn, x, lengths, 32, path)


def test_the_shipped_policy_is_per_hardware_and_names_only_safe_strategies() -> None:
    entries = policy.read_policy(None)
    assert entries and all(e.hardware.get("cpu") for e in entries)
    for entry in entries:
        assert all(rule.strategy in entry.allowed for rule in entry.rules)
        assert set(entry.allowed) <= set(SAFE) | {"hn_plain_if_full", "bucketed"}


def test_auto_is_correct_on_every_condition_of_the_oracle_grid(tmp_path) -> None:
    # Whatever it picks (here: a policy for this hardware that moves every call off hn_index).
    path = _write(tmp_path / "p.json", [
        _rule(cell=c, mode=m, full_length=f, strategy="manual_two_rnn")
        for c in ("lstm", "gru", "rnn") for m in ("forward", "train_step") for f in (True, False)])
    for spec in check.check_specs():
        rnn, x, lengths = build(spec)
        truth = oracle_last_states(rnn, x, lengths)
        with torch.no_grad():
            fwd, bwd = last_states(rnn, x, lengths, strategy="auto", policy_file=path)
        tol = tolerance(x.dtype)
        assert (fwd.double() - truth[0]).abs().max() <= tol, spec
        assert (bwd.double() - truth[1]).abs().max() <= tol, spec


def test_tune_writes_a_policy_auto_then_reads(tmp_path, monkeypatch) -> None:
    out = tmp_path / "tuned.json"
    spec = WorkloadSpec(cell="gru", num_layers=1, input_size=4, hidden_size=8, batch=4,
                        max_len=6, lengths="skewed")
    lines: list[str] = []
    made = tune.tune(tune.own_jobs(spec, ["forward"]), out, budget_s=0.2, say=lines.append)
    assert json.loads(out.read_text()) == made and not out.with_name("tuned.json.partial").exists()
    (entry,) = made["machines"]
    assert not hardware.differences(entry["hardware"], hardware.facts("cpu"))
    (rule,) = entry["rules"]
    assert rule["strategy"] in made["correct_everywhere"]
    assert (rule["cell"], rule["mode"], rule["full_length"]) == ("gru", "forward", False)
    assert any("A/A" in line for line in lines)
    # auto reads it: the rule's strategy for a call like the one measured.
    rnn, x, lengths = build(spec)
    with torch.no_grad():
        assert policy.choose(rnn, x, lengths, 6, str(out)) == rule["strategy"]
    # bucketed plans with the constants measured here once the policy is this user's own.
    measured = entry["bucket_costs"]["GRU"]
    assert set(measured) == {"per_call", "per_step", "per_token"}
    assert buckets.costs_for("GRU") == buckets.DEFAULT_COSTS["GRU"]  # not the local one yet
    monkeypatch.setenv(policy.POLICY_ENV, str(out))
    policy.clear_caches()
    assert buckets.costs_for("GRU") == buckets.BucketCosts(**measured)
    assert buckets.costs_for("LSTM") == buckets.DEFAULT_COSTS["LSTM"]  # not measured: shipped


def test_tune_resumes_what_an_interrupted_run_kept(tmp_path, monkeypatch) -> None:
    out = tmp_path / "tuned.json"
    jobs = tune.own_jobs(WorkloadSpec(cell="lstm", num_layers=1, input_size=4, hidden_size=8,
                                      batch=4, max_len=6, lengths="equal"),
                         ["forward", "train_step"])
    measured: list[str] = []
    real = tune._measure

    def once_then_stop(job, safe, budget_s):
        if measured:
            raise KeyboardInterrupt
        measured.append(job.key)
        return real(job, safe, budget_s)

    monkeypatch.setattr(tune, "_measure", once_then_stop)
    with pytest.raises(KeyboardInterrupt):
        tune.tune(jobs, out, budget_s=0.2)
    assert not out.exists() and out.with_name("tuned.json.partial").is_file()
    monkeypatch.setattr(tune, "_measure", lambda job, safe, budget_s: (
        measured.append(job.key), real(job, safe, budget_s))[1])
    lines: list[str] = []
    made = tune.tune(jobs, out, budget_s=0.2, say=lines.append)
    assert measured == [jobs[0].key, jobs[1].key]  # the first kept, only the second measured
    assert any("resuming: 1/2" in line for line in lines)
    assert len(made["machines"][0]["rules"]) == 2


@pytest.mark.parametrize(("args", "message"), [
    (["--lengths", "/no/such/file"], "--lengths"),
    (["--out", "/proc/x/policy.json"], "--out /proc/x/policy.json"),
    (["--budget", "0"], "--budget"),
    (["--modes", "sideways"], "--modes"),
])
def test_tune_refuses_bad_input_before_any_work(args, message, capsys) -> None:
    try:
        code = main(["tune", "--cell", "gru", *args])
    except SystemExit as exit_:
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and "[tune" not in err


def test_tune_input_size_is_the_suites() -> None:
    from benchmarks import regimes

    assert tune.INPUT_SIZE == regimes.INPUT_SIZE


def test_the_shipped_policy_follows_the_committed_grid_on_each_machine(monkeypatch) -> None:
    """On every committed regime of every machine in the shipped policy, auto (on that machine's
    hardware, for a call shaped like the regime) never takes a strategy the grid found
    significantly slower than hn_index, and takes the grid's recommendation wherever a safe
    strategy was significantly faster there."""
    from analysis.load.results import load_results
    from analysis.model import paired
    from birnn_bench.workload import make_lengths
    from tests.conftest import REPO

    loaded = load_results(REPO / "results")
    safe = json.loads((REPO / "birnn_bench" / "auto_policy.json").read_text())
    grid = paired.grid(loaded.data, safe["correct_everywhere"])
    entries = {e.machine: e for e in policy.read_policy()}
    assert entries, "the shipped policy has no machine entry"
    checked = 0
    for machine, entry in entries.items():
        monkeypatch.setattr(policy, "_here", lambda device, facts=entry.hardware: dict(facts))
        policy.clear_caches()
        mine = grid[grid["machine"] == machine]
        assert not mine.empty, machine
        for (mode, _regime), g in mine.groupby(["mode", "regime"], sort=False):
            row = g.iloc[0]
            cell, layers, batch = str(row["cell"]), int(row["layers"]), int(row["batch"])
            steps = int(row["max_len"])
            rnn = getattr(torch.nn, cell.upper())(4, int(row["hidden"]), num_layers=layers,
                                                  bidirectional=True, batch_first=True)
            rnn.train(mode == "train_step")
            lengths = make_lengths(str(row["lengths"]), batch, steps,
                                   torch.Generator().manual_seed(0))
            x = torch.zeros(batch, steps, 4)
            with torch.set_grad_enabled(mode == "train_step"):
                chosen = policy.choose(rnn, x, lengths, steps)
            verdicts = g.set_index("strategy")
            assert verdicts.loc[chosen, "verdict"] != "slower", (machine, mode, row["regime"])
            recommended = g.loc[g["recommended"], "strategy"].iloc[0]
            assert chosen == recommended, (machine, mode, row["regime"], chosen, recommended)
            checked += 1
    assert checked >= 24


def test_auto_cost_script_times_auto_against_what_it_picks(capsys) -> None:
    from tests.conftest import REPO, load_script

    script = load_script(REPO / "scripts" / "auto_cost.py", "auto_cost_script")
    with pytest.raises(SystemExit) as stopped:
        script.main(["--budget", "0"])
    assert stopped.value.code == 2 and "--budget: expected" in capsys.readouterr().err
    assert script.main(["--budget", "0.3"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()
            if line.startswith("cpu-")]
    assert [row[0] for row in rows] == [f"cpu-{cell}-L{layers}-B1-T32-H128-equal-float32"
                                        for cell in ("lstm", "gru") for layers in (1, 2)]
    allowed = {name for entry in policy.read_policy() for name in entry.allowed}
    for row in rows:  # regime, picked, named ms, lookup us, share, ratio [low, high] [A/A], verdict
        assert row[1] in allowed | {"hn_index"}, row
        assert row[-1] in ("faster", "slower", "tied", "unresolved"), row
