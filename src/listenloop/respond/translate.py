"""Translation mode: each closed spoken segment in the target language, as soon as its final text exists.

Into English: Whisper base's own translate task on the segment's audio (any of its 99 languages). From English
into another language: the language model. From another language into a third: Whisper to English, then the model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from listenloop.decision.text.instructions import LANGUAGE_NAMES
from listenloop.perception.observation import FinalText, SegmentEnd
from listenloop.respond.base import ResponseContext, ResponseRequest, spoken_pieces
from listenloop.respond.finals import piece_texts
from listenloop.respond.llm import ChatMessage, Generation, LlmBackend, Role
from listenloop.vocabulary import Task

TOKENS_PER_CHAR = 1.5  # generous budget for the translation (CJK output takes about one token per character)
MIN_TOKENS = 32


def translation_messages(text: str, language: str) -> list[ChatMessage]:
    """The text labelled as English with the target's label after it: given the bare text, the 0.5B model answered
    a fragment that starts mid-sentence ("influences of the evening had restored life ...") in English."""
    name = LANGUAGE_NAMES.get(language, language)
    return [
        ChatMessage(Role.SYSTEM, f"You are a translator. Translate the user's English text into {name}. "
                                 f"Reply with the {name} translation only, nothing else."),
        ChatMessage(Role.USER, f"English: {text}\n{name}:"),
    ]


def source_language(finals: list[FinalText]) -> str:
    """The language of most of the pieces' speech (by duration, pieces with text): a short last piece identified
    wrongly ("Seguido de la tecla de número." as English) does not decide for the whole sentence, which would then go
    out untranslated. English when none says."""
    seconds: dict[str, float] = {}
    for f in finals:
        if f.text and f.lang:
            seconds[f.lang] = seconds.get(f.lang, 0.0) + max(f.t1 - f.t0, 0.0)
    return max(seconds, key=seconds.__getitem__) if seconds else "en"


class TranslateResponder:
    task = Task.TRANSLATE

    def __init__(self, recognizer, llm: Callable[[], LlmBackend]) -> None:
        self._recognizer = recognizer
        self._llm = llm

    def run(self, request: ResponseRequest, ctx: ResponseContext) -> Iterator[str]:
        pieces = spoken_pieces(request.decision.payload)  # a sentence cut at a pause or the segment limit: joined
        target = str(request.decision.payload.get("language") or "en")
        finals, text = piece_texts(pieces)
        if not text:
            return
        final = finals[-1]
        source = source_language(finals)
        ctx.extra.update({"segment": final.segment, "source": text, "source_lang": source, "lang": target,
                          "t0": finals[0].t0, "t1": final.t1})
        if source == target:
            yield text
            return
        english = text if source == "en" else self._to_english(pieces, source)
        if target == "en":
            if english:
                yield english
            return
        yield from self.translate_text(english, target, ctx)

    def _to_english(self, pieces: list[SegmentEnd], source: str) -> str:
        if self._recognizer is None:
            raise RuntimeError("translation into English needs speech recognition (it is off)")
        return self._recognizer.translate_speech(np.concatenate([p.audio for p in pieces]), source)

    def translate_text(self, english: str, target: str, ctx: ResponseContext | None = None) -> Iterator[str]:
        """English text into `target` with the language model, streamed."""
        budget = max(MIN_TOKENS, int(len(english) * TOKENS_PER_CHAR))
        pieces = self._llm().stream(translation_messages(english, target), Generation(max_tokens=budget,
                                                                                       stop=("\n\n",)))
        try:
            for piece in pieces:
                yield piece
                if ctx is not None and ctx.cancelled.is_set():
                    break
        finally:
            pieces.close()
