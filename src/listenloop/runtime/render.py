"""Show events to a person: a live timeline (one mark per 0.4 s decision) with transcripts and responses,
or JSON lines for programs."""

from __future__ import annotations

import sys
from typing import TextIO

from listenloop.audio.constants import CHUNK_SECONDS
from listenloop.runtime.events import (
    DecisionEvent,
    ErrorEvent,
    Event,
    ResponseEvent,
    SoundEvent,
    SummaryEvent,
    TaskEvent,
    TranscriptEvent,
)

MARKS_PER_LINE = 50  # decisions per timeline row (20 s of stream)
MARK_SILENT = "·"
MARK_RESPOND = "●"
TIMELINE_HIDDEN_SOUNDS = frozenset({"Speech", "Silence"})  # shown as transcripts (or nothing); JSON keeps them
EMOTION_COLOURS = {"urgent": "31", "concerned": "33", "happy": "32", "sad": "34", "angry": "31"}


class JsonRenderer:
    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout

    def show(self, event: Event) -> None:
        self.out.write(event.to_json() + "\n")
        self.out.flush()

    def close(self) -> None:
        self.out.flush()


class TimelineRenderer:
    """Marks accumulate on the current row; other events print above it. Partials show only on a terminal."""

    def __init__(self, out: TextIO | None = None, colour: bool | None = None) -> None:
        self.out = out = out or sys.stdout
        self.tty = out.isatty()
        self.colour = self.tty if colour is None else colour
        self.marks: list[str] = []
        self.row_start = 0.0
        self.partial = ""

    def _c(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.colour else text

    def _row(self) -> str:
        row = f"{self.row_start:7.1f}s {''.join(self.marks)}"
        if self.tty and self.partial:
            row += "  " + self._c(self.partial[-60:], "2")
        return row

    def _redraw(self) -> None:
        if self.tty:
            self.out.write("\r\033[K" + self._row())
            self.out.flush()

    def _line(self, text: str) -> None:
        if self.tty:
            self.out.write("\r\033[K" + text + "\n" + self._row())
        else:  # a log: the marks so far go first, so lines stay in stream order
            self._flush_row()
            self.out.write(text + "\n")
        self.out.flush()

    def show(self, event: Event) -> None:
        if isinstance(event, DecisionEvent):
            self._mark(event)
        elif isinstance(event, TranscriptEvent):
            if event.final:
                self.partial = ""
                lang = f" [{event.lang}]" if event.lang else ""
                self._line(f"  {event.t0:6.1f}–{event.t1:.1f}s{lang} {self._c(event.text, '1')}")
            else:
                self.partial = event.text
                self._redraw()
        elif isinstance(event, ResponseEvent):
            colour = EMOTION_COLOURS.get(event.emotion, "36")
            tag = f"{event.task}" + (f"/{event.emotion}" if event.emotion != "normal" else "")
            cut = " (interrupted)" if event.interrupted else ""
            self._line(self._c(f"→ {event.t:6.1f}s [{tag}] {event.text}{cut}", colour)
                       + f"  ({event.latency_ms:.0f} ms)")
        elif isinstance(event, SoundEvent) and event.state == "start" and event.label not in TIMELINE_HIDDEN_SOUNDS:
            self._line(f"  {event.t0:6.1f}s ♪ {event.label} ({event.score:.2f})")
        elif isinstance(event, TaskEvent):
            self._line(self._c(f"  {event.t:6.1f}s mode: {event.mode} {event.detail or ''}", "35"))
        elif isinstance(event, ErrorEvent):
            self._line(self._c(f"  error: {event.message}", "31"))
        elif isinstance(event, SummaryEvent):
            self._flush_row()
            self.out.write(
                f"\n{event.chunks} decisions over {event.audio_s:.1f} s in {event.wall_s:.1f} s "
                f"(RTF {event.rtf:.3f}); per chunk p50 {event.chunk_ms_p50:.0f} ms, p95 {event.chunk_ms_p95:.0f} ms, "
                f"max {event.chunk_ms_max:.0f} ms; {event.responses} responses, {event.transcripts} transcripts, "
                f"{event.sounds} sounds\n"
            )
            self.out.flush()

    def _mark(self, event: DecisionEvent) -> None:
        if not self.marks:
            self.row_start = event.t - CHUNK_SECONDS
        self.marks.append(MARK_RESPOND if event.action == "respond" else MARK_SILENT)
        if len(self.marks) >= MARKS_PER_LINE:
            self._flush_row()
        else:
            self._redraw()

    def _flush_row(self) -> None:
        if not self.marks:
            return
        self.out.write(("\r\033[K" if self.tty else "") + self._row() + "\n")
        self.out.flush()
        self.marks = []

    def close(self) -> None:
        self._flush_row()
