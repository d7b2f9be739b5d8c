"""How often could several live streams' tiny.en partial decodes share one `generate` call (issue 31, item 4)?
N sessions on one engine, fed in real time from threads as the server does (transcribe mode, no sockets); every
partial decode is logged (its audio length, start and end); a decode counts as shareable when a decode of another
stream with the same encoder length was in flight at the same time, on today's 0.4 s input grid and on coarser ones.
Usage: PYTHONPATH=src python scripts/decode_overlap.py [STREAMS] [SECONDS]"""

from __future__ import annotations

import math
import sys
import threading
import time

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.bench.corpus import asterisk_prompts, default_shared_dir, shared_speech
from listenloop.bench.latency import build_stream
from listenloop.perception.asr import PARTIAL_PAD_S
from listenloop.runtime.engine import Engine, EngineConfig
from listenloop.runtime.session import SessionOptions
from listenloop.vocabulary import Mode

BLOCK_S = 0.1  # s of audio per feed, as a microphone delivers it
GRIDS_S = (0.4, 1.2, 2.0, 3.0)  # encoder input grids compared (0.4 s: perception/whisper.py ENCODE_STEP_SAMPLES)


def main(streams: int, seconds: float) -> None:
    engine = Engine(EngineConfig())
    recognizer = engine.perception.recognizer
    decodes: list[tuple[int, float, float, int]] = []  # (samples, start, end, thread)
    lock = threading.Lock()
    decode = recognizer._decode

    def logged(audio, stable, lang="en"):
        start = time.perf_counter()
        hypothesis = decode(audio, stable, lang)
        with lock:
            decodes.append((len(audio), start, time.perf_counter(), threading.get_ident()))
        return hypothesis

    recognizer._decode = logged
    utterances = shared_speech(default_shared_dir()) + asterisk_prompts(limit=40)
    audio, _ = build_stream(utterances, max(1.0, seconds * streams / 60 / 4), seed=0)
    length, block = int(seconds * SAMPLE_RATE), int(BLOCK_S * SAMPLE_RATE)

    def listen(offset: int) -> None:
        session, start = engine.session(SessionOptions(mode=Mode.TRANSCRIBE)), time.perf_counter()
        for k, i in enumerate(range(offset, offset + length, block)):
            session.feed(audio[i : i + block])
            time.sleep(max(0.0, start + (k + 1) * BLOCK_S - time.perf_counter()))
        session.finish()

    threads = [threading.Thread(target=listen, args=(int(i * (len(audio) - length) / streams),))
               for i in range(streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.close()
    mean_ms = 1000 * sum(end - start for _, start, end, _ in decodes) / max(1, len(decodes))
    print(f"{streams} streams x {seconds:.0f} s: {len(decodes)} partial decodes, {mean_ms:.0f} ms in flight on average")
    for grid_s in GRIDS_S:
        grid = grid_s * SAMPLE_RATE
        keys = [math.ceil((n + PARTIAL_PAD_S * SAMPLE_RATE) / grid) for n, *_ in decodes]
        shared = sum(any(j != i and keys[j] == keys[i] and decodes[j][3] != d[3] and decodes[j][1] < d[2]
                         and decodes[j][2] > d[1] for j in range(len(decodes))) for i, d in enumerate(decodes))
        print(f"  {grid_s:.1f} s input grid: {100 * shared / max(1, len(decodes)):.0f} % could share a call")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 6, float(sys.argv[2]) if len(sys.argv) > 2 else 30.0)
