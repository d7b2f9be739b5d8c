"""The learned decision model: its inputs (features.py), the network (learned.py) and its place in the conversation
as clock or judge (timing.py); the shipped weights in weights/."""
