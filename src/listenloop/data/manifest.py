"""The SoundFlow data contract: labelled streams as JSONL, a superset of the StreamAudio-2M format.

One stream per line. The StreamAudio-2M keys ({"id", "stream_scene_type", "num_turns", "turns": [{"user",
"assistant", "emotion", "scene_type", "audio_path"}]}) are always present, so tools written for that corpus read
our files; our extension adds the stream's audio, its timing and one label per 0.4 s chunk. Plain StreamAudio-2M
lines (no extension) are read too: they describe clips to stitch, not a built stream. Semantics in docs/soundflow.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from pathlib import Path

from listenloop.audio.constants import CHUNK_SECONDS
from listenloop.vocabulary import Mode, Task

NO_RESPONSE = "<no need to response>"  # StreamAudio-2M's marker for a turn that must get no reply
SILENT_LABEL = "silent"  # per-chunk label of a chunk where nothing is due
DUE_WINDOW_S = 1.2  # s: a reply is in time when it comes within this long after its turn ends (the rule; the
# benchmark counts by it, training makes the whole window the reply's class)
FORMAT_VERSION = 1  # bumped when the extension changes meaning


class ManifestError(ValueError):
    """A manifest line is not a usable stream; the message names the line and the problem."""


class TurnKind(StrEnum):
    """What a turn is, which decides whether and how it must be answered."""

    QUESTION = "question"  # a question to the assistant: answer when it ends
    REQUEST = "request"  # a request to the assistant: answer when it ends
    STATEMENT = "statement"  # narration to nobody in particular: silent (transcribed in transcription mode)
    HESITATION = "hesitation"  # a sentence broken by pauses and fillers: silent inside, judged at its real end
    CROSSTALK = "crosstalk"  # two people talking to each other: never answered
    TELEVISION = "television"  # broadcast speech in the room: never answered
    SOUND = "sound"  # a sound event; answered only when its class deserves it
    INSTRUCTION = "instruction"  # an instruction to the assistant: a short acknowledgement is allowed, not due
    CLIP = "clip"  # a turn read from a plain StreamAudio-2M manifest (kind unknown, answer as labelled)


@dataclass(frozen=True)
class Pause:
    """A pause inside an unfinished sentence: responding here is an interruption."""

    t0: float  # s, stream time
    t1: float  # s


@dataclass(frozen=True)
class Turn:
    user: str  # what was said (or "[sound: dog]" for sounds), StreamAudio-2M "user"
    assistant: str  # the expected reply text, or NO_RESPONSE
    emotion: str = "normal"  # Emotion value of the reply
    scene_type: str = ""  # StreamAudio-2M scene of the turn (we write the TurnKind value)
    audio_path: str = ""  # clip of the turn; for built streams the stream's audio (span t0..t1)
    # --- extension (absent in plain StreamAudio-2M) ---
    kind: TurnKind = TurnKind.CLIP
    t0: float | None = None  # s, where the turn's audio starts in the stream
    t1: float | None = None  # s, where it ends; a due reply is judged from here
    task: Task | None = None  # the response kind due at the end, None when no response is due
    addressed: bool = True  # False for speech not addressed to the assistant (crosstalk, television)
    pauses: tuple[Pause, ...] = ()  # pauses inside the unfinished sentence (hesitations)
    source: str = ""  # how the audio was made: "espeak:en-us+f2:1.10:62", "piper:0.90", a file path, a sound

    @property
    def needs_response(self) -> bool:
        return self.assistant != NO_RESPONSE


@dataclass(frozen=True)
class Stream:
    id: str
    stream_scene_type: str  # StreamAudio-2M scene of the whole stream
    turns: tuple[Turn, ...]
    # --- extension ---
    audio_path: str = ""  # the built stream (FLAC), relative to the manifest's folder
    duration_s: float = 0.0
    mode: Mode = Mode.ASSISTANT  # the session's task for the whole stream
    labels: tuple[str, ...] = ()  # one per chunk: SILENT_LABEL or the Task value due in that chunk
    snr_db: float | None = None  # SNR of the background mixed over the whole stream (None: clean gaps only)
    telephone: bool = False  # the stream went through a telephone band (300-3400 Hz, 8 kHz, mu-law)
    seed: int = 0  # the per-stream seed that built it
    language: str = "en"  # what its voices speak (ISO 639-1, data/languages.py)
    extra: dict[str, object] = field(default_factory=dict)  # unknown keys read from a manifest, kept as they were

    @property
    def num_turns(self) -> int:
        return len(self.turns)

    @property
    def built(self) -> bool:
        """True for a stitched stream with timing and labels (our extension), False for a plain clip list."""
        return bool(self.audio_path) and bool(self.labels)

    @property
    def num_chunks(self) -> int:
        return len(self.labels)


def respond_chunks(stream: Stream) -> list[tuple[int, Task]]:
    """(chunk index, task) of every chunk labelled respond."""
    return [(i, Task(label)) for i, label in enumerate(stream.labels) if label != SILENT_LABEL]


def chunk_of(t: float) -> int:
    """The chunk whose span [t0, t1) contains stream time t (s)."""
    return int(t / CHUNK_SECONDS + 1e-9)


def _turn_to_dict(turn: Turn) -> dict[str, object]:
    out: dict[str, object] = {
        "user": turn.user,
        "assistant": turn.assistant,
        "emotion": turn.emotion,
        "scene_type": turn.scene_type,
        "audio_path": turn.audio_path,
        "kind": turn.kind.value,
        "addressed": turn.addressed,
        "source": turn.source,
    }
    if turn.t0 is not None and turn.t1 is not None:
        out["t0"], out["t1"] = round(turn.t0, 4), round(turn.t1, 4)
    out["task"] = turn.task.value if turn.task else None
    if turn.pauses:
        out["pauses"] = [[round(p.t0, 4), round(p.t1, 4)] for p in turn.pauses]
    return out


def stream_to_dict(stream: Stream) -> dict[str, object]:
    out: dict[str, object] = dict(stream.extra)
    out.update(
        {
            "id": stream.id,
            "stream_scene_type": stream.stream_scene_type,
            "num_turns": stream.num_turns,
            "turns": [_turn_to_dict(t) for t in stream.turns],
        }
    )
    if stream.built:
        out.update(
            {
                "format": f"listenloop-soundflow/{FORMAT_VERSION}",
                "audio_path": stream.audio_path,
                "duration_s": round(stream.duration_s, 4),
                "chunk_s": CHUNK_SECONDS,
                "mode": stream.mode.value,
                "labels": list(stream.labels),
                "snr_db": stream.snr_db,
                "telephone": stream.telephone,
                "seed": stream.seed,
                "language": stream.language,
            }
        )
    return out


def _require(d: dict, key: str, kind: type | tuple[type, ...], where: str) -> object:
    if key not in d:
        raise ManifestError(f"{where}: missing key {key!r}")
    if not isinstance(d[key], kind):
        raise ManifestError(f"{where}: {key!r} must be {getattr(kind, '__name__', kind)}, got {d[key]!r}")
    return d[key]


def _enum(cls: type[Enum], value: object, where: str):
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(m.value for m in cls)
        raise ManifestError(f"{where}: {value!r} is not one of {allowed}") from None


def _turn_from_dict(d: object, where: str) -> Turn:
    if not isinstance(d, dict):
        raise ManifestError(f"{where}: a turn must be an object")
    assistant = str(_require(d, "assistant", str, where))
    task = d.get("task")
    kind = _enum(TurnKind, d.get("kind", TurnKind.CLIP.value), where)
    pauses = tuple(Pause(float(a), float(b)) for a, b in d.get("pauses", []))
    return Turn(
        user=str(_require(d, "user", str, where)),
        assistant=assistant,
        emotion=str(d.get("emotion") or "normal"),
        scene_type=str(d.get("scene_type") or ""),
        audio_path=str(d.get("audio_path") or ""),
        kind=kind,
        t0=float(d["t0"]) if d.get("t0") is not None else None,
        t1=float(d["t1"]) if d.get("t1") is not None else None,
        task=_enum(Task, task, where) if task else None,
        addressed=bool(d.get("addressed", True)),
        pauses=pauses,
        source=str(d.get("source") or ""),
    )


_KNOWN_KEYS = {"id", "stream_scene_type", "num_turns", "turns", "format", "audio_path", "duration_s", "chunk_s",
               "mode", "labels", "snr_db", "telephone", "seed", "language"}


def stream_from_dict(d: object, where: str = "stream") -> Stream:
    """A Stream from one decoded JSON line, plain StreamAudio-2M or extended."""
    if not isinstance(d, dict):
        raise ManifestError(f"{where}: a stream must be a JSON object")
    raw_turns = _require(d, "turns", list, where)
    turns = tuple(_turn_from_dict(t, f"{where} turn {i}") for i, t in enumerate(raw_turns))
    if "num_turns" in d and d["num_turns"] != len(turns):
        raise ManifestError(f"{where}: num_turns is {d['num_turns']} but {len(turns)} turns are listed")
    labels = tuple(str(x) for x in d.get("labels", []))
    for label in labels:
        if label != SILENT_LABEL:
            _enum(Task, label, f"{where} labels")
    chunk_s = d.get("chunk_s", CHUNK_SECONDS)
    if labels and abs(float(chunk_s) - CHUNK_SECONDS) > 1e-9:
        raise ManifestError(f"{where}: labelled for {chunk_s} s chunks, this engine decides every {CHUNK_SECONDS} s")
    return Stream(
        id=str(_require(d, "id", (str, int), where)),
        stream_scene_type=str(d.get("stream_scene_type") or ""),
        turns=turns,
        audio_path=str(d.get("audio_path") or ""),
        duration_s=float(d.get("duration_s") or 0.0),
        mode=_enum(Mode, d.get("mode", Mode.ASSISTANT.value), where),
        labels=labels,
        snr_db=float(d["snr_db"]) if d.get("snr_db") is not None else None,
        telephone=bool(d.get("telephone", False)),
        seed=int(d.get("seed", 0)),
        language=str(d.get("language") or "en"),
        extra={k: v for k, v in d.items() if k not in _KNOWN_KEYS},
    )


def read_manifest(path: str | Path) -> Iterator[Stream]:
    """Every stream of a JSONL manifest; a bad line raises ManifestError naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: no such manifest")
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                data = json.loads(line)
            except json.JSONDecodeError as e:
                raise ManifestError(f"{where}: not JSON ({e.msg})") from None
            yield stream_from_dict(data, where)


def write_manifest(path: str | Path, streams: Iterable[Stream]) -> int:
    """Write streams as JSONL (one per line); returns how many were written."""
    n = 0
    with Path(path).open("w", encoding="utf-8") as f:
        for stream in streams:
            f.write(json.dumps(stream_to_dict(stream), ensure_ascii=False) + "\n")
            n += 1
    return n
