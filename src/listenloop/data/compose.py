"""Composing one labelled stream: turns of every hard kind placed on a timeline, then mixed and labelled.

A stream is fully determined by its seed. Labels follow the reference recipe: every chunk is silent except the
chunk in which a reply to a turn becomes due (REPLY_MIN_DELAY_S after the turn's end).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE, SAMPLES_PER_CHUNK
from listenloop.audio.decode import load_audio
from listenloop.data import content, mixing, real_voice
from listenloop.data.languages import lines_of
from listenloop.data.manifest import NO_RESPONSE, SILENT_LABEL, Pause, Turn, TurnKind, chunk_of
from listenloop.data.speakers import SYNTH_ENGINES, draw_speaker, trim
from listenloop.vocabulary import Emotion, Mode, Task

REPLY_MIN_DELAY_S = 0.04  # a reply starts 0.04 to 0.4 s after the turn ends (reference recipe)
GAP_S = (0.8, 2.4)  # background between turns (reference recipe)
CROSSTALK_GAP_S = (0.15, 0.6)  # people answering each other leave short gaps
PAUSE_S = (0.7, 1.6)  # pauses inside an unfinished sentence: longer than the 0.5-0.8 s silence timeouts
SOUND_S = (1.2, 4.0)  # length of a sound event excerpt
ROOM_RT60_S = (0.25, 0.7)  # reverberation of speech from across the room
KIND_WEIGHTS = {  # how often each kind of turn is drawn; hard cases are over-represented on purpose
    TurnKind.QUESTION: 0.20,
    TurnKind.REQUEST: 0.10,
    TurnKind.STATEMENT: 0.15,
    TurnKind.HESITATION: 0.17,
    TurnKind.CROSSTALK: 0.10,
    TurnKind.TELEVISION: 0.08,
    TurnKind.SOUND: 0.20,
}


@dataclass(frozen=True)
class Material:
    """Inputs beyond the built-in text: sound files, speech files with transcripts, which half of the text."""

    sounds: tuple[Path, ...] = ()  # sound-event and background files
    speech: tuple[tuple[Path, str], ...] = ()  # (audio file, transcript)
    split: str = "train"  # "train" | "test" | "all": which half of the sentences to use
    engines: tuple[str, ...] = ("espeak", "piper")  # talkers to draw the user's voice from ("real": recordings)
    real: real_voice.RealVoices | None = None  # aligned real recordings, when "real" is among the engines
    language: str = "en"  # what every voice of the stream speaks (data/languages.py)

    @property
    def synth_engines(self) -> tuple[str, ...]:
        """The synthesizers for other people in the room (real recordings are one voice: the user's)."""
        return tuple(e for e in self.engines if e != "real") or SYNTH_ENGINES

    @property
    def event_sounds(self) -> tuple[Path, ...]:
        return self.sounds

    @property
    def background_sounds(self) -> tuple[Path, ...]:
        return tuple(p for p in self.sounds if content.sound_rule(p.stem) is None)


@dataclass(frozen=True)
class StreamOptions:
    seconds: float = 60.0  # target length of a stream (the last turn may run past it)
    transcribe_fraction: float = 0.25  # streams whose session task is transcription
    telephone_fraction: float = 0.15  # streams passed through a telephone band
    snrs_db: tuple[float | None, ...] = (None, None, 20.0, 10.0, 5.0, 0.0)  # background over speech; None: floor


@dataclass
class Timeline:
    """Audio appended piece by piece; remembers where each turn sits."""

    parts: list[np.ndarray] = field(default_factory=list)
    n: int = 0
    turns: list[Turn] = field(default_factory=list)

    @property
    def t(self) -> float:
        return self.n / SAMPLE_RATE

    def gap(self, seconds: float) -> None:
        self.append(np.zeros(int(round(seconds * SAMPLE_RATE)), dtype=np.float32))

    def append(self, audio: np.ndarray) -> tuple[float, float]:
        t0 = self.t
        self.parts.append(audio.astype(np.float32))
        self.n += len(audio)
        return t0, self.t

    def audio(self) -> np.ndarray:
        """All pieces, padded with silence to whole chunks."""
        total = -(-self.n // SAMPLES_PER_CHUNK) * SAMPLES_PER_CHUNK
        out = np.zeros(total, dtype=np.float32)
        if self.parts:
            joined = np.concatenate(self.parts)
            out[: len(joined)] = joined
        return out


@lru_cache(maxsize=64)
def _load(path: Path) -> np.ndarray:
    return load_audio(path)


def pick(rng: np.random.Generator, items: tuple):
    return items[int(rng.integers(0, len(items)))]


@dataclass
class Deck:
    """Lines drawn at random without repeats within one stream, until all have been said (then all are new again):
    the same question twice in a minute is not how people talk, and the recognizer conditioned on the first one
    completes the second from it."""

    items: tuple
    said: set[int] = field(default_factory=set)

    def draw(self, rng: np.random.Generator):
        if len(self.said) >= len(self.items):
            self.said.clear()
        fresh = [i for i in range(len(self.items)) if i not in self.said]
        index = fresh[int(rng.integers(0, len(fresh)))]
        self.said.add(index)
        return self.items[index]


class Composer:
    """Draws and places the turns of one stream."""

    def __init__(self, rng: np.random.Generator, material: Material, mode: Mode) -> None:
        self.rng = rng
        self.material = material
        self.mode = mode
        self.line = Timeline()
        self.near = draw_speaker(rng, material.engines)  # the user: one voice per stream
        self.real = real_voice.RealDecks(material.real, material.split, Deck) if material.real else None
        self.lines = lines = lines_of(material.language)
        self.decks = {
            TurnKind.QUESTION: Deck(content.in_split(lines.questions, material.split)),
            TurnKind.REQUEST: Deck(content.in_split(lines.requests, material.split)),
            TurnKind.STATEMENT: Deck(content.in_split(lines.statements, material.split)),
            TurnKind.CROSSTALK: Deck(content.in_split(lines.crosstalk, material.split, key=lambda d: d[0])),
            TurnKind.TELEVISION: Deck(content.in_split(lines.television, material.split)),
        }

    def _spoken_task(self, kind: TurnKind) -> Task | None:
        if self.mode is Mode.TRANSCRIBE:
            return Task.TRANSCRIBE
        return Task.ANSWER if kind in (TurnKind.QUESTION, TurnKind.REQUEST) else None

    def _turn(self, user: str, kind: TurnKind, t0: float, t1: float, task: Task | None, **kw) -> Turn:
        reply = kw.pop("reply", None)
        if reply is None:
            reply = user if task is Task.TRANSCRIBE else f"<{task.value}>" if task else NO_RESPONSE
        return Turn(user=user, assistant=reply, scene_type=kind.value, kind=kind, t0=t0, t1=t1, task=task, **kw)

    def spoken(self, kind: TurnKind) -> None:
        """A question, request or statement by the user (a speech file when given, sometimes)."""
        if self.near.engine == "real" and self.real is not None:
            recording = self.real.spoken(self.rng, kind)
            audio, source, text, kind = trim(_load(recording.path)), recording.source, recording.text, recording.kind
        elif self.material.speech and self.rng.random() < 0.3:
            path, text = pick(self.rng, self.material.speech)
            audio, source = trim(_load(path)), str(path)
            kind = TurnKind.QUESTION if text.rstrip().endswith("?") else TurnKind.STATEMENT
        else:
            text = self.lines.spoken(self.decks[kind].draw(self.rng))
            audio, source = self.near.say(text), self.near.tag
        t0, t1 = self.line.append(mixing.set_level(audio, mixing.NEAR_LEVEL_DBFS + self.rng.uniform(-4, 4)))
        self.line.turns.append(self._turn(text, kind, t0, t1, self._spoken_task(kind), source=source))

    def hesitation(self) -> None:
        """One sentence broken after open words by pauses and fillers; judged only at its real end."""
        if self.near.engine == "real" and self.real is not None:
            broken = self.real.broken(self.rng, _load)
            if broken is None:
                return self.spoken(TurnKind.STATEMENT)
            recording, pieces, audios = broken
            return self._broken(recording.kind, recording.text, pieces, [trim(a) for a in audios],
                                recording.source, fillers=False)
        kind = TurnKind.QUESTION if self.rng.random() < 0.6 else TurnKind.STATEMENT
        text = self.decks[kind].draw(self.rng)
        if self.lines.code != "en":
            return self._marked_hesitation(kind, text)
        words = text.split()
        cuts = content.hesitation_cuts(words)
        if not cuts:
            return self.spoken(kind)
        chosen = sorted(self.rng.choice(cuts, size=min(len(cuts), int(self.rng.integers(1, 3))), replace=False))
        pieces = [" ".join(words[a:b]) for a, b in zip([0, *chosen], [*chosen, len(words)], strict=True)]
        self._broken(kind, text, pieces, self.near.say_broken(pieces), self.near.tag, fillers=True)

    def _marked_hesitation(self, kind: TurnKind, line: str) -> None:
        """A sentence of another language broken at one or two of the points its line marks (sentences_zh.toml)."""
        parts = self.lines.pieces(line)
        if len(parts) < 2:
            return self.spoken(kind)
        cuts = sorted(self.rng.choice(np.arange(1, len(parts)), size=min(len(parts) - 1, int(self.rng.integers(1, 3))),
                                      replace=False))
        joiner = self.lines.joiner
        pieces = [joiner.join(parts[a:b]) for a, b in zip([0, *cuts], [*cuts, len(parts)], strict=True)]
        self._broken(kind, self.lines.spoken(line), pieces, self.near.say_broken(pieces), self.near.tag, fillers=True)

    def _broken(self, kind: TurnKind, text: str, pieces: list[str], audios: list[np.ndarray], source: str,
                fillers: bool) -> None:
        """Place the pieces of a broken sentence with pauses (and, from a synthesizer, fillers) between them."""
        level = mixing.NEAR_LEVEL_DBFS + self.rng.uniform(-4, 4)
        t_start, pauses, shown = self.line.t, [], []
        for i, (piece, audio) in enumerate(zip(pieces, audios, strict=True)):
            _, end = self.line.append(mixing.set_level(audio, level))
            shown.append(piece)
            if i == len(pieces) - 1:
                break
            self.line.gap(self.rng.uniform(*PAUSE_S) / 2)
            if fillers and self.rng.random() < 0.6:  # a filler inside the pause ("I was thinking... um... about")
                filler = pick(self.rng, self.lines.fillers)
                self.line.append(mixing.set_level(self.near.say(filler), level - 3))
                shown.append(filler)
            self.line.gap(self.rng.uniform(*PAUSE_S) / 2)
            pauses.append(Pause(end, self.line.t))
        user = f"...{self.lines.joiner}".join(shown)
        task = self._spoken_task(kind)
        turn = self._turn(user, TurnKind.HESITATION, t_start, self.line.t, task, pauses=tuple(pauses),
                          source=source, reply=text if task is Task.TRANSCRIBE else None)
        self.line.turns.append(turn)

    def crosstalk(self) -> None:
        """Two other people talking to each other, across the room: never for the assistant."""
        lines = self.decks[TurnKind.CROSSTALK].draw(self.rng)
        engines = self.material.synth_engines
        voices = (draw_speaker(self.rng, engines), draw_speaker(self.rng, engines))
        level = mixing.NEAR_LEVEL_DBFS - self.rng.uniform(*mixing.FAR_LEVEL_DROP_DB)
        rt60 = self.rng.uniform(*ROOM_RT60_S)
        for i, line in enumerate(lines):
            voice, text = voices[i % 2], self.lines.spoken(line)
            audio = mixing.room(voice.say(text), self.rng, rt60)
            t0, t1 = self.line.append(mixing.set_level(audio, level))
            self.line.turns.append(self._turn(text, TurnKind.CROSSTALK, t0, t1, None, addressed=False,
                                              source=voice.tag))
            if i < len(lines) - 1:
                self.line.gap(self.rng.uniform(*CROSSTALK_GAP_S))

    def television(self) -> None:
        """Broadcast speech from a small speaker across the room, often over music."""
        voice = draw_speaker(self.rng, self.material.synth_engines)
        level = mixing.NEAR_LEVEL_DBFS - self.rng.uniform(*mixing.FAR_LEVEL_DROP_DB)
        rt60 = self.rng.uniform(*ROOM_RT60_S)
        for _ in range(int(self.rng.integers(1, 3))):
            text = self.lines.spoken(self.decks[TurnKind.TELEVISION].draw(self.rng))
            audio = mixing.room(mixing.loudspeaker(voice.say(text)), self.rng, rt60)
            audio = mixing.set_level(audio, level)
            music = self.material.background_sounds
            if music and self.rng.random() < 0.6:
                bed = mixing.loop_to(_load(pick(self.rng, music)), len(audio), self.rng)
                audio = audio + mixing.mix_at_snr(mixing.active_rms(audio), mixing.loudspeaker(bed), 12.0)
            t0, t1 = self.line.append(audio)
            self.line.turns.append(self._turn(text, TurnKind.TELEVISION, t0, t1, None, addressed=False,
                                              source=f"tv:{voice.tag}"))
            self.line.gap(self.rng.uniform(*CROSSTALK_GAP_S))

    def sound(self) -> None:
        """A sound event: answered when its class deserves it (alarm, dog, cough), ignored otherwise."""
        if not self.material.event_sounds:
            return self.spoken(TurnKind.STATEMENT)
        path = pick(self.rng, self.material.event_sounds)
        clip = mixing.loudest_excerpt(_load(path), self.rng.uniform(*SOUND_S), self.rng)
        clip = mixing.fade(trim(clip, floor_db=-35.0))
        t0, t1 = self.line.append(mixing.set_level(clip, self.rng.uniform(*mixing.SOUND_LEVEL_DBFS)))
        self.line.turns.append(Turn(scene_type=TurnKind.SOUND.value, kind=TurnKind.SOUND, t0=t0, t1=t1,
                                    source=path.name, **sound_labels(path.name)))

    def add(self, kind: TurnKind) -> None:
        if kind is TurnKind.HESITATION:
            self.hesitation()
        elif kind is TurnKind.CROSSTALK:
            self.crosstalk()
        elif kind is TurnKind.TELEVISION:
            self.television()
        elif kind is TurnKind.SOUND:
            self.sound()
        else:
            self.spoken(kind)


def sound_labels(file_name: str) -> dict[str, object]:
    """The labelled fields of a sound turn (user, assistant, emotion, task), from its file's name alone, so that
    `listenloop data relabel` gives old builds the labels a build gives now."""
    rule = content.sound_rule(Path(file_name).stem)
    if rule is None:
        return {"user": f"[sound: {content.IGNORED_SOUND}]", "assistant": NO_RESPONSE,
                "emotion": Emotion.NORMAL.value, "task": None}
    return {"user": f"[sound: {rule.label}]", "assistant": rule.reply, "emotion": rule.emotion.value,
            "task": rule.task}


def labels_for(turns: list[Turn] | tuple[Turn, ...], num_chunks: int) -> tuple[str, ...]:
    """One label per chunk: the task of a turn whose reply becomes due in that chunk, else silent."""
    labels = [SILENT_LABEL] * num_chunks
    for turn in turns:
        if turn.task is None or turn.t1 is None:
            continue
        index = min(chunk_of(turn.t1 + REPLY_MIN_DELAY_S), num_chunks - 1)
        labels[index] = turn.task.value
    return tuple(labels)


def finish(line: Timeline, rng: np.random.Generator, material: Material, snr_db: float | None,
           telephone: bool) -> np.ndarray:
    """Mix the room floor and the background over the whole stream; optionally pass it through a telephone."""
    audio = line.audio()
    floor = mixing.pink_noise(len(audio), rng) * 10 ** (rng.uniform(*mixing.FLOOR_LEVEL_DBFS) / 20)
    audio = audio + floor
    backgrounds = material.background_sounds
    if snr_db is not None:
        use_file = bool(backgrounds) and rng.random() < 0.7
        noise = mixing.loop_to(_load(pick(rng, backgrounds)), len(audio), rng) if use_file \
            else mixing.pink_noise(len(audio), rng)
        audio = audio + mixing.mix_at_snr(10 ** (mixing.NEAR_LEVEL_DBFS / 20), noise, snr_db)
    if telephone:
        audio = mixing.telephone(audio)
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    if peak > mixing.PEAK_LIMIT:
        audio = audio * (mixing.PEAK_LIMIT / peak)
    return audio.astype(np.float32)


def draw_kind(rng: np.random.Generator) -> TurnKind:
    kinds = list(KIND_WEIGHTS)
    weights = np.array([KIND_WEIGHTS[k] for k in kinds])
    return kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]


def compose(rng: np.random.Generator, material: Material, options: StreamOptions) -> tuple[np.ndarray, dict]:
    """Audio of one stream and the facts its manifest line needs (turns, labels, mode, snr, telephone)."""
    mode = Mode.TRANSCRIBE if rng.random() < options.transcribe_fraction else Mode.ASSISTANT
    composer = Composer(rng, material, mode)
    composer.line.gap(rng.uniform(0.4, 1.2))
    while composer.line.t < options.seconds:
        composer.add(draw_kind(rng))
        composer.line.gap(rng.uniform(*GAP_S))
    snr = options.snrs_db[int(rng.integers(0, len(options.snrs_db)))]
    phone = bool(rng.random() < options.telephone_fraction)
    audio = finish(composer.line, rng, material, snr, phone)
    turns = composer.line.turns
    return audio, {"turns": turns, "labels": labels_for(turns, len(audio) // SAMPLES_PER_CHUNK), "mode": mode,
                   "snr_db": snr, "telephone": phone}


def stitch_clips(rng: np.random.Generator, turns: tuple[Turn, ...], root: Path) -> tuple[np.ndarray, list[Turn]]:
    """A plain StreamAudio-2M stream: its turn clips in order, with background gaps, timed and tasked."""
    line = Timeline()
    line.gap(rng.uniform(0.4, 1.2))
    placed = []
    for turn in turns:
        path = Path(turn.audio_path)
        clip = trim(_load(path if path.is_absolute() else root / path))
        t0, t1 = line.append(clip)
        task = Task.ANSWER if turn.needs_response else None
        placed.append(replace(turn, t0=t0, t1=t1, task=task, source=turn.audio_path))
        line.gap(rng.uniform(*GAP_S))
    return line.audio(), placed
