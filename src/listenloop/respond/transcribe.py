"""Transcription mode: the response to a closed spoken segment is its final (Whisper base) text."""

from __future__ import annotations

from collections.abc import Iterator

from listenloop.decision.base import Task
from listenloop.perception.observation import FinalText, SegmentEnd
from listenloop.respond.base import ResponseContext, ResponseRequest

FINAL_TEXT_TIMEOUT_S = 30.0  # s; a final decode never takes this long on a healthy machine


class TranscribeResponder:
    task = Task.TRANSCRIBE

    def run(self, request: ResponseRequest, ctx: ResponseContext) -> Iterator[str]:
        segment: SegmentEnd = request.decision.payload["segment"]
        final: FinalText = segment.final.result(timeout=FINAL_TEXT_TIMEOUT_S)
        ctx.extra.update({"segment": final.segment, "lang": final.lang, "t0": final.t0, "t1": final.t1})
        if final.text:
            yield final.text
