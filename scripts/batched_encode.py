"""What batching several streams' Whisper encodes into one CTranslate2 call would save (issue 31, item 4): CPU
seconds for N streams' 3 s segments encoded one call each against one call for all. Usage:
PYTHONPATH=src python scripts/batched_encode.py [N]"""

from __future__ import annotations

import sys
import time

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.audio.decode import load_audio
from listenloop.models.store import model_dir
from listenloop.perception.whisper import Whisper

SEGMENT_S = 3.0  # s; a typical partial's segment
REPEATS = 5  # calls timed per way, after one warm-up


def main(streams: int) -> None:
    jfk = load_audio("../shared/audio/dev/speech/jfk.flac")
    for name in ("whisper-tiny.en", "whisper-base"):
        model = Whisper(model_dir(name))
        segments = [jfk[int(i * 0.5 * SAMPLE_RATE):][: int(SEGMENT_S * SAMPLE_RATE)] for i in range(streams)]
        feats = [model.features(s)[:, :-1] for s in segments]
        feats = [f[:, : f.shape[1] // 2 * 2] for f in feats]
        one = [model._ct2.StorageView.from_array(np.ascontiguousarray(f[None], np.float32)) for f in feats]
        batch = model._ct2.StorageView.from_array(np.ascontiguousarray(np.stack(feats), np.float32))
        encode = model.model.encode
        for way, run in (("one call per stream", lambda e=encode, o=one: [e(v) for v in o]),
                         (f"one call for {streams}", lambda e=encode, b=batch: e(b))):
            run()
            c, w = time.process_time(), time.perf_counter()
            for _ in range(REPEATS):
                run()
            print(f"{name} encode, {streams} streams x {SEGMENT_S:.0f} s, {way}: "
                  f"{(time.process_time() - c) / REPEATS * 1000:.0f} CPU ms, "
                  f"{(time.perf_counter() - w) / REPEATS * 1000:.0f} ms wall")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8)
