"""From asv results to a correctness x throughput report and a production recommendation.

``load`` reads a results tree (any machines, any commits) into one tidy frame; ``summarize``
turns it into tables (pure functions, DataFrame in and out); ``plots`` draws figures;
``report`` assembles HTML and Markdown; ``cli`` is ``python -m analysis report``.
"""

from analysis.load import Loaded, Problem, load_results

__all__ = ["Loaded", "Problem", "load_results"]
