"""birnn-bench: the last hidden state of a bidirectional LSTM/GRU, measured and proven."""

from birnn_bench.api import last_states
from birnn_bench.function_check import FunctionCheck, check_function, compare_function
from birnn_bench.strategies import STRATEGIES, StateFunction, Strategy
from birnn_bench.workload import WorkloadSpec, build

__version__ = "0.1.0"
__all__ = ["STRATEGIES", "FunctionCheck", "StateFunction", "Strategy", "WorkloadSpec",
           "__version__", "build", "check_function", "compare_function", "last_states"]
