"""Transcription mode: the response to a closed spoken segment is its final (Whisper base) text; with the learned
clock, one response may carry the pieces of a sentence broken by pauses (decision/captions.py), joined."""

from __future__ import annotations

from collections.abc import Iterator

from listenloop.decision.base import Task
from listenloop.perception.observation import FinalText, SegmentEnd
from listenloop.respond.base import ResponseContext, ResponseRequest

FINAL_TEXT_TIMEOUT_S = 30.0  # s; a final decode never takes this long on a healthy machine


class TranscribeResponder:
    task = Task.TRANSCRIBE

    def run(self, request: ResponseRequest, ctx: ResponseContext) -> Iterator[str]:
        pieces: list[SegmentEnd] = [*request.decision.payload.get("before", ()), request.decision.payload["segment"]]
        finals: list[FinalText] = [p.final.result(timeout=FINAL_TEXT_TIMEOUT_S) for p in pieces]
        final = finals[-1]
        ctx.extra.update({"segment": final.segment, "lang": final.lang, "t0": finals[0].t0, "t1": final.t1})
        if len(finals) > 1:
            ctx.extra["first_segment"] = finals[0].segment  # the pieces are segments first_segment..segment
        text = " ".join(f.text for f in finals if f.text)
        if text:
            yield text
