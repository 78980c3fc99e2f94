"""measure and BenchCase: the CUDA paths as far as a CPU allows, threads, precision flags."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest
import torch

from benchmarks import common
from birnn_bench import bench, measure
from tests.conftest import make_case


def test_pin_threads_reads_the_env_and_rejects_nonsense(monkeypatch) -> None:
    before = torch.get_num_threads()
    try:
        usable = len(os.sched_getaffinity(0))
        monkeypatch.setenv(measure.THREADS_ENV, str(usable))
        assert measure.pin_threads() == usable and torch.get_num_threads() == usable
        monkeypatch.setenv(measure.THREADS_ENV, "many")
        with pytest.raises(ValueError, match="BIRNN_BENCH_THREADS: expected an integer"):
            measure.pin_threads()
        with pytest.raises(ValueError, match=f"threads: expected an integer from 1 to {usable}"):
            measure.pin_threads(0)
        # more threads than CPUs: refused, not handed to torch (100000 crashed the process)
        monkeypatch.setenv(measure.THREADS_ENV, "100000")
        with pytest.raises(ValueError, match=f"BIRNN_BENCH_THREADS: expected an integer from 1 "
                                             f"to {usable} .*got 100000"):
            measure.pin_threads()
        with pytest.raises(ValueError, match=f"got {usable + 1}$"):
            measure.pin_threads(usable + 1)
    finally:
        torch.set_num_threads(before)


def test_building_a_case_leaves_global_state_alone() -> None:
    before = (torch.get_num_threads(), torch.backends.cudnn.allow_tf32)
    make_case("cpu", "gru", 4, 8, "skewed", 16, 1, "float32", "hn_index")
    assert (torch.get_num_threads(), torch.backends.cudnn.allow_tf32) == before


def test_pinned_sets_threads_and_tf32_then_restores(monkeypatch) -> None:
    monkeypatch.delenv(measure.THREADS_ENV, raising=False)
    before = (torch.get_num_threads(), torch.backends.cudnn.allow_tf32,
              torch.backends.cuda.matmul.allow_tf32)
    with measure.pinned() as threads:
        assert threads == 1 and torch.get_num_threads() == 1
        assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
        info = measure.environment_info()
        assert info["threads"] == 1 and info["torch"] == torch.__version__
        assert info["cudnn_allow_tf32"] is False
        # The hardware facts the answer depends on (recommend --json records them), not "x86_64".
        from birnn_bench import hardware

        assert {k: info[k] for k in hardware.facts()} == hardware.facts()
        assert info["cpu"] == hardware.cpu_model() and info["cpu_capability"]
        assert info["machine"] == hardware.machine_name(hardware.facts())
    assert (torch.get_num_threads(), torch.backends.cudnn.allow_tf32,
            torch.backends.cuda.matmul.allow_tf32) == before


def test_every_operation_runs_and_extract_equals_forward() -> None:
    case = make_case("cpu", "lstm", 5, 9, "skewed", 12, 2, "float32", "packed_unpack")
    fwd, bwd = case.forward()
    case.prepare_extract()
    efwd, ebwd = case.extract()
    assert torch.equal(fwd, efwd) and torch.equal(bwd, ebwd)
    case.train_step()
    assert not case.rnn.training  # train_step leaves the module as it found it
    assert all(p.grad is not None for p in case.rnn.parameters())
    assert case.max_abs_error() < 1e-4
    assert case.peak_bytes() > 0


def test_unknown_strategy_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="strategy: expected one of"):
        make_case("cpu", "lstm", 4, 8, "equal", 16, 1, "float32", "nope")


def test_cuda_out_of_memory_is_a_logged_skip(monkeypatch, capsys) -> None:
    def exhausted(spec):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 9.00 GiB")

    monkeypatch.setattr(bench, "build", exhausted)
    regime = "cpu-lstm-L1-B4-T8-H16-equal-float32"
    monkeypatch.setitem(common.REGIMES, regime, common.regimes.Regime.parse(regime))
    common._CACHE.clear()
    with pytest.raises(NotImplementedError, match="CUDA out of memory"):
        common.case_for(regime, "hn_index")
    assert "Tried to allocate 9.00 GiB" in capsys.readouterr().err


def test_cuda_peak_bytes_arithmetic(monkeypatch) -> None:
    """The allocator path, with torch.cuda's counters stood in for (no GPU here)."""
    state = {"allocated": 1000, "peak": 1000, "synced": 0}

    def fake_call() -> None:
        state["peak"] = max(state["peak"], state["allocated"] + 4096)

    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: state.update(
        synced=state["synced"] + 1))
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats",
                        lambda device=None: state.update(peak=state["allocated"]))
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: state["allocated"])
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: state["peak"])
    assert measure.peak_bytes(fake_call, "cuda") == 4096
    assert state["synced"] == 2  # before and after the call


def test_synchronized_timer_without_cuda_is_perf_counter() -> None:
    first = measure.synchronized_timer()
    second = measure.synchronized_timer()
    assert second >= first


def test_pin_allocator_fixes_glibc_thresholds_and_is_recorded(monkeypatch) -> None:
    """In a fresh process (glibc has no way back): the benchmarks' pin() fixes malloc's
    thresholds and environment_info records it; where there is no mallopt nothing changes and
    the default is recorded."""
    probe = ("import json; from benchmarks import common; from birnn_bench import measure; "
             "before = measure.environment_info()['allocator']; common.pin(); "
             "print(json.dumps([before, measure.environment_info()['allocator']]))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    before, after = json.loads(done.stdout.strip().splitlines()[-1])
    assert before == "process default"
    if platform.libc_ver()[0] == "glibc":
        assert after == measure.ALLOCATOR_PINNED
    # No C library with mallopt (macOS, Windows, musl's stub): nothing set, default recorded.
    monkeypatch.setattr(measure, "_allocator", {"state": "process default"})
    monkeypatch.setattr(measure.ctypes, "CDLL", lambda name: object())
    assert measure.pin_allocator() == "process default" == measure.allocator()


class _Mallopt:
    """A C library's mallopt answering 1 (taken) or 0 (refused) in turn."""

    def __init__(self, answers: list[int]) -> None:
        self.answers, self.calls = iter(answers), []

    def __call__(self, option: int, value: int) -> int:
        self.calls.append(option)
        return next(self.answers)


def test_pin_allocator_says_when_only_some_settings_took(monkeypatch) -> None:
    """Every setting is tried; one refused among them is recorded as a partial pin, never as
    the default (one threshold alone already stops glibc's moving threshold)."""
    from types import SimpleNamespace

    for answers, state in (([1, 0, 1], "partly pinned (2 of 3 mallopt settings)"),
                           ([1, 1, 1], measure.ALLOCATOR_PINNED),
                           ([0, 0, 0], "process default")):
        mallopt = _Mallopt(answers)
        monkeypatch.setattr(measure, "_allocator", {"state": "process default"})
        monkeypatch.setattr(measure.ctypes, "CDLL", lambda name, m=mallopt: SimpleNamespace(
            mallopt=m))
        assert measure.pin_allocator() == state == measure.environment_info()["allocator"]
        assert mallopt.calls == list(measure.ALLOCATOR_SETTINGS)
