"""asv benchmarks: exact profile counts of one inference forward (``birnn_bench.profiles``): a
change on the dashboard is a change in what the code launches. ``CudaCounts`` is defined only
where CUDA regimes are (a CPU machine shows no empty CUDA tiles)."""

from .common import PARAMS, REGIMES, Bulk, measure_all

try:
    from birnn_bench import profiles as _profiles
except ImportError:  # a commit that predates the profiles: its points are n/a
    _profiles = None


def _op_totals(case):
    counts = _profiles.count_ops(case)
    return (sum(sum(phase.values()) for phase in counts.values()),
            sum(counts["extract"].values()))


class Profiles(Bulk):
    """ATen ops of one forward, counted at the dispatcher (below autograd and composite ops)."""

    unit = "ops"

    def setup_cache(self):
        return measure_all("op counts", _op_totals) if _profiles is not None else None

    setup_cache.timeout = 3600

    def track_ops(self, cache, regime, strategy):
        return cache[(regime, strategy)][0]

    def track_ops_extract(self, cache, regime, strategy):
        return cache[(regime, strategy)][1]


def _cuda_counts(case):
    profile = _profiles.profile_case(case)
    return profile.total("kernels"), profile.total("host_syncs")


_CUDA_REGIMES = [r for r in REGIMES if REGIMES[r].device == "cuda"]
_CUDA_PARAMS = [_CUDA_REGIMES, PARAMS[1]]

if _CUDA_REGIMES:

    class CudaCounts(Bulk):
        """CUDA kernels that ran during one forward and CUDA calls that blocked the host."""

        params = _CUDA_PARAMS

        def setup_cache(self):
            if _profiles is None:
                return None
            return {key: value for key, value in measure_all("CUDA counts", _cuda_counts).items()
                    if key[0] in _CUDA_REGIMES}

        setup_cache.timeout = 3600

        def track_kernels(self, cache, regime, strategy):
            return cache[(regime, strategy)][0]

        track_kernels.unit = "kernels"

        def track_host_syncs(self, cache, regime, strategy):
            return cache[(regime, strategy)][1]

        track_host_syncs.unit = "syncs"
