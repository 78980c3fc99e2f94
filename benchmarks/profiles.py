"""asv benchmarks: deterministic profile counts of one inference forward (``track_`` only).

Same grid points as ``strategies.py``; every figure comes from ``birnn_bench.profiles``. The
counts repeat exactly, so any change on the dashboard is a change in what the code launches:

* ``Profiles``: ATen ops the dispatcher runs (all phases; the extract phase alone), CPU and CUDA;
* ``Kernels`` / ``HostSyncs``: CUDA kernels that ran, host-blocking CUDA calls; defined only where
  CUDA regimes are (a CPU machine shows no empty CUDA tiles), over the CUDA regimes only.

The rnn time share is a timing and is deliberately not tracked here.
"""

from .common import PARAMS, REGIMES, Case

try:
    from birnn_bench import profiles as _profiles
except ImportError:  # a commit that predates the profiles: its points are n/a
    _profiles = None

# One grid point per process at a time, like common._case_for: asv calls setup per point.
_COUNTS = {}
_PROFILES = {}


def _require_profiles():
    if _profiles is None:
        raise NotImplementedError("this commit predates birnn_bench.profiles")


class Profiles(Case):
    """ATen ops of one forward, counted at the dispatcher (below autograd and composite ops)."""

    unit = "ops"

    def setup(self, *params):
        _require_profiles()
        super().setup(*params)
        if params not in _COUNTS:
            _COUNTS.clear()
            _COUNTS[params] = _profiles.count_ops(self.case)
        self.ops = _COUNTS[params]

    def track_ops(self, *params):
        return sum(sum(counts.values()) for counts in self.ops.values())

    def track_ops_extract(self, *params):
        return sum(self.ops["extract"].values())


_CUDA_REGIMES = [r for r in REGIMES if REGIMES[r].device == "cuda"]
_CUDA_PARAMS = [_CUDA_REGIMES, PARAMS[1]]

if _CUDA_REGIMES:

    class _CudaProfile(Case):
        params = _CUDA_PARAMS

        def setup(self, *params):
            _require_profiles()
            super().setup(*params)
            if params not in _PROFILES:
                _PROFILES.clear()
                _PROFILES[params] = _profiles.profile_case(self.case)
            self.profile = _PROFILES[params]

    class Kernels(_CudaProfile):
        """CUDA kernels that ran during one forward (torch.profiler device activities)."""

        unit = "kernels"

        def track_kernels(self, *params):
            return self.profile.total("kernels")

    class HostSyncs(_CudaProfile):
        """CUDA calls that blocked the host during one forward (stream / device / event
        synchronise, synchronous memcpy), from torch.profiler's runtime events."""

        unit = "syncs"

        def track_host_syncs(self, *params):
            return self.profile.total("host_syncs")
