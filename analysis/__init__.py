"""From asv results to a correctness x throughput report and a production recommendation."""
