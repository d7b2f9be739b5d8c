"""Whisper on CTranslate2 without the 30 s padding: features of the real audio, encode, generate, gate.

`WhisperModel.transcribe()` pads every call to 30 s; encoding only the real length costs a fraction of that and is
what makes a hypothesis every chunk affordable on two cores. One loaded model is thread-safe and serves all streams.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.perception.agreement import loop_start, trim_loop
from listenloop.perception.observation import Confidence

WHISPER_WINDOW_SAMPLES = 30 * SAMPLE_RATE  # the model's trained window, 30 s
MIN_DECODE_SAMPLES = SAMPLE_RATE // 10  # 0.1 s; shorter audio is not worth a decode (and breaks the STFT)
ENCODE_STEP_SAMPLES = 2 * SAMPLE_RATE // 5  # 0.4 s: encoder inputs are zero-padded to a multiple of this, so the
# backend meets a bounded set of input shapes (each new shape grew its caches: resident memory rose for 20+ min)
MAX_NEW_TOKENS = 160  # tokens; ~30 s of fast speech, bounds a runaway (looping) decode
TOKENS_PER_SECOND = 6  # generous speech rate (~4 words/s); caps tokens by audio length, so a loop stays short
MIN_TOKEN_BUDGET = 8  # tokens allowed however short the audio
MAX_PREVIOUS_TOKENS = 64  # tokens of earlier text given as context (<|startofprev|>); Whisper itself allows 223
BYTE_TOKENS = 256  # a byte-level BPE vocabulary starts with one token per byte; token 256 is its first merge
COMPUTE_TYPE = "int8"  # same words as float32 on jfk/198-209 here, 2-4x faster encode on this CPU

NO_SPEECH_MAX = 0.6  # Whisper's own rule: no_speech_prob above this ...
LOGPROB_FLOOR = -1.0  # ... together with avg logprob below this means "no speech"
COMPRESSION_MAX = 2.4  # gzip ratio above this is a repetition loop (Whisper's threshold)
LANG_MIN_PROB = 0.5  # below this, language identification is a guess (see detect_language)
LOOP_REJECT_TOKENS = 3  # a decode that is one cycle of this many tokens or fewer, repeated, is a hallucination
LOGPROB_REJECT = -1.5  # avg logprob below this alone: the text is a guess, not a transcript
PUNCTUATION = frozenset(".,?!;:")  # tokens made of these alone ("?", "...") close or pause a text, adding no word
WORD_START = "\u0120"  # "Ġ": how the byte-level vocabulary writes the space that begins a word
DOUBT_NO_SPEECH = 0.3  # a no_speech_prob above this ...
DOUBT_LOGPROB = -1.0  # ... with avg logprob below this: an unsure word on a cough or a click ("Good.", "Who?")


@dataclass(frozen=True)
class Hypothesis:
    """One decode of one piece of audio."""

    text: str  # stripped text, "" when gated as no speech
    raw_text: str  # what the decoder produced before gating
    tokens: tuple[int, ...]  # generated token ids (without the forced prefix)
    avg_logprob: float  # per token, as Whisper computes it
    no_speech_prob: float  # probability of <|nospeech|> at the first step
    compression_ratio: float  # gzip ratio of the text
    lang: str | None = None  # ISO 639-1 code used for decoding
    lang_prob: float = 0.0  # probability of that language (1.0 when given)
    rejected: str = ""  # why the text was gated ("" when kept)
    confidence: Confidence = Confidence()  # of the text's tokens (forced prefix included)


def compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def confidence_of(logprobs: np.ndarray, pieces: list[str], end_logprob: float | None) -> Confidence:
    """Confidence of a decoded text from the log probability of each token (`pieces`: the tokens as the vocabulary
    writes them) and of the end of text that followed (None when the decode stopped without one)."""
    if not len(logprobs):
        return Confidence()
    k = len(pieces)
    while k > 0 and pieces[k - 1].lstrip(WORD_START) and set(pieces[k - 1].lstrip(WORD_START)) <= PUNCTUATION:
        k -= 1
    ending = float(logprobs[k:].sum()) + (end_logprob or 0.0)
    start = k - 1
    while start > 0 and not pieces[start].startswith(WORD_START):
        start -= 1
    last_word = float(logprobs[max(start, 0):k].min()) if k > 0 else 0.0
    return Confidence(mean=float(logprobs.mean()), last_word=last_word, ending=ending)


def _chosen_logprobs(steps, ids: list[int]) -> np.ndarray:
    """Log probability of token ids[i] at decoder step i, from the raw scores of each step."""
    if not ids:
        return np.zeros(0)
    scores = np.stack([np.asarray(steps[i], dtype=np.float32) for i in range(len(ids))])  # [tokens, vocabulary]
    peak = scores.max(axis=1, keepdims=True)
    np.subtract(scores, peak, out=scores)
    chosen = scores[np.arange(len(ids)), ids]
    np.exp(scores, out=scores)
    return (chosen - np.log(scores.sum(axis=1))).astype(np.float64)


def _covering(tok, ids: list[int], text: str) -> list[int]:
    """The fewest leading `ids` that spell `text` (a decode trim_loop cut short); all of them when none fewer do."""
    for n in range(1, len(ids)):
        if len(tok.decode(ids[:n]).strip()) >= len(text):
            return ids[:n]
    return ids


def gate_reason(no_speech_prob: float, avg_logprob: float, ratio: float) -> str:
    """Why a decode should count as no speech ("" when it is kept)."""
    if no_speech_prob > NO_SPEECH_MAX and avg_logprob < LOGPROB_FLOOR:
        return f"no speech (p={no_speech_prob:.2f}, logprob={avg_logprob:.2f})"
    if ratio > COMPRESSION_MAX:
        return f"repetition (compression {ratio:.1f})"
    if no_speech_prob > DOUBT_NO_SPEECH and avg_logprob < DOUBT_LOGPROB:
        return f"doubtful (p={no_speech_prob:.2f}, logprob={avg_logprob:.2f})"
    if avg_logprob < LOGPROB_REJECT:
        return f"low confidence (logprob={avg_logprob:.2f})"
    return ""


def load_tokenizer_spec(path: Path) -> str:
    """tokenizer.json as text, with its byte-pair merges whole.

    The packaged whisper-base tokenizer lacks its first merge ("Ġ t", the pair that makes token 256 "Ġt": the
    conversion dropped the first line of merges.txt as a header). It still decodes, but encodes " take" as "Ġ" + "take"
    and " to" as "Ġ" + "to": the text that conditions a final (`previous`) reached Whisper base in pieces it was never
    trained on. The missing pair is rebuilt from the first merged token of the vocabulary."""
    spec = json.loads(path.read_text(encoding="utf-8"))
    model = spec.get("model", {})
    vocab, merges = model.get("vocab", {}), model.get("merges", [])
    first = next((token for token, i in vocab.items() if i == BYTE_TOKENS), None)
    if first is None or not merges:
        return json.dumps(spec)
    as_text = isinstance(merges[0], str)  # "Ġ t" or ["Ġ", "t"], by the file's format version
    if "".join(merges[0].split(" ", 1) if as_text else merges[0]) == first:
        return json.dumps(spec)
    byte_tokens = {token for token, i in vocab.items() if i < BYTE_TOKENS}
    split = next(((first[:k], first[k:]) for k in range(1, len(first))
                  if first[:k] in byte_tokens and first[k:] in byte_tokens), None)
    if split is not None:
        model["merges"] = [" ".join(split) if as_text else list(split), *merges]
    return json.dumps(spec)


class Whisper:
    """A CTranslate2 Whisper model plus its tokenizer and feature extractor, loaded once."""

    def __init__(self, model_dir: Path, threads: int = 2, replicas: int = 1) -> None:
        import ctranslate2
        import tokenizers
        from faster_whisper.feature_extractor import FeatureExtractor

        self.model_dir = Path(model_dir)
        self._ct2 = ctranslate2
        self.model = ctranslate2.models.Whisper(
            str(self.model_dir), device="cpu", compute_type=COMPUTE_TYPE, intra_threads=threads,
            inter_threads=replicas,  # calls served at once (from several threads); more wait their turn
        )
        self.multilingual = bool(self.model.is_multilingual)
        self.features = FeatureExtractor(feature_size=self.model.n_mels)
        self._hf_tokenizer = tokenizers.Tokenizer.from_str(load_tokenizer_spec(self.model_dir / "tokenizer.json"))
        self.eot = self._hf_tokenizer.token_to_id("<|endoftext|>")

    def tokenizer(self, task: str = "transcribe", language: str | None = "en"):
        from faster_whisper.tokenizer import Tokenizer

        return Tokenizer(self._hf_tokenizer, self.multilingual, task=task, language=language or "en")

    def encode(self, audio: np.ndarray, pad_to: int = 0):
        """Encoder output for the real audio (optionally zero-padded to `pad_to` samples)."""
        audio = np.asarray(audio, np.float32).reshape(-1)[:WHISPER_WINDOW_SAMPLES]
        length = max(MIN_DECODE_SAMPLES, pad_to, len(audio))
        length = min(WHISPER_WINDOW_SAMPLES, -(-length // ENCODE_STEP_SAMPLES) * ENCODE_STEP_SAMPLES)
        if len(audio) < length:
            audio = np.pad(audio, (0, length - len(audio)))
        feats = self.features(audio)[:, :-1]
        feats = feats[:, : feats.shape[1] // 2 * 2]  # the encoder's stride-2 convolution wants an even length
        view = self._ct2.StorageView.from_array(np.ascontiguousarray(feats[None], dtype=np.float32))
        return self.model.encode(view)

    def detect_language(self, encoded, allowed: tuple[str, ...] | None = None) -> tuple[str, float]:
        """Most likely language (ISO 639-1) among `allowed` (all when None) and its probability.

        When no allowed language reaches LANG_MIN_PROB the first allowed one (the default) is taken: on a second of
        telephone-band English, base ranked Chinese first at p=0.21."""
        if not self.multilingual:
            return "en", 1.0
        ranked = [(token[2:-2], float(prob)) for token, prob in self.model.detect_language(encoded)[0]]
        candidates = [(lang, p) for lang, p in ranked if allowed is None or lang in allowed] or ranked
        lang, prob = candidates[0]
        if prob < LANG_MIN_PROB and allowed:
            return allowed[0], dict(ranked).get(allowed[0], 0.0)
        return lang, prob

    def decode(
        self,
        encoded,
        task: str = "transcribe",
        language: str | None = "en",
        prefix: tuple[int, ...] = (),
        beam_size: int = 1,
        previous: tuple[int, ...] = (),
    ) -> Hypothesis:
        """Generate text from an encoder output; `prefix` tokens are forced after the task tokens; `previous` tokens
        (the text just before this audio) condition the decoder as Whisper's long-form transcription does."""
        tok = self.tokenizer(task, language)
        context = [tok.sot_prev, *previous[-MAX_PREVIOUS_TOKENS:]] if previous else []
        prompt = [*context, *tok.sot_sequence, tok.no_timestamps, *prefix]
        seconds = encoded.shape[1] * 2 * self.features.hop_length / SAMPLE_RATE  # encoder frames are 20 ms
        budget = min(MAX_NEW_TOKENS, MIN_TOKEN_BUDGET + int(TOKENS_PER_SECOND * seconds))
        result = self.model.generate(
            encoded,
            [prompt],
            beam_size=beam_size,
            max_length=len(prompt) + budget,
            return_scores=True,
            return_logits_vocab=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=[-1],
        )[0]
        tokens = tuple(t for t in result.sequences_ids[0][len(prefix) :] if t < self.eot)  # result repeats prefix
        avg_logprob = float(result.scores[0]) * len(tokens) / (len(tokens) + 1) if tokens else 0.0
        loop = loop_start(tokens)
        looped = loop is not None and loop <= LOOP_REJECT_TOKENS  # "Who? Who? Who?" on a cough
        tokens = tokens[:loop] if loop is not None else tokens
        spelled = tok.decode([*prefix, *tokens]).strip()
        raw = trim_loop(spelled)
        ids = [*prefix, *tokens] if raw == spelled else _covering(tok, [*prefix, *tokens], raw)
        confidence = self._confidence(result, ids, whole=loop is None and raw == spelled)
        ratio = compression_ratio(raw)  # loops are cut above; this catches the ones that wander
        reason = gate_reason(float(result.no_speech_prob), avg_logprob, ratio) if raw else "no text"
        reason = f"decoder loop ({' '.join(raw.split()[:3])}...)" if looped else reason
        return Hypothesis(
            text="" if reason else raw,
            raw_text=raw,
            tokens=tokens,
            avg_logprob=avg_logprob,
            no_speech_prob=float(result.no_speech_prob),
            compression_ratio=ratio,
            lang=language if self.multilingual else "en",
            rejected=reason,
            confidence=confidence,
        )

    def _confidence(self, result, ids: list[int], whole: bool) -> Confidence:
        """Confidence of `ids` (the text's tokens, forced prefix included: the result scores every position), with
        the end of text after them when the decoder produced it there (`whole`: the text was not cut short)."""
        steps = result.logits[0] if result.logits else []
        sequence = result.sequences_ids[0]
        if len(steps) < len(ids):
            return Confidence()  # not scored: nothing known
        ended = whole and list(sequence) == ids and len(steps) > len(ids)  # the end-of-text step is not in `sequence`
        logprobs = _chosen_logprobs(steps[: len(ids) + int(ended)], [*ids, self.eot] if ended else ids)
        pieces = [self._hf_tokenizer.id_to_token(t) or "" for t in ids]
        return confidence_of(logprobs[: len(ids)], pieces, float(logprobs[-1]) if ended else None)

    def encode_prefix(self, text: str) -> tuple[int, ...]:
        """Token ids of `text` as a continuation (leading space), for forcing an agreed prefix."""
        return tuple(self._hf_tokenizer.encode(" " + text.strip(), add_special_tokens=False).ids) if text else ()

    def transcribe(
        self,
        audio: np.ndarray,
        task: str = "transcribe",
        language: str | None = None,
        pad_to: int = 0,
        languages: tuple[str, ...] | None = None,
        previous: str = "",
    ) -> Hypothesis:
        """Whole-utterance recognition: encode, identify the language (among `languages`) unless given, decode
        (conditioned on the `previous` text, if any)."""
        encoded = self.encode(audio, pad_to=pad_to)
        lang_prob = 1.0
        if language is None:
            language, lang_prob = self.detect_language(encoded, languages)
        hyp = self.decode(encoded, task=task, language=language, previous=self.encode_prefix(previous))
        return replace(hyp, lang=language, lang_prob=lang_prob)
