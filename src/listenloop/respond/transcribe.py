"""Transcription mode: the response to a closed spoken segment is its final (Whisper base) text; with the learned
clock, one response may carry the pieces of a sentence broken by pauses (decision/captions.py), joined. A caption
the model released at a pause, before its segment closed, waits here for that segment's final text."""

from __future__ import annotations

from collections.abc import Iterator

from listenloop.respond.base import ResponseContext, ResponseRequest, spoken_pieces
from listenloop.respond.finals import piece_texts
from listenloop.vocabulary import Task


class TranscribeResponder:
    task = Task.TRANSCRIBE

    def run(self, request: ResponseRequest, ctx: ResponseContext) -> Iterator[str]:
        payload = request.decision.payload
        open_segment = payload.get("open_segment")
        if open_segment is None:
            finals, text = piece_texts(spoken_pieces(payload))
        else:
            finals, text = piece_texts(list(payload.get("before", ())))
            last = ctx.finals.open_caption(int(open_segment), ctx.cancelled) if ctx.finals is not None else None
            if last is not None:
                finals.append(last)
            else:  # no final to wait for (no stream, or it heard no words): the text heard at the pause
                ctx.extra["heard_partial"] = payload["segment_text"]
            text = " ".join(t for t in (text, payload["segment_text"] if last is None else last.text) if t)
        if finals:
            ctx.extra.update({"lang": finals[-1].lang, "t0": finals[0].t0, "t1": finals[-1].t1})
        numbers = [f.segment for f in finals]
        if open_segment is not None and open_segment not in numbers:
            numbers.append(int(open_segment))
        ctx.extra["segment"] = numbers[-1]
        if len(numbers) > 1:
            ctx.extra["first_segment"] = numbers[0]  # the pieces are segments first_segment..segment
        if text:
            yield text
