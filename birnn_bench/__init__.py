"""birnn-bench: the last hidden state of a bidirectional LSTM/GRU, measured and proven."""

from birnn_bench.api import last_states
from birnn_bench.strategies import STRATEGIES, Strategy
from birnn_bench.workload import WorkloadSpec, build

__version__ = "0.1.0"
__all__ = ["STRATEGIES", "Strategy", "WorkloadSpec", "__version__", "build", "last_states"]
