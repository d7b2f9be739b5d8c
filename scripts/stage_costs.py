"""CPU seconds per audio second of perception (VAD + Whisper + YAMNet, all chunks) and of one answer (qwen2.5-0.5b),
for docs/benchmarks/scaling.md. Usage: PYTHONPATH=src python scripts/stage_costs.py AUDIO..."""

from __future__ import annotations

import sys
import time

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.audio.decode import load_audio
from listenloop.perception.offline import build_perception, observe
from listenloop.respond.llm import ChatMessage, Role, load_backend


def main(paths: list[str]) -> None:
    perception = build_perception(asr=True, sounds=True)
    audio_s = cpu = wall = 0.0
    for path in paths:
        audio = load_audio(path)
        c, w = time.process_time(), time.perf_counter()
        observe(perception, audio)
        cpu, wall = cpu + time.process_time() - c, wall + time.perf_counter() - w
        audio_s += len(audio) / SAMPLE_RATE
    print(f"perception: {audio_s:.1f} s of audio, {cpu:.1f} CPU s, {wall:.1f} s wall -> "
          f"{cpu / audio_s:.3f} CPU s per audio s")
    llm = load_backend("qwen2.5-0.5b")
    question = [ChatMessage(Role.USER, "What is the capital of France, and what river runs through it?")]
    list(llm.stream(question))  # warm: the first call pays for loading
    c, w = time.process_time(), time.perf_counter()
    text = "".join(llm.stream(question))
    print(f"one answer ({len(text.split())} words): {time.process_time() - c:.2f} CPU s, "
          f"{time.perf_counter() - w:.2f} s wall")


if __name__ == "__main__":
    main(sys.argv[1:])
