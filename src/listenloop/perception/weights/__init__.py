"""Packaged weights of the learned sound detector (see docs/models/sound-detector.md)."""
