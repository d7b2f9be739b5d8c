"""Scale-out: the same work on local processes or on Ray actors (the `listenloop[ray]` extra), and its metrics."""
