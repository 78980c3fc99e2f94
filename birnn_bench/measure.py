"""How things are measured: pinned threads and allocator, CUDA-synchronised clocks,
deterministic peak bytes. Timings come from the paired engine (``birnn_bench.compare``) or from
asv."""

from __future__ import annotations

import ctypes
import os
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile

THREADS_ENV = "BIRNN_BENCH_THREADS"
DEFAULT_THREADS = 1  # one thread: stable on shared 2-core machines; override with the env var


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def pin_threads(threads: int | None = None) -> int:
    """Pins torch's intra-op thread count (argument, else $BIRNN_BENCH_THREADS, else 1)."""
    source = "threads"
    if threads is None:
        source, text = THREADS_ENV, os.environ.get(THREADS_ENV, str(DEFAULT_THREADS))
        try:
            threads = int(text)
        except ValueError:
            raise ValueError(f"{THREADS_ENV}: expected an integer, got {text!r}") from None
    usable = _usable_cpus()
    if not 1 <= threads <= usable:  # torch.set_num_threads(100000) crashes the process
        raise ValueError(f"{source}: expected an integer from 1 to {usable} (the CPUs this "
                         f"process may run on), got {threads}")
    torch.set_num_threads(threads)
    return threads


#: glibc's ``mallopt`` parameters (malloc.h) and the values ``pin_allocator`` sets: blocks up to
#: 32 MiB (the ceiling of glibc's own moving threshold) from the heap, the heap never trimmed,
#: grown 256 MiB at a time.
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
ALLOCATOR_SETTINGS = {_M_MMAP_THRESHOLD: 32 * 2**20, _M_TRIM_THRESHOLD: 2**31 - 1,
                      _M_TOP_PAD: 256 * 2**20}
ALLOCATOR_PINNED = "glibc mallopt: mmap threshold 32 MiB, no trim, top pad 256 MiB"
_allocator = {"state": "process default"}  # what this process's allocator runs under


def pin_allocator() -> str:
    """Fixes glibc malloc's thresholds for the rest of the process and returns what is in force
    (``environment_info`` records it). By default glibc moves its mmap threshold as blocks are
    freed, so whether a tensor's buffer is a fresh mmap (page faults on every call) or reused
    heap depends on the process's history: the same training-step ratio came out 0.99-1.09
    (manual_two_rnn) and 1.06-1.18 (chunk_view) over 12 processes, and within 2% over 12 with
    the thresholds fixed. Only for processes that exist to measure (the asv benchmarks, the
    CLI's timing commands): glibc has no way back, so library calls leave it alone. Elsewhere
    (no glibc) nothing changes and the default is recorded."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # no C library by that name, or not glibc
        return _allocator["state"]
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    taken = [mallopt(option, value) == 1 for option, value in ALLOCATOR_SETTINGS.items()]
    if all(taken):
        _allocator["state"] = ALLOCATOR_PINNED
    elif any(taken):  # some took effect (one alone stops glibc's moving threshold): say so
        _allocator["state"] = f"partly pinned ({sum(taken)} of {len(taken)} mallopt settings)"
    return _allocator["state"]


def allocator() -> str:
    """What this process's allocator runs under (``pin_allocator``)."""
    return _allocator["state"]


def set_precision_flags() -> None:
    """float32 means IEEE float32 everywhere in the suite: TF32 off for cuDNN and matmuls."""
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False


def synchronize(device: str | torch.device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def synchronized_timer() -> float:
    """A clock for asv: waits for queued CUDA work before reading perf_counter."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()
    return time.perf_counter()


def peak_bytes(fn: Callable[[], Any], device: str | torch.device = "cpu") -> int:
    """Peak bytes allocated by one call of ``fn`` above what was live before it (its result counts
    only while alive: it is dropped inside the measurement)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    # CPU: the running sum of the profiler's allocator events (oneDNN scratch included) is exact
    # and repeats from run to run, unlike the RSS high-water mark.
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = prof.profiler.kineto_results.events()  # type: ignore[union-attr]
    live = peak = 0
    for _, nbytes in sorted((e.start_ns(), e.nbytes()) for e in events if e.name() == "[memory]"):
        live += nbytes
        peak = max(peak, live)
    return peak


def environment_info() -> dict[str, str | int | bool]:
    """What a result depends on besides the code: recorded next to every measurement."""
    from birnn_bench import hardware  # the facts that change the answer (CPU, oneDNN, GPU)

    cudnn = torch.backends.cudnn
    facts = hardware.facts("cuda" if torch.cuda.is_available() else "cpu")
    return {
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "allocator": allocator(),
        "python": platform.python_version(), **facts,
        "machine": hardware.machine_name(facts),
        "cuda": torch.version.cuda or "none",
        "cudnn": str(cudnn.version()) if cudnn.is_available() else "none",
        "cudnn_allow_tf32": cudnn.allow_tf32,
        "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
    }


@contextmanager
def pinned(threads: int | None = None) -> Iterator[int]:
    """Threads pinned (argument, else $BIRNN_BENCH_THREADS, else 1) and TF32 off for the block,
    the previous settings restored after it; yields the thread count in force. (Unpinned runs
    showed 100x outliers; two threads on a busy 2-core box made the check 10-15x slower.)"""
    before = (torch.get_num_threads(), torch.backends.cudnn.allow_tf32,
              torch.backends.cuda.matmul.allow_tf32)
    try:
        count = pin_threads(threads)
        set_precision_flags()
        yield count
    finally:
        torch.set_num_threads(before[0])
        torch.backends.cudnn.allow_tf32 = before[1]
        torch.backends.cuda.matmul.allow_tf32 = before[2]
