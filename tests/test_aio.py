"""The asyncio face of a session (runtime/aio.py): feed from a coroutine, events delivered on the loop, in order."""

from __future__ import annotations

import asyncio

import numpy as np
from conftest import pad

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.runtime import events as ev
from listenloop.runtime.session import SessionOptions
from listenloop.vocabulary import Mode


def test_an_async_session_transcribes_and_ends_with_its_summary(speech_question):
    from listenloop.runtime.aio import AsyncSession
    from listenloop.runtime.engine import Engine, EngineConfig

    engine = Engine(EngineConfig(sounds=False))
    audio = pad(speech_question)

    async def main() -> list[ev.Event]:
        session = AsyncSession(engine, SessionOptions(mode=Mode.TRANSCRIBE))
        collected: list[ev.Event] = []

        async def collect() -> None:
            async for event in session.events():
                collected.append(event)

        reader = asyncio.create_task(collect())
        for block in np.array_split(audio, max(1, len(audio) // (SAMPLE_RATE // 4))):  # 0.25 s blocks, not chunks
            await session.feed(block)
        await session.finish()
        await asyncio.wait_for(reader, timeout=60)
        return collected

    try:
        events = asyncio.run(main())
    finally:
        engine.close()
    assert isinstance(events[-1], ev.SummaryEvent)
    decisions = [e for e in events if isinstance(e, ev.DecisionEvent)]
    assert len(decisions) >= int(len(audio) / SAMPLE_RATE / 0.4)  # one decision per 0.4 s chunk, none lost
    assert [d.t for d in decisions] == sorted(d.t for d in decisions)  # delivered in stream order
    text = " ".join(e.text for e in events if isinstance(e, ev.TranscriptEvent) and e.final).lower()
    assert "library" in text and "tomorrow" in text
