"""The proactive sound policy: a readable TOML file says which sounds deserve a response, and how urgently.

The shipped defaults (default_policy.toml, documented in docs/policy.md) can be overridden per run or per session by
further files: a rule of the same name is merged key by key, new rules are added, and a class that a later file
names leaves the rule that claimed it before. Errors name the file and line. `SoundPolicy` applies the rules to the
tagger's chunk scores: one response per episode of a sound (repeats closer than `gap` are one episode), none while
the rule cools down, the most urgent rule first when several fire in one chunk.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from listenloop.audio.constants import CHUNK_SECONDS
from listenloop.decision.base import Decision
from listenloop.decision.sounds.policy_file import (
    ACTION_PRIORITY,
    SCORE_TOLERANCE,
    UNLESS_SCORE,
    Combine,
    PolicySpec,
    RuleAction,
    SoundRule,
    learned_names,
    load_policy,
)
from listenloop.perception.observation import Observation


@dataclass
class _Episode:
    """One continuing sound for one rule: repeats closer than the rule's gap belong to it."""

    t0: float  # s, stream time the sound was first heard
    last: float  # s, end of the last chunk that heard it
    hits: int = 0  # chunks that heard it
    decided: bool = False  # responded to, or grouped into an earlier response by the cooldown


@dataclass
class SoundPolicyState:
    episodes: dict[str, _Episode] = field(default_factory=dict)  # rule name -> its current episode
    last_response: dict[str, float] = field(default_factory=dict)  # rule name -> stream time of its last response
    history: dict[str, list[np.ndarray]] = field(default_factory=dict)  # rule -> its classes' recent chunk scores
    responses: int = 0
    answered: SoundRule | None = None  # rule whose response's sound may still be going on

    def reset(self) -> None:
        self.answered = None
        self.episodes.clear()
        self.last_response.clear()
        self.history.clear()
        self.responses = 0


@dataclass(frozen=True)
class _Candidate:
    rule: SoundRule
    label: str
    score: float
    episode: _Episode


class SoundPolicy:
    """DecisionPolicy over the tagger's chunk scores. One instance serves every stream; state is per stream."""

    def __init__(self, spec: PolicySpec, class_names: Sequence[str]) -> None:
        self.spec = spec
        self.names = tuple(class_names)
        index = {n: i for i, n in enumerate(self.names)}
        self._rules = [(r, np.array([index[c] for c in r.classes]), np.array([index[c] for c in r.unless], int))
                       for r in spec.rules if r.action is not RuleAction.IGNORE]

    @classmethod
    def load(cls, files: Iterable[str | Path] = (), texts: Iterable[str] = ()) -> SoundPolicy:
        from listenloop.perception.sounds import load_class_names

        names = load_class_names() + learned_names()
        return cls(load_policy(files, names, texts), names)

    def init_state(self) -> SoundPolicyState:
        return SoundPolicyState()

    def decide(self, obs: Observation, state: SoundPolicyState) -> Decision:
        """Respond in the chunk where a sound becomes certain, once per episode, the most urgent rule first."""
        if obs.sounds is None:
            return Decision.silent()
        t, scores = obs.chunk.t1, self._scores(obs)
        candidates = []
        for rule, idx, unless in self._rules:
            c = self._update(rule, idx, unless, scores, obs, state)
            if c is not None:
                candidates.append(c)
        candidates = self._one_response_per_sound(candidates, t, state)
        if not candidates:
            return Decision.silent()
        best = max(candidates, key=lambda c: (ACTION_PRIORITY[c.rule.action], c.score))
        state.answered = best.rule
        best.episode.decided = True
        state.last_response[best.rule.name] = t
        state.responses += 1
        rule = best.rule
        return Decision.respond(
            rule.action.task, reason=f"{rule.name}: {best.label} {best.score:.2f}", emotion=rule.urgency,
            label=best.label, score=best.score, t0=best.episode.t0, rule=rule.name, phrase=rule.phrase, say=rule.say,
        )

    def _scores(self, obs: Observation) -> np.ndarray:
        """The tagger's AudioSet scores followed by the learned detector's (zeros where it did not run)."""
        audioset = obs.sounds.scores
        if len(self.names) == len(audioset):
            return audioset
        learned = np.zeros(len(self.names) - len(audioset), np.float32)
        if obs.sounds.detected is not None:
            learned[: len(obs.sounds.detected.scores)] = obs.sounds.detected.scores
        return np.concatenate([audioset, learned])

    def _update(self, rule: SoundRule, idx: np.ndarray, unless: np.ndarray, scores: np.ndarray, obs: Observation,
                state: SoundPolicyState) -> _Candidate | None:
        """Advance the rule's episode by one chunk; a candidate when it should respond now. A chunk in which the
        tagger is sure of one of the rule's `unless` classes does not count (typing is not a cough, however the
        detector scores it)."""
        t = obs.chunk.t1
        mine = self._above_background(rule, scores[idx], state) if rule.background > 0 else scores[idx]
        k = int(np.argmax(mine))
        score = float(mine[k]) if rule.combine is Combine.MAX else min(1.0, float(mine.sum()))
        episode = state.episodes.get(rule.name)
        if episode is not None and t - episode.last > rule.gap + CHUNK_SECONDS / 2:
            del state.episodes[rule.name]  # gone for longer than the gap: what comes next is a new sound
            episode = None
        if score < rule.threshold - SCORE_TOLERANCE:
            return None
        if len(unless) and float(scores[unless].max()) >= UNLESS_SCORE - SCORE_TOLERANCE:
            return None
        if episode is None:
            onsets = [o.t0 for o in obs.sounds.onsets if o.index in idx] if obs.sounds else []
            episode = state.episodes[rule.name] = _Episode(t0=min([obs.chunk.t0, *onsets]), last=t)
        episode.hits += 1
        episode.last = t
        sure = rule.confident < 1.0 and score >= rule.confident - SCORE_TOLERANCE
        last = state.last_response.get(rule.name)
        if episode.decided:  # a sound still going on is reported again once the cooldown is over (a long alarm)
            again = last is not None and t - last >= rule.cooldown
            return _Candidate(rule, self.names[idx[k]], score, episode) if again else None
        if not sure and episode.hits * CHUNK_SECONDS < rule.min_duration - 1e-6:
            return None
        if last is not None and t - last < rule.cooldown:
            episode.decided = True  # grouped into the earlier response
            return None
        return _Candidate(rule, self.names[idx[k]], score, episode)

    def _one_response_per_sound(self, candidates: list[_Candidate], t: float,
                                state: SoundPolicyState) -> list[_Candidate]:
        """While the sound last responded to goes on, other rules no more urgent than it stay silent: the tagger
        names one siren Siren, then Fire alarm; one smoke alarm Smoke alarm, then Ringtone. Their episodes count as
        grouped into that response. A more urgent sound still speaks (a scream during a dog's barking)."""
        answered = self._ongoing(state.answered, t, state)
        if answered is None:
            return candidates
        kept = []
        for c in candidates:
            if c.rule.name != answered.name and ACTION_PRIORITY[c.rule.action] <= ACTION_PRIORITY[answered.action]:
                c.episode.decided = True
            else:
                kept.append(c)
        return kept

    @staticmethod
    def _ongoing(rule: SoundRule | None, t: float, state: SoundPolicyState) -> SoundRule | None:
        episode = state.episodes.get(rule.name) if rule is not None else None
        if episode is None or not episode.decided:
            return None
        return rule if t - episode.last <= rule.gap + CHUNK_SECONDS / 2 else None

    @staticmethod
    def _above_background(rule: SoundRule, scores: np.ndarray, state: SoundPolicyState) -> np.ndarray:
        """How far each class's score rises from its background level m toward 1: (score - m) / (1 - m), at least 0.

        m is the class's median chunk score over the rule's `background` seconds before this chunk (0 at the start).
        A class that a steady background keeps scoring (a room where music plays, rain) then counts only when it
        rises above that level; a sound shorter than half the window does not move its own median.
        """
        past = state.history.setdefault(rule.name, [])
        level = np.median(past, axis=0) if past else np.zeros_like(scores)
        past.append(scores.astype(np.float32))
        del past[: max(0, len(past) - round(rule.background / CHUNK_SECONDS))]
        return np.clip((scores - level) / np.maximum(1.0 - level, 1e-3), 0.0, 1.0)
