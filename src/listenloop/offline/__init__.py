"""The offline core below training and the benchmarks: the observation cache and the scorer of responses."""
