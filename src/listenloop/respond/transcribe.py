"""Transcription mode: the response to a closed spoken segment is its final (Whisper base) text; with the learned
clock, one response may carry the pieces of a sentence broken by pauses (decision/captions.py), joined."""

from __future__ import annotations

from collections.abc import Iterator

from listenloop.decision.base import Task
from listenloop.respond.base import ResponseContext, ResponseRequest, final_texts, spoken_pieces


class TranscribeResponder:
    task = Task.TRANSCRIBE

    def run(self, request: ResponseRequest, ctx: ResponseContext) -> Iterator[str]:
        finals, text = final_texts(spoken_pieces(request.decision.payload))
        final = finals[-1]
        ctx.extra.update({"segment": final.segment, "lang": final.lang, "t0": finals[0].t0, "t1": final.t1})
        if len(finals) > 1:
            ctx.extra["first_segment"] = finals[0].segment  # the pieces are segments first_segment..segment
        if text:
            yield text
