"""listenloop: always-on audio interaction on a CPU."""

__version__ = "0.1.0"
