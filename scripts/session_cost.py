"""What one live session costs: the bench server's speech stream (bench/latency.py build_stream, real recordings and
Debian's asterisk prompts) fed to one engine session in 0.1 s blocks at real time, as a microphone delivers it; the
process's CPU seconds per audio second, and the language model's calls (the background prefill of an assistant
session included). Usage: PYTHONPATH=src python scripts/session_cost.py MODE [SECONDS]   (MODE: assistant,
transcribe, ...; issue 31, docs/benchmarks/scaling.md)"""

from __future__ import annotations

import sys
import time

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.bench.corpus import asterisk_prompts, default_shared_dir, shared_speech
from listenloop.bench.latency import build_stream
from listenloop.runtime.engine import Engine, EngineConfig
from listenloop.runtime.session import SessionOptions
from listenloop.vocabulary import Mode
from stream_cost import calls, seconds, timed  # scripts/: the same wrapper and tallies

BLOCK_SAMPLES = SAMPLE_RATE // 10  # 0.1 s blocks, as a microphone delivers them
WARM_S = 1.0  # s after loading before the stream starts: the engine's own warm-up work is not counted


def main(mode: Mode, audio_s: float) -> None:
    engine = Engine(EngineConfig())
    audio, _ = build_stream(shared_speech(default_shared_dir()) + asterisk_prompts(limit=40), audio_s / 60, seed=0)
    audio = audio[: int(audio_s * SAMPLE_RATE)]
    if mode is not Mode.TRANSCRIBE:
        llm = engine.llm()
        timed(llm, "prefill", "language model prefill")
        timed(llm, "stream", "language model answer")
    time.sleep(WARM_S)
    session = engine.session(SessionOptions(mode=mode))
    cpu, start = time.process_time(), time.perf_counter()
    for k, i in enumerate(range(0, len(audio), BLOCK_SAMPLES)):
        session.feed(audio[i : i + BLOCK_SAMPLES])
        time.sleep(max(0.0, start + (k + 1) * BLOCK_SAMPLES / SAMPLE_RATE - time.perf_counter()))
    events = session.finish()
    cpu = time.process_time() - cpu
    responses = [e for e in events if getattr(e, "type", "") == "response"]
    print(f"{mode.value}: {len(audio) / SAMPLE_RATE:.1f} s of audio at real time, {cpu:.1f} CPU s "
          f"({cpu / (len(audio) / SAMPLE_RATE):.3f} per audio s), {len(responses)} responses")
    for label in sorted(seconds, key=seconds.get, reverse=True):
        print(f"{label:28s} {calls[label]:5d} calls {1000 * seconds[label] / calls[label]:7.1f} ms each "
              f"{seconds[label]:6.1f} s in all")
    engine.close()


if __name__ == "__main__":
    main(Mode(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 60.0)
