"""The Engine: every model loaded once, shared by any number of sessions (each with its own state)."""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from listenloop.decision.base import Decider
from listenloop.decision.factory import PolicyResources, PolicySpec, build_policy
from listenloop.perception.pipeline import Perception
from listenloop.respond.base import Responder
from listenloop.respond.transcribe import TranscribeResponder
from listenloop.runtime.load import LoadGovernor
from listenloop.runtime.session import Session, SessionOptions
from listenloop.vocabulary import Mode, Task

if TYPE_CHECKING:
    from listenloop.decision.conversation import ConversationPolicy
    from listenloop.decision.model.timing import LearnedTiming

ENGINE_CLOSE_TIMEOUT_S = 60.0  # s to wait for a background model load at shutdown


@dataclass(frozen=True)
class EngineConfig:
    asr: bool = True  # speech recognition (Whisper tiny.en partials + base finals)
    sounds: bool = True  # the YAMNet tagger (sound events, proactive responses, ASR gating)
    policy_path: Path | None = None  # default sound policy for all sessions (None: the shipped defaults)
    llm: str = "qwen2.5-0.5b"  # language model: a packaged name or a .gguf path (loaded on first use)
    llm_url: str | None = None  # an OpenAI-compatible endpoint instead of the in-process model


def policy_spec(options: SessionOptions) -> PolicySpec:
    """The policy a session's options ask for (decision/factory.py)."""
    return PolicySpec(mode=options.mode, decider=options.decider, names=options.names,
                      instruction=options.instruction, sounds=options.sounds, sound_policy_path=options.policy_path)


class Engine:
    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        self.perception = Perception(self._load_vad(), self._load_recognizer(), self._load_tagger())
        self.sound_policy = self._load_sound_policy(self.config.policy_path)
        self.responders: dict[Task, Responder] = {Task.TRANSCRIBE: TranscribeResponder()}
        self.responders.update(self._sound_responders())
        self._llm = None
        names = tuple(self.perception.tagger.names) if self.perception.tagger is not None else None
        self.policies = PolicyResources(self.sound_policy, class_names=names)  # the decision model, on first use
        self._load_lock = threading.Lock()
        self._warmers: list[threading.Thread] = []  # background LLM loads, joined by close()
        self._live: weakref.WeakSet[Session] = weakref.WeakSet()  # sessions to stop at close (their state is theirs)
        self.load = LoadGovernor()  # live streams behind real time: partials at pauses only (runtime/load.py)
        self.responders.update(self._conversation_responders())

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
        from listenloop.decision.sounds.sound_policy import SoundPolicy

        return SoundPolicy.load([path] if path else [])

    def _sound_responders(self) -> dict[Task, Responder]:
        if not self.config.sounds:
            return {}
        from listenloop.respond.sounds import sound_responders

        return sound_responders()

    def _conversation_responders(self) -> dict[Task, Responder]:
        from listenloop.respond.answer import AnswerResponder, FixedTextResponder
        from listenloop.respond.translate import TranslateResponder

        return {Task.ANSWER: AnswerResponder(self.llm, self._in_background, self._one_conversation),
                Task.ACKNOWLEDGE: FixedTextResponder(Task.ACKNOWLEDGE),
                Task.TRANSLATE: TranslateResponder(self.llm)}

    def llm(self):
        """The language model, loaded once on first use and shared by every session."""
        with self._load_lock:
            if self._llm is None:
                from listenloop.respond.llm import load_backend

                self._llm = load_backend(self.config.llm, self.config.llm_url)
            return self._llm

    # ---- what sessions ask of the engine ----
    def session(self, options: SessionOptions | None = None, on_event=None) -> Session:
        return Session(self, options or SessionOptions(), on_event)

    def policy_for(self, options: SessionOptions) -> ConversationPolicy:
        return build_policy(policy_spec(options), self.policies)

    def learned_timing(self, decider: Decider = Decider.CLOCK) -> LearnedTiming:
        """The learned decision model as the conversation's clock or judge, loaded once (decision/timing.py)."""
        return self.policies.timing(decider)

    def on_session_start(self, session: Session) -> None:
        """The language model warmed in the background when the session will need it."""
        if session.options.mode is not Mode.TRANSCRIBE or session.options.instruction:
            stop = session.prefill_stop
            self._live.add(session)
            ref = weakref.ref(session)  # held weakly: a session dropped without finish() is not kept alive
            self._in_background(lambda: self._warm_llm(ref, stop))

    def _one_conversation(self) -> bool:
        """Whether at most one live session may ask the language model (its prefill then pays: responds/answer.py)."""
        return sum(not session.prefill_stop.is_set() for session in list(self._live)) <= 1

    def _in_background(self, work) -> None:
        """Model work off the listening loop and the response worker (loading, prefill), joined by close() after
        the sessions' prefill loops were told to stop."""
        warmer = threading.Thread(target=work, name="listenloop-llm-warm", daemon=True)
        warmer.start()
        self._warmers = [w for w in self._warmers if w.is_alive()] + [warmer]

    def _warm_llm(self, session_ref: weakref.ref, stop: threading.Event) -> None:
        """Load the model, then keep the start of the session's next answer prompt evaluated (system prompt, earlier
        turns, what was heard since) until the session ends, so a question pays only for its own tokens."""
        try:
            self.llm()
        except Exception as e:  # noqa: BLE001 - reported to the session; it keeps listening without answers
            from listenloop.runtime.events import ErrorEvent

            session = session_ref()
            if session is not None:
                session._emit(ErrorEvent(f"language model unavailable: {e}"))
            return
        answers = self.responders.get(Task.ANSWER)
        if answers is not None and hasattr(answers, "keep_prefilled"):
            answers.keep_prefilled(session_ref, stop)  # in this thread, so close() waits for a prefill under way

    def on_session_end(self, session: Session) -> None:
        """Counterpart of on_session_start."""
        session.prefill_stop.set()

    def close(self, timeout: float = ENGINE_CLOSE_TIMEOUT_S) -> None:
        """Before the process exits: let a model still loading finish (exiting while llama.cpp loads in a
        background thread can crash the interpreter) and stop the recognizer's worker."""
        for session in list(self._live):
            session.prefill_stop.set()
        for warmer in self._warmers:
            warmer.join(timeout)
        if self.perception.recognizer is not None:
            self.perception.recognizer.close()
