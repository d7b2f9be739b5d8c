"""Audio in: decoding any file, live sources, and the 0.4 s chunker."""
