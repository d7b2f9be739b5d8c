"""Where one live stream's perception time goes, model by model: the bench server's speech stream (bench/latency.py
build_stream) through Perception.step chunk by chunk, as a session feeds it; wall ms inside each call (finals run on
their worker beside the loop, so their calls count in full) and the process's CPU per audio second (issue 31,
docs/benchmarks/scaling.md). Usage: PYTHONPATH=src python scripts/stream_cost.py [MINUTES] [--pauses-only]
(--pauses-only: partials at pauses only, as a live stream gets them while the machine is behind, runtime/load.py)"""

from __future__ import annotations

import collections
import sys
import time

from listenloop.audio.chunker import Chunker
from listenloop.audio.constants import SAMPLE_RATE
from listenloop.bench.corpus import asterisk_prompts, default_shared_dir, shared_speech
from listenloop.bench.latency import build_stream
from listenloop.perception.offline import build_perception

BLOCK_SAMPLES = SAMPLE_RATE // 10  # 0.1 s blocks, as a microphone delivers them

seconds: dict[str, float] = collections.defaultdict(float)
calls: collections.Counter[str] = collections.Counter()


def timed(owner, method: str, label: str) -> None:
    """Replace owner.method by a wrapper that adds its wall time to `seconds[label]`."""
    original = getattr(owner, method)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            seconds[label] += time.perf_counter() - start
            calls[label] += 1

    setattr(owner, method, wrapper)


def main(minutes: float, pauses_only: bool = False) -> None:
    perception = build_perception(asr=True, sounds=True)
    recognizer = perception.recognizer
    timed(perception.vad, "step", "Silero VAD")
    timed(perception.tagger, "step", "YAMNet (a chunk's patches)")
    timed(recognizer.tiny, "encode", "tiny.en encode")
    timed(recognizer.tiny, "decode", "tiny.en decode")
    timed(recognizer.base, "encode", "base encode")
    timed(recognizer.base, "decode", "base decode")
    timed(recognizer.base, "detect_language", "base language id")
    audio, _ = build_stream(shared_speech(default_shared_dir()) + asterisk_prompts(limit=40), minutes, seed=0)
    state, chunker = perception.init_state(), Chunker()
    state.asr.pauses_only = pauses_only
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(0, len(audio), BLOCK_SAMPLES):
        for chunk in chunker.push(audio[i : i + BLOCK_SAMPLES]):
            perception.step(chunk, state)
    for pool in (recognizer._executor, recognizer._ahead):  # the finals and partials still running count too
        pool.shutdown(wait=True)
    cpu = time.process_time() - cpu
    audio_s = len(audio) / SAMPLE_RATE
    print(f"{audio_s:.1f} s of audio, {chunker.chunks_emitted} chunks: {cpu:.1f} CPU s ({cpu / audio_s:.3f} per audio "
          f"s), {time.perf_counter() - wall:.1f} s wall")
    for label in sorted(seconds, key=seconds.get, reverse=True):
        print(f"{label:28s} {calls[label]:5d} calls {1000 * seconds[label] / calls[label]:7.1f} ms each "
              f"{seconds[label] / audio_s:.3f} s per audio s")


if __name__ == "__main__":
    numbers = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(float(numbers[0]) if numbers else 1.0, "--pauses-only" in sys.argv[1:])
