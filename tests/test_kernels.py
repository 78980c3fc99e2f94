"""Which rnn kernels run: the classification of ATen op counts, the kernel families of every
strategy on a tiny LSTM and GRU with oneDNN on and off (exact, deterministic), the oneDNN switch,
the paired timing's plumbing (a fake clock: no timing is asserted) and the script's errors."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

from birnn_bench import kernels
from birnn_bench.kernels import FUSED, ONEDNN, PER_STEP
from birnn_bench.strategies import STRATEGIES
from birnn_bench.workload import WorkloadSpec
from tests.conftest import REPO, load_script

LAYERS, STEPS = 2, 6
#: The strategies that call the rnn on the padded batch (no packing).
UNPACKED = {"last_step_naive", "padded_gather", "hn_padded", "manual_two_rnn", "bucketed"}
needs_onednn = pytest.mark.skipif(not torch.backends.mkldnn.is_available(),
                                  reason="this torch build has no oneDNN")


def tiny(cell: str, lengths: str = "skewed") -> WorkloadSpec:
    return WorkloadSpec(cell=cell, num_layers=LAYERS, input_size=4, hidden_size=8, batch=3,
                        max_len=STEPS, lengths=lengths, layout="batch_first", dtype="float32",
                        device="cpu", seed=0)


def test_the_kernel_op_names_are_this_torchs_own() -> None:
    for name in kernels.KERNEL_OPS:
        namespace, op = name.split("::")
        assert getattr(getattr(torch.ops, namespace), op).default.name() == name


def test_classify_reads_the_family_off_the_op_counts() -> None:
    assert kernels.classify({"aten::mkldnn_rnn_layer": 4, "aten::cat": 1}) == ONEDNN
    assert kernels.classify({"aten::addmm": 14, "aten::sigmoid_": 36}) == PER_STEP
    assert kernels.classify({"aten::mm": 2}) == PER_STEP
    # a fused cell computes its gates after a matrix product of its own: fused, not per-step
    assert kernels.classify({"aten::_thnn_fused_lstm_cell": 6, "aten::addmm": 6}) == FUSED
    assert kernels.classify({"aten::_cudnn_rnn": 2}) == "cuDNN"
    assert kernels.classify({"aten::mkldnn_rnn_layer": 2, "aten::addmm": 7}) == \
        f"{ONEDNN} + {PER_STEP}"
    assert kernels.classify({"aten::cat": 1, "aten::addmm": 0}) == "none"


@needs_onednn
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_every_strategys_kernel_family_with_onednn_on_and_off(cell: str) -> None:
    uses = {(u.strategy, u.onednn): u for u in kernels.kernel_uses(tiny(cell))}
    assert set(uses) == {(name, flag) for name in STRATEGIES for flag in (True, False)}
    for (name, enabled), use in uses.items():
        if cell == "lstm" and enabled and name in UNPACKED:
            # oneDNN's whole-sequence kernel: one op per layer and direction, per call
            assert use.family == ONEDNN, (name, enabled, use)
            calls = use.kernel_ops["aten::mkldnn_rnn_layer"] / (2 * LAYERS)
            assert set(use.kernel_ops) == {"aten::mkldnn_rnn_layer"} and calls.is_integer()
        else:
            # ATen's cell written out: an input projection and one product per step, per layer
            # and direction (bucketed: per bucket)
            assert use.family == PER_STEP, (name, enabled, use)
            matmuls = sum(use.kernel_ops.values())
            assert set(use.kernel_ops) <= {"aten::addmm", "aten::mm"}
            assert matmuls == 2 * LAYERS * (STEPS + 1) or name == "bucketed"
            assert use.run_ops > matmuls  # the gates' pointwise ops besides
    for name in STRATEGIES:  # the flag changes the unpacked LSTM calls, and nothing else
        same = dataclasses.replace(uses[(name, True)], onednn=False) == uses[(name, False)]
        assert same == (cell == "gru" or name not in UNPACKED), name


@needs_onednn
def test_a_packed_lstm_of_equal_lengths_runs_onednn_too() -> None:
    """Measured, not assumed: packing alone does not send an LSTM to ATen's cells; a packed batch
    whose lengths all equal T runs oneDNN's kernel, as does hn_plain_if_full's plain call."""
    spec = tiny("lstm", "equal")
    for name in ("hn_index", "packed_unpack", "hn_plain_if_full"):
        assert kernels.kernel_use(spec, name, True).family == ONEDNN
        assert kernels.kernel_use(spec, name, False).family == PER_STEP
    assert kernels.kernel_use(tiny("gru", "equal"), "hn_index", True).family == PER_STEP


def test_kernel_uses_repeat_exactly() -> None:
    spec = tiny("lstm")
    names = ["hn_index", "hn_padded", "manual_two_rnn"]
    assert kernels.kernel_uses(spec, names) == kernels.kernel_uses(spec, names)


def test_kernel_use_refuses_an_unknown_strategy() -> None:
    with pytest.raises(ValueError, match="strategy: expected one of"):
        kernels.kernel_use(tiny("gru"), "nope", True)


def test_the_onednn_switch_is_restored_even_after_an_error() -> None:
    before = torch.backends.mkldnn.enabled
    with pytest.raises(RuntimeError), kernels.onednn(not before):
        assert torch.backends.mkldnn.enabled == (not before)
        raise RuntimeError("inside")
    assert torch.backends.mkldnn.enabled == before


def test_time_paths_times_each_setting_under_it() -> None:
    """A fake clock records the oneDNN flag each time it is read: the first comparison runs
    entirely with oneDNN on, the second entirely off; the flag and threads are restored."""
    seen: list[bool] = []
    now = [0.0]

    def clock() -> float:
        seen.append(bool(torch.backends.mkldnn.enabled))
        now[0] += 1e-3
        return now[0]

    before = (torch.backends.mkldnn.enabled, torch.get_num_threads())
    timings = kernels.time_paths(tiny("lstm"), budget_s=1.0, threads=1, clock=clock,
                                 max_rounds=8)
    assert (torch.backends.mkldnn.enabled, torch.get_num_threads()) == before
    assert [t.onednn for t in timings] == [True, False]
    half = seen.index(False)
    assert all(seen[:half]) and not any(seen[half:])
    for t in timings:
        assert t.rounds == 8 and t.verdict in ("faster", "slower", "tied", "unresolved")
        assert math.isfinite(t.ratio.estimate) and t.padded_s > 0 and t.packed_s > 0


def test_the_script_refuses_bad_arguments_before_any_work(tmp_path, capsys) -> None:
    script = load_script(REPO / "scripts" / "kernels.py", "kernels_script")
    for value in ("0", "nan", "soon"):
        with pytest.raises(SystemExit) as stopped:
            script.main(["--budget", value])
        assert stopped.value.code == 2
        assert capsys.readouterr().err == (f"scripts/kernels.py: error: --budget: expected "
                                           f"seconds > 0, got {value!r}\n")
    assert script.main(["--json", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"scripts/kernels.py: error: --json {tmp_path}: is a folder")
    assert err.count("\n") == 1 and not list(tmp_path.iterdir())


def test_the_scripts_json_reads_back_one_row_a_line() -> None:
    script = load_script(REPO / "scripts" / "kernels.py", "kernels_script")
    payload = {"machine": "m", "hardware": {"cpu": "X"}, "rows": [{"a": 1}, {"a": 2}],
               "timings": []}
    text = script.dump(payload)
    assert json.loads(text) == payload and '  {"a": 2}\n' in text
