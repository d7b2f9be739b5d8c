"""Partial decodes by language: tiny.en against Whisper base on real speech of growing length, best of N.

What one chunk pays for a partial (docs/benchmarks/languages.md): tiny.en on English, tiny.en on French (what a
non-English segment got before: English gibberish), Whisper base on French (with and without the agreed prefix
forced), and identifying a segment's language on its first second. Real speech: Debian's asterisk prompts.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.bench.corpus import asterisk_prompts, asterisk_prompts_in

LENGTHS_S = (1, 2, 4, 6, 8)  # s of speech decoded (segments are cut at 8 s)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=5, help="best of this many decodes per figure")
    parser.add_argument("--language", default="fr", choices=("fr", "es"), help="the non-English speech")


def _best(fn: Callable[[], object], repeats: int) -> float:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return min(out)


def run(args: argparse.Namespace) -> int:
    from listenloop.perception.asr import LANG_DETECT_S, Recognizer

    other, english = asterisk_prompts_in(args.language, 12), asterisk_prompts(12, min_words=6)
    if not other or not english:
        print(f"bench partials: needs asterisk-core-sounds-en-wav and asterisk-core-sounds-{args.language}-wav")
        return 2
    rec = Recognizer()
    speech = {lang: np.concatenate([u.audio for u in utts]) for lang, utts in (("en", english), ("x", other))}
    first = speech["x"][: int(LANG_DETECT_S * SAMPLE_RATE)]
    print(f"load average {os.getloadavg()[0]:.1f}; best of {args.repeats}", flush=True)
    ident = _best(lambda: rec.base.detect_language(rec.base.encode(first), rec.languages), args.repeats)
    print(f"language identification on {LANG_DETECT_S:.0f} s: {ident:.0f} ms", flush=True)
    for seconds in LENGTHS_S:
        e, x = (speech[k][: int(seconds * SAMPLE_RATE)] for k in ("en", "x"))
        hyp = rec._decode(x, "", args.language)  # noqa: SLF001 - the partial decode the chunk loop runs
        stable = " ".join(hyp.text.split()[:-2])
        runs = ((e, "", "en"), (x, "", "en"), (x, "", args.language), (x, stable, args.language))
        figures = [_best(lambda a=a, p=p, lang=lang: rec._decode(a, p, lang), args.repeats)  # noqa: SLF001
                   for a, p, lang in runs]
        print(f"{seconds} s: tiny.en on English {figures[0]:.0f} ms | tiny.en on {args.language} {figures[1]:.0f} ms"
              f" | base on {args.language} {figures[2]:.0f} ms, agreed prefix forced {figures[3]:.0f} ms | "
              f"{hyp.text[:50]!r}", flush=True)
    rec.close()
    return 0
