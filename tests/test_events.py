"""The event schema: every event type serializes to JSON with its `type` and is documented in docs/events.md."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
from conftest import REPO

from listenloop.runtime import events as ev


def _event_classes():
    return [c for c in vars(ev).values() if isinstance(c, type) and issubclass(c, ev.Event) and c is not ev.Event]


def _example(cls):
    values = {"str": "x", "float": 1.5, "int": 3, "bool": True}
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
            continue
        kind = str(f.type).split("|")[0].strip()
        kwargs[f.name] = np.zeros(1600, np.float32) if f.name == "samples" else values.get(kind, None)
    return cls(**kwargs)


def test_every_event_serializes_to_json_with_its_type():
    for cls in _event_classes():
        event = _example(cls)
        data = json.loads(event.to_json())
        assert data["type"] == cls.type
        if cls.type == "audio":  # samples travel as binary frames; JSON gives their duration
            assert data["duration_s"] == 0.1 and "samples" not in data
        else:
            assert set(data) == {"type"} | {f.name for f in dataclasses.fields(cls)}


def test_every_event_type_and_field_is_documented():
    doc = (REPO / "docs" / "events.md").read_text()
    headings = " ".join(re.findall(r"^## (.*)$", doc, flags=re.M))
    for cls in _event_classes():
        assert f"`{cls.type}`" in headings, f"docs/events.md has no section for {cls.type}"
        for f in dataclasses.fields(cls):
            if f.name != "samples":
                assert re.search(rf"\b{f.name}\b", doc), f"docs/events.md does not describe {cls.type}.{f.name}"


def test_an_answer_taken_back_is_not_among_the_answers_given():
    """A `withdraw` decision takes back the answer to the same question segment, and only that one."""
    decided = [ev.DecisionEvent(5, 2.4, "respond", "answer", "question ends", question_segment=0),
               ev.DecisionEvent(6, 2.8, "withdraw", "answer", "answer taken back", question_segment=0),
               ev.DecisionEvent(9, 4.0, "respond", "answer", "question ends", question_segment=1),
               ev.DecisionEvent(10, 4.4, "respond", "transcribe", "segment 1"),
               ev.DecisionEvent(14, 6.0, "respond", "answer", "asked for the count")]  # no question segment
    assert [e.chunk for e in ev.answers_given(decided)] == [9, 14]
    assert json.loads(json.dumps(decided[1].to_dict()))["question_segment"] == 0
