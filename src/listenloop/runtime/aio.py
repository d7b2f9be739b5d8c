"""asyncio face of a Session: await feed(), iterate events as they happen (responses arrive on their own)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np

from listenloop.runtime.events import Event, SummaryEvent
from listenloop.runtime.session import SessionOptions


class AsyncSession:
    """Create inside a running event loop. Events from any thread are delivered on the loop, in order."""

    def __init__(self, engine, options: SessionOptions | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self.session = engine.session(options, on_event=self._push)

    def _push(self, event: Event) -> None:
        self._loop.call_soon_threadsafe(self._queue.put_nowait, event)

    async def feed(self, samples: np.ndarray) -> None:
        """Chunk processing runs in a worker thread so the loop stays responsive."""
        await asyncio.to_thread(self.session.feed, samples)

    async def finish(self) -> None:
        await asyncio.to_thread(self.session.finish)

    async def events(self) -> AsyncIterator[Event]:
        """Every event, until (and including) the closing summary."""
        while True:
            event = await self._queue.get()
            yield event
            if isinstance(event, SummaryEvent):
                return
