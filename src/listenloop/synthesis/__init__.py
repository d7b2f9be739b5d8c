"""Speech synthesized on the spot (piper's packaged voice, espeak-ng): the speaker's voice and the builder's talkers."""
