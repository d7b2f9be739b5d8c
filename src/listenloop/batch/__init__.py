"""`listenloop batch`: the events of every file of an archive, on local processes or Ray actors, resumable."""
