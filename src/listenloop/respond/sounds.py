"""Responses to sounds nobody asked about: one short sentence that names what was heard. No language model needed.

The sentence comes from the policy rule (`say`, with {phrase} and {label} filled in) or, when the rule has none,
from the template of its task. The decision's payload carries label, phrase and say (see decision/sound_policy.py).
"""

from __future__ import annotations

from collections.abc import Iterator

from listenloop.respond.base import ResponseContext, ResponseRequest
from listenloop.vocabulary import Task

TEMPLATES = {
    Task.ALERT: "That sounds like {phrase}. Please check it now.",
    Task.ASK: "I heard {phrase}. Are you all right?",
    Task.NOTIFY: "I hear {phrase}.",
    Task.DESCRIBE: "I can hear {phrase}.",
}
SOUND_TASKS = tuple(TEMPLATES)


def sound_sentence(task: Task, label: str, phrase: str = "", say: str = "") -> str:
    """The sentence for a sound response; unknown placeholders in `say` are left as written."""
    phrase = phrase or label.lower()
    template = say or TEMPLATES[task]
    try:
        text = template.format(phrase=phrase, label=label)
    except (KeyError, IndexError, ValueError):
        text = template
    return text[:1].upper() + text[1:]


class SoundResponder:
    """Speaks up about a sound, for one of the sound tasks (alert, ask, notify, describe)."""

    def __init__(self, task: Task) -> None:
        if task not in TEMPLATES:
            raise ValueError(f"no sound responder for task {task.value!r}; sound tasks: "
                             + ", ".join(t.value for t in SOUND_TASKS))
        self.task = task

    def run(self, request: ResponseRequest, ctx: ResponseContext) -> Iterator[str]:
        payload = request.decision.payload
        label = str(payload.get("label", "a sound"))
        ctx.extra.update({"label": label, "score": payload.get("score"), "t0": payload.get("t0"),
                          "rule": payload.get("rule")})
        if not ctx.cancelled.is_set():
            yield sound_sentence(self.task, label, str(payload.get("phrase", "")), str(payload.get("say", "")))


def sound_responders() -> dict[Task, SoundResponder]:
    """One responder per sound task, for the session's task -> responder table."""
    return {task: SoundResponder(task) for task in SOUND_TASKS}
