"""Profiles: exact op counts per phase, CUDA counts from stand-in traces, the Chrome trace, and
a real asv run of the profile benchmarks on the smoke grid."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
from asv import results as asv_results

from birnn_bench import profiles
from birnn_bench.profiles import TraceEvent
from birnn_bench.strategies import STRATEGIES
from tests.conftest import REPO, background_fixture, make_case

#: One point of the quick grid (the one the report's table shows).
QUICK = ("cpu", "lstm", 64, 32, "skewed", 128, 2, "float32")


@pytest.fixture(scope="module")
def quick_profiles() -> dict[str, profiles.Profile]:
    return {s: profiles.profile_case(make_case(*QUICK, s))
            for s in ("hn_index", "packed_unpack", "padded_gather")}


# ---------------------------------------------------------------------------------------------
# exact repeats

COUNT_SCRIPT = """
import json
from tests.conftest import make_case
from birnn_bench.profiles import count_ops
out = {}
for s in ("hn_index", "packed_unpack", "padded_gather", "manual_two_rnn"):
    out[s] = count_ops(make_case("cpu", "gru", 16, 24, "skewed", 32, 2,
                                             "float32", s))
print("COUNTS", json.dumps(out, sort_keys=True))
"""


def _counts_line(stdout: str) -> dict:
    line = next(line for line in stdout.splitlines() if line.startswith("COUNTS "))
    return json.loads(line.split(" ", 1)[1])


def counts_in_two_processes(_workdir: Path, environ: dict[str, str]) -> list[dict]:
    """``COUNT_SCRIPT``'s counts from two fresh processes, run in the background from
    collection on."""
    return [_counts_line(subprocess.run([sys.executable, "-c", COUNT_SCRIPT], cwd=REPO,
                                        env=environ, check=True, capture_output=True,
                                        text=True).stdout)
            for _ in range(2)]


two_processes = background_fixture("two_processes", counts_in_two_processes)


def test_counts_repeat_exactly_across_processes(two_processes) -> None:
    runs = two_processes
    assert runs[0] == runs[1]
    assert set(runs[0]) == {"hn_index", "packed_unpack", "padded_gather", "manual_two_rnn"}
    for counts in runs[0].values():
        assert sum(counts["run"].values()) > 0


def test_counts_repeat_within_a_process() -> None:
    case = make_case("cpu", "lstm", 8, 12, "uniform", 16, 2, "float32", "chunk_view")
    first, second = profiles.profile_case(case), profiles.profile_case(case)
    assert first == second
    assert profiles.count_ops(case) == first.ops


# ---------------------------------------------------------------------------------------------
# what the counts say


def test_packing_is_visible_in_the_counts(quick_profiles) -> None:
    packed, unpacked, padded = (quick_profiles[s] for s in
                                ("hn_index", "packed_unpack", "padded_gather"))
    # Packing: one _pack_padded_sequence in prepare (after a sort of the lengths), none without.
    assert packed.ops["prepare"]["aten::_pack_padded_sequence"] == 1
    assert packed.ops["prepare"]["aten::sort"] == 1
    assert padded.total("ops") == sum(padded.ops["run"].values()) + sum(
        padded.ops["extract"].values())
    assert padded.per_phase("ops")["prepare"] == 0
    assert not any(op.startswith("aten::_pack") for phase in profiles.PHASES
                   for op in padded.ops[phase])
    # Unpacking: the dispatcher sees what pad_packed_sequence is made of (a composite op: slices
    # and copies), never the op itself.
    assert unpacked.ops["extract"]["aten::_pad_packed_sequence"] == 0
    assert unpacked.per_phase("ops")["extract"] > 10 * padded.per_phase("ops")["extract"]


@pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="no oneDNN in this torch")
def test_packing_falls_off_onednn_on_cpu(quick_profiles) -> None:
    layers = QUICK[6]
    packed, padded = quick_profiles["hn_index"], quick_profiles["padded_gather"]
    # An LSTM on a padded batch reaches the fused oneDNN layer once per layer and direction ...
    assert padded.ops["run"]["aten::mkldnn_rnn_layer"] == 2 * layers
    assert padded.ops["run"]["aten::addmm"] == 0
    # ... on a PackedSequence of unequal (skewed) lengths it does not: ATen's step-by-step
    # cell, a matmul per step and direction.
    assert packed.ops["run"]["aten::mkldnn_rnn_layer"] == 0
    assert packed.ops["run"]["aten::addmm"] >= 2 * layers * QUICK[3] // 2
    assert packed.total("ops") > 50 * padded.total("ops")
    # Equal lengths: the packed batch is a padded one in disguise, and oneDNN takes it.
    equal = profiles.count_ops(make_case("cpu", "lstm", 4, 8, "equal", 16, 2,
                                                     "float32", "hn_index"))
    assert equal["run"]["aten::mkldnn_rnn_layer"] == 4 and equal["run"]["aten::addmm"] == 0
    # A GRU never reaches oneDNN on CPU, padded or packed.
    gru = profiles.count_ops(make_case("cpu", "gru", 4, 8, "equal", 16, 1,
                                                   "float32", "padded_gather"))
    assert gru["run"]["aten::mkldnn_rnn_layer"] == 0 and gru["run"]["aten::addmm"] > 0


def test_cuda_only_metrics_are_none_on_cpu(quick_profiles) -> None:
    config_names = ["device", "cell", "batch", "max_len", "lengths", "hidden", "layers",
                    "dtype"]
    for prof in quick_profiles.values():
        for metric in ("kernels", "host_syncs"):
            assert getattr(prof, metric) is None and prof.total(metric) is None, metric
        assert prof.config == dict(zip(config_names, QUICK, strict=True))


def test_the_op_counter_counts_overloads() -> None:
    with profiles.OpCounter() as counter:
        torch.ones(4, 3).clone().select(0, 1)
    assert counter.ops["aten::clone"] == 1 and counter.ops["aten::select.int"] == 1


# ---------------------------------------------------------------------------------------------
# CUDA paths, on stand-ins


def _ev(name, kind, start, end, corr=0, linked=0) -> TraceEvent:
    return TraceEvent(name, kind, start, end, corr, linked)


# Ids as kineto gives them: torch ops have their own ids (counted from 1 here, as torch does);
# a runtime call and the device work it issued share a CUPTI correlation id (another counter:
# the two collide, on purpose); both point at the torch op around them through ``linked``.
STAND_IN_TRACE = [
    _ev("birnn::forward[x]", "user_annotation", 0, 100, corr=1),
    _ev("birnn::prepare", "user_annotation", 0, 30, corr=2),
    _ev("birnn::run", "user_annotation", 30, 70, corr=3),
    _ev("birnn::extract", "user_annotation", 70, 100, corr=4),
    _ev("birnn::run", "gpu_user_annotation", 200, 300),  # the device-side copy: no window
    _ev("aten::to", "cpu_op", 4, 14, corr=5),
    _ev("aten::lstm", "cpu_op", 35, 60, corr=6),
    _ev("aten::_cudnn_rnn", "cpu_op", 36, 59, corr=7),  # nested: not a call of its own
    _ev("aten::cat", "cpu_op", 62, 65, corr=8),
    _ev("aten::index_select", "cpu_op", 80, 90, corr=9),
    _ev("cudaLaunchKernel", "cuda_runtime", 5, 6, corr=1, linked=5),
    _ev("cudaMemcpyAsync", "cuda_runtime", 10, 11, corr=2, linked=5),
    _ev("cudaStreamSynchronize", "cuda_runtime", 12, 13, corr=3, linked=5),
    _ev("cudaLaunchKernel", "cuda_runtime", 40, 41, corr=4, linked=7),
    _ev("cuLaunchKernel", "cuda_driver", 50, 51, corr=5, linked=7),
    _ev("cudaLaunchKernel", "cuda_runtime", 63, 64, corr=9, linked=8),
    _ev("cudaMemcpyAsync", "cuda_runtime", 75, 76, corr=6),
    _ev("cudaStreamSynchronize", "cuda_runtime", 77, 78, corr=7),
    _ev("cudaDeviceSynchronize", "cuda_runtime", 150, 160, corr=8),  # after the forward
    _ev("fill_kernel", "kernel", 110, 120, corr=1, linked=5),
    _ev("Memcpy HtoD (Pageable -> Device)", "gpu_memcpy", 120, 121, corr=2, linked=5),
    _ev("RNN_blockPersist_fp", "kernel", 130, 160, corr=4, linked=7),
    _ev("elemWise", "kernel", 160, 170, corr=5, linked=7),  # runtime 5 (run), not op 5
    _ev("cat_kernel", "kernel", 170, 177, corr=9, linked=8),
    _ev("Memcpy DtoH (Device -> Pageable)", "gpu_memcpy", 180, 181, corr=6),
    # No runtime call recorded for it: attributed through its torch op (index_select, extract).
    _ev("indexSelectKernel", "kernel", 182, 184, corr=40, linked=9),
    _ev("orphan", "kernel", 190, 195, corr=99),  # neither: not counted
]


def test_cuda_counts_attribute_device_work_to_the_issuing_phase() -> None:
    counts = profiles.cuda_counts(STAND_IN_TRACE)
    assert counts.kernels == {"prepare": 1, "run": 3, "extract": 1}
    assert counts.host_syncs == {"prepare": 1, "run": 0, "extract": 1}


def test_a_cuda_profile_is_assembled_from_its_passes(monkeypatch) -> None:
    case = make_case("cpu", "lstm", 4, 8, "skewed", 16, 1, "float32", "packed_unpack")
    case.spec = dataclasses.replace(case.spec, device="cuda")
    case.device = "cuda"
    ops = {p: Counter({"aten::x": 2}) for p in profiles.PHASES}
    monkeypatch.setattr(profiles, "count_ops", lambda case: ops)
    monkeypatch.setattr(profiles, "_profiled_forward", lambda case: None)
    monkeypatch.setattr(profiles, "trace_events", lambda prof: STAND_IN_TRACE)
    prof = profiles.profile_case(case)
    assert prof.config["device"] == "cuda"
    assert prof.total("ops") == 6 and prof.total("kernels") == 5
    assert prof.total("host_syncs") == 2
    assert prof.per_phase("host_syncs") == {"prepare": 1, "run": 0, "extract": 1}


# ---------------------------------------------------------------------------------------------
# output


def test_chrome_trace_is_written_with_the_phase_ranges(tmp_path) -> None:
    case = make_case("cpu", "gru", 4, 8, "skewed", 16, 2, "float32", "packed_unpack")
    path = profiles.write_chrome_trace(case, tmp_path)
    assert path.parent == tmp_path and path.name == profiles.trace_name(case)
    assert path.name.startswith("packed_unpack-cpu-gru-b4-t8-skewed-h16-l2-float32")
    trace = json.loads(path.read_text())
    names = {event.get("name") for event in trace["traceEvents"]}
    assert {"birnn::prepare", "birnn::run", "birnn::extract",
            "birnn::forward[packed_unpack]", "aten::gru", "aten::_pad_packed_sequence"} <= names
    explicit = profiles.write_chrome_trace(case, tmp_path / "sub" / "one.json")
    assert json.loads(explicit.read_text())["traceEvents"]


# ---------------------------------------------------------------------------------------------
# asv


def test_cuda_only_counters_are_not_defined_on_a_cpu_build() -> None:
    from benchmarks import common
    from benchmarks import profiles as bench

    if torch.version.cuda:
        pytest.skip("a CUDA build defines the CUDA-only counters")
    assert not hasattr(bench, "CudaCounts")
    regime = "cpu-lstm-L2-B4-T8-H16-skewed-float32"
    saved = dict(common.REGIMES)
    common.REGIMES.clear()
    common.REGIMES[regime] = common.regimes.Regime.parse(regime)
    try:
        ops = bench.Profiles()
        cache = ops.setup_cache()  # every point of the (here: one) regime in this process
    finally:
        common.REGIMES.clear()
        common.REGIMES.update(saved)
    assert set(cache) == {(regime, s) for s in STRATEGIES}
    ops.setup(cache, regime, "hn_index")
    counts = profiles.count_ops(make_case("cpu", "lstm", 4, 8, "skewed", 16, 2, "float32",
                                          "hn_index"))
    assert ops.track_ops(cache, regime, "hn_index") == sum(
        sum(c.values()) for c in counts.values())
    assert ops.track_ops_extract(cache, regime, "hn_index") == sum(counts["extract"].values())


def test_smoke_asv_run_of_the_profile_benchmarks(smoke_results) -> None:
    found = list(asv_results.iter_results(str(smoke_results / "smoke-box")))
    assert len(found) == 1
    result = found[0]
    names = {k for k in result.get_all_result_keys() if k.startswith("profiles.")}
    assert names == {"profiles.Profiles.track_ops", "profiles.Profiles.track_ops_extract"}
    expected = {}
    for strategy in STRATEGIES:
        counts = profiles.count_ops(make_case("cpu", "lstm", 4, 8, "skewed", 16, 2, "float32",
                                              strategy))
        expected[strategy] = (sum(sum(c.values()) for c in counts.values()),
                              sum(counts["extract"].values()))
    for name in names:
        params = result.get_result_params(name)
        values = result.get_result_value(name, params)
        assert params[0] == ["'cpu-lstm-L2-B4-T8-H16-skewed-float32'"]
        for value, strategy in zip(values, params[1], strict=True):
            which = 1 if name.endswith("_extract") else 0
            assert value == expected[strategy.strip("'")][which], (name, strategy)
