"""What a result depends on besides the code, as the Environment benchmark's parameter values.
On a CUDA build even ``torch.cuda.is_available()`` initialises CUDA, and asv's forkserver forks
every benchmark from this process: so a CUDA build asks a subprocess; a CPU build answers here,
pinning threads and the allocator of the importing process as every benchmark process does
(``common.pin``): what it records is then what the benchmarks ran under."""

import json
import os
import subprocess
import sys

import torch

NAMES = ["torch", "threads", "cuda", "cudnn", "gpu", "cudnn_allow_tf32", "allocator"]
_PROBE = ("import json; from birnn_bench import measure; measure.pin_threads(); "
          "getattr(measure, 'pin_allocator', str)(); "
          "measure.set_precision_flags(); print(json.dumps(measure.environment_info()))")


def _info():
    from birnn_bench import measure

    if torch.version.cuda is None:
        measure.pin_threads()
        getattr(measure, "pin_allocator", str)()  # as every benchmark process does (common.pin)
        measure.set_precision_flags()
        return measure.environment_info()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                          env=env, timeout=300)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"environment probe failed (exit {done.returncode}): {tail}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def params():
    try:
        info = _info()
    except ImportError:  # a commit that predates birnn_bench.measure
        return [["unknown"]], ["environment"]
    # "unknown": a commit older than the fact (e.g. the allocator, recorded since it is pinned)
    return [[str(info.get(name, "unknown"))] for name in NAMES], NAMES
