"""The Engine: every model loaded once, shared by any number of sessions (each with its own state)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from listenloop.decision.base import Task
from listenloop.perception.pipeline import Perception
from listenloop.respond.transcribe import TranscribeResponder
from listenloop.runtime.responses import ResponseRunner
from listenloop.runtime.session import Session, SessionOptions


@dataclass(frozen=True)
class EngineConfig:
    asr: bool = True  # speech recognition (Whisper tiny.en partials + base finals)
    sounds: bool = True  # the YAMNet tagger (sound events, proactive responses, ASR gating)
    policy_path: Path | None = None  # default sound policy for all sessions (None: the shipped defaults)
    extra: dict[str, Any] = field(default_factory=dict)  # options of later capabilities (llm, tts)


class Engine:
    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        self.perception = Perception(self._load_vad(), self._load_recognizer(), self._load_tagger())
        self.sound_policy = self._load_sound_policy(self.config.policy_path)
        self.responders: dict[Task, Any] = {Task.TRANSCRIBE: TranscribeResponder()}
        self.responders.update(self._sound_responders())

    # ---- loading (each import is deferred so a missing optional part names what to install) ----
    def _load_vad(self):
        from listenloop.perception.vad import SileroVad

        return SileroVad()

    def _load_recognizer(self):
        if not self.config.asr:
            return None
        from listenloop.perception.asr import Recognizer

        return Recognizer()

    def _load_tagger(self):
        if not self.config.sounds:
            return None
        from listenloop.perception.sounds import YamnetTagger

        return YamnetTagger()

    def _load_sound_policy(self, path: Path | None):
        if not self.config.sounds:
            return None
        from listenloop.decision.sound_policy import SoundPolicy

        return SoundPolicy.load([path] if path else [])

    def _sound_responders(self) -> dict[Task, Any]:
        if not self.config.sounds:
            return {}
        from listenloop.respond.sounds import sound_responders

        return sound_responders()

    # ---- what sessions ask of the engine ----
    def session(self, options: SessionOptions | None = None, on_event=None) -> Session:
        return Session(self, options or SessionOptions(), on_event)

    def policy_for(self, options: SessionOptions):
        from listenloop.decision.rules import RulePolicy

        sound_policy = None
        if options.sounds and self.sound_policy is not None:
            sound_policy = self._load_sound_policy(options.policy_path) if options.policy_path else self.sound_policy
        return RulePolicy(options.mode, sound_policy)

    def response_runner(self, emit, session: Session) -> ResponseRunner:
        return ResponseRunner(self.responders, emit, session)

    def on_session_start(self, session: Session) -> None:
        """Hook for capabilities that keep per-session resources (speech output, LLM context)."""

    def on_session_end(self, session: Session) -> None:
        """Counterpart of on_session_start."""

    def on_barge_in(self, session: Session) -> None:
        """The user spoke while a response was running: stop it, unless it is a caption."""
        session.responses.cancel_current(only_interruptible=True)
