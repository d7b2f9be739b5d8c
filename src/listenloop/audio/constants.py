"""Stream constants, defined once, with units. Everything else derives from these."""

SAMPLE_RATE = 16_000  # Hz, mono float32 in [-1, 1] inside the engine
CHUNK_SECONDS = 0.4  # s, one decision per chunk (the reference system's rate, 2.5 Hz)
SAMPLES_PER_CHUNK = SAMPLE_RATE * 2 // 5  # 6400 samples = 0.4 s
CHUNK_MS = SAMPLES_PER_CHUNK * 1000 // SAMPLE_RATE  # 400 ms

PCM16_BYTES_PER_SAMPLE = 2  # wire format: little-endian signed 16-bit
PCM16_FULL_SCALE = 32768.0  # int16 -> float32 divisor

VAD_WINDOW_SAMPLES = 512  # silero VAD window at 16 kHz (32 ms)
VAD_WINDOW_SECONDS = VAD_WINDOW_SAMPLES / SAMPLE_RATE  # 0.032 s


def chunk_end_time(index: int) -> float:
    """Stream time (s) at the end of chunk ``index`` (0-based)."""
    return (index + 1) * SAMPLES_PER_CHUNK / SAMPLE_RATE


def samples_to_seconds(n: int) -> float:
    return n / SAMPLE_RATE
