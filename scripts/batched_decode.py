"""What batching several streams' Whisper decodes into one CTranslate2 `generate` would save (issue 31, item 4), and
the condition it needs: wall ms per stream of N prompts decoded in one call against one call each (one thread, the
engine's setting), and whether the texts match when the prompts differ in length. Usage:
PYTHONPATH=src python scripts/batched_decode.py [N]"""

from __future__ import annotations

import sys
import time

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.audio.decode import load_audio
from listenloop.models.store import model_dir
from listenloop.perception.whisper import Whisper

SEGMENT_S = 4.0  # s of speech per stream (a partial's segment), zero-padded by 1 s as partials are
MAX_LENGTH = 40  # tokens generated at most per prompt
REPEATS = 5  # calls timed per way, after one warm-up


def timed(call) -> float:
    call()
    start = time.perf_counter()
    for _ in range(REPEATS):
        call()
    return (time.perf_counter() - start) / REPEATS * 1000.0


def main(streams: int) -> None:
    speech = "../shared/audio/dev/speech"
    clips = [load_audio(f"{speech}/jfk.flac"), load_audio(f"{speech}/198-209-0000.ogg")]
    for name in ("whisper-tiny.en", "whisper-base"):
        measure(Whisper(model_dir(name), threads=1), name, streams, clips)


def measure(model: Whisper, name: str, streams: int, clips: list[np.ndarray]) -> None:
    audio = [np.pad(clips[i % 2][: int(SEGMENT_S * SAMPLE_RATE)], (0, SAMPLE_RATE)) for i in range(streams)]
    encoded = [np.asarray(model.encode(a)) for a in audio]
    tok = model.tokenizer("transcribe", "en")
    prompt = [*tok.sot_sequence, tok.no_timestamps]
    options = {"beam_size": 1, "max_length": MAX_LENGTH, "return_scores": True, "return_no_speech_prob": True,
               "suppress_blank": True, "suppress_tokens": [-1]}
    views = [model._ct2.StorageView.from_array(e) for e in encoded]
    batch = model._ct2.StorageView.from_array(np.ascontiguousarray(np.concatenate(encoded)))
    one_each = timed(lambda: [model.model.generate(v, [prompt], **options) for v in views]) / streams
    together = timed(lambda: model.model.generate(batch, [prompt] * streams, **options)) / streams
    print(f"{name}: {streams} prompts of one length, ms per stream: one call each {one_each:.1f}, one call "
          f"for all {together:.1f} ({together / one_each:.2f}x)")
    for label, prompts in (("same length", [prompt + list(model.encode_prefix("And"))] * streams),
                           ("different lengths", [prompt + list(model.encode_prefix("And so" if i % 2 else ""))
                                                  for i in range(streams)])):
        pairs = zip(views, prompts, strict=True)
        alone = [model.model.generate(v, [p], **options)[0].sequences_ids[0] for v, p in pairs]
        joint = [r.sequences_ids[0] for r in model.model.generate(batch, prompts, **options)]
        same = sum(a == b for a, b in zip(alone, joint, strict=True))
        print(f"  prompts of {label}: {same} of {streams} decodes the same in one call as alone")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8)
