"""From asv results to a correctness x throughput report and a production recommendation."""

from analysis.load import Loaded, Problem, load_results

__all__ = ["Loaded", "Problem", "load_results"]
