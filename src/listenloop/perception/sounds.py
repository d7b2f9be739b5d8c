"""Everyday sounds (AudioSet, 521 classes) with YAMNet int8: one loaded model, state per stream.

Every 0.2 s the tagger scores the last 0.975 s of audio (one YAMNet patch), so each 0.4 s chunk ends two regular
patches and a sound is seen at most 0.2 s after it enters the window. When a regular patch hears something (a learned
class near its operating point, or an AudioSet class other than speech, music and room noise), the tagger looks
closer: it also scores the patches ending 0.1 s before each regular one (a second model call), and the chunk's scores
are the highest over all four. A short sound scores best in some positions of the window: the closer look keeps the
recall of a patch every 0.1 s, at two patches a chunk where nothing is heard (docs/benchmarks/sounds.md, "Looking
closer"). A patch may also be scored with each mel band's running floor (a steady background such as rain)
subtracted, a class keeping the higher score (`Features.BOTH`). Per class, hysteresis over the regular patches turns
scores into sound events: an onset when a class holds for 0.2 s, an offset when it has been gone for 0.6 s. Before
the stream starts the window holds digital silence, so the first chunk is already tagged.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

import numpy as np

from listenloop.audio.chunker import Chunk
from listenloop.audio.constants import SAMPLE_RATE, SAMPLES_PER_CHUNK
from listenloop.models import model_dir
from listenloop.perception import yamnet_frontend as fe
from listenloop.perception.detector import Packaged, SoundDetector, default_detector, yamnet_graph
from listenloop.perception.observation import DetectedSounds, SoundOffset, SoundOnset, SoundResult, SoundTag

N_CLASSES = 521  # AudioSet classes scored by YAMNet
PATCHES_PER_CHUNK = 2  # regular patches that end in every 0.4 s chunk (the closer look adds the two between them)
PATCH_HOP_SAMPLES = SAMPLES_PER_CHUNK // PATCHES_PER_CHUNK  # 3200 samples = 0.2 s between patches
PATCH_HOP_SECONDS = PATCH_HOP_SAMPLES / SAMPLE_RATE  # 0.2 s

# The graph's output is quantized: scores come in steps 0.09, 0.18, 0.32, 0.50, 0.68, 0.82, 0.91 ... (logit 0.757 q).
EVENT_ON_SCORE = 0.5  # a class at or above this (logit >= 0) counts as present in a patch
EVENT_OFF_SCORE = 0.3  # a present class stays present while at or above this (one quantization step lower)
EVENT_ON_S = 0.2  # s a class must stay present (patch ends) to confirm an onset: one-patch blips are noise
EVENT_OFF_S = 0.6  # s of absent patches that end a sound: bridges gaps between barks or words
EVENT_ON_PATCHES = round(EVENT_ON_S / PATCH_HOP_SECONDS) + 1  # 2 consecutive present patches
EVENT_OFF_PATCHES = round(EVENT_OFF_S / PATCH_HOP_SECONDS)  # 3 consecutive absent patches
ONSET_LAG_S = 0.2  # s; a sound is scored present about this long after it enters a patch (measured, see tests)
OFFSET_LAG_S = 0.6  # s; and stays present until about this long after it stopped (0.975 s window, measured)
REPORT_SCORE = 0.5  # classes at or above this are listed in SoundResult.top
REPORT_TOP = 5  # at most this many classes in SoundResult.top
OFFLINE_PATCHES_PER_CALL = 16  # patches scored per model call on a whole recording (past 16 a patch costs more)

CLOSER_LEARNED = 0.3  # a learned class at this calibrated score (0.5: its operating point) makes the tagger look closer
CLOSER_AUDIOSET = 0.5  # ... as does an AudioSet class present (the 0.5 step) that is not ambient
SILENCE_CLASS = "Silence"  # never reported as a sound event
# AudioSet classes that are someone talking: their max is SoundResult.speech_score, which gates recognition.
SPEECH_CLASSES = (
    "Speech",
    "Child speech, kid speaking",
    "Conversation",
    "Narration, monologue",
    "Babbling",
    "Speech synthesizer",
    "Whispering",
)
# AudioSet classes that do not make the tagger look closer: talk, music, steady backgrounds (rain, typing, traffic,
# wind, a television) and the sound of a room, a line or a microphone's own noise (YAMNet hears a quiet room's hiss as
# "Snake" 0.5). A target heard over them still makes it look closer by its own score.
AMBIENT_CLASSES = (*SPEECH_CLASSES, "Hubbub, speech noise, speech babble", SILENCE_CLASS, "Music", "Musical instrument",
                   "Rain", "Raindrop", "Rain on surface", "Typing", "Computer keyboard", "Traffic noise, roadway noise",
                   "Vehicle", "Car", "Wind", "Wind noise (microphone)", "Television", "Radio", "Noise",
                   "Environmental noise", "White noise", "Pink noise", "Static", "Hum", "Mains hum", "Hiss", "Snake",
                   "Inside, small room", "Inside, large room or hall")


class Features(StrEnum):
    """Which log-mel views of a patch the model scores; a class keeps its highest score over the views."""

    RAW = "raw"  # the audio as heard (YAMNet's own recipe; what the learned detector was trained on): the default
    DENOISED = "denoised"  # each band's 3 s running minimum subtracted before the log
    BOTH = "both"  # both views (twice the model cost; the default until the learned detector's policy)


VIEWS = {Features.RAW: (False,), Features.DENOISED: (True,), Features.BOTH: (False, True)}  # denoise per view


def load_class_names(path: Path | None = None) -> tuple[str, ...]:
    """AudioSet display names in YAMNet's output order, from the packaged yamnet_class_map.csv."""
    path = path or model_dir("yamnet") / "yamnet_class_map.csv"
    with open(path, newline="", encoding="utf-8") as f:
        names = tuple(row["display_name"] for row in csv.DictReader(f))
    if len(names) != N_CLASSES:
        raise ValueError(f"{path}: expected {N_CLASSES} classes, found {len(names)}")
    return names


@dataclass(frozen=True)
class OfflineTags:
    """Patch scores of a whole recording, computed at once (the reference for the streaming tagger)."""

    times: np.ndarray  # [n] stream time (s) at which each patch ends
    scores: np.ndarray  # [n, 521] class scores of each patch (the highest over the views)
    onsets: tuple[SoundOnset, ...]  # sound events over the whole recording
    offsets: tuple[SoundOffset, ...]


@dataclass
class _Tracks:
    """Hysteresis of every class, as arrays over the 521 classes."""

    active: np.ndarray = field(default_factory=lambda: np.zeros(N_CLASSES, bool))  # inside a sound event
    on_run: np.ndarray = field(default_factory=lambda: np.zeros(N_CLASSES, np.int32))  # consecutive present patches
    off_run: np.ndarray = field(default_factory=lambda: np.zeros(N_CLASSES, np.int32))  # consecutive absent patches
    run_start: np.ndarray = field(default_factory=lambda: np.zeros(N_CLASSES))  # s, end of the first present patch
    last_present: np.ndarray = field(default_factory=lambda: np.zeros(N_CLASSES))  # s, end of last present patch
    t0: np.ndarray = field(default_factory=lambda: np.zeros(N_CLASSES))  # s, onset of the active event
    peak: np.ndarray = field(default_factory=lambda: np.zeros(N_CLASSES, np.float32))  # peak score of the event


FRAMES_PER_HOP = PATCH_HOP_SAMPLES // fe.HOP_SAMPLES  # 20 log-mel frames between patches
CLOSER_FRAMES = FRAMES_PER_HOP // 2  # the closer look's patch ends this many frames (0.1 s) before a regular one
HISTORY_FRAMES = fe.PATCH_FRAMES + CLOSER_FRAMES  # log-mel frames kept between chunks
_SILENT_FRAME = float(np.log(fe.LOG_OFFSET))  # log-mel of digital silence


@dataclass
class SoundState:
    """Everything one stream needs between chunks. `reset()` forgets the stream.

    Before the stream the window holds 0.975 s of digital silence: frame f covers samples [160 f - 15600, ...) of
    the stream, and the patch ending at stream sample 3200 m is frames 20 m .. 20 m + 95.
    """

    tail: np.ndarray = field(default_factory=lambda: np.zeros(fe.WINDOW_SAMPLES - fe.HOP_SAMPLES, np.float32))
    mel: np.ndarray = field(  # the last HISTORY_FRAMES log-mel frames of each view: [2, frames, bands]
        default_factory=lambda: np.full((2, HISTORY_FRAMES, fe.MEL_BANDS), _SILENT_FRAME, np.float32))
    frames: int = fe.PATCH_FRAMES  # log-mel frames computed so far (the silent ones included)
    lin: np.ndarray = field(  # the last FLOOR_FRAMES - 1 linear mel frames (for the floor subtraction)
        default_factory=lambda: np.zeros((fe.FLOOR_FRAMES - 1, fe.MEL_BANDS), np.float32))
    next_patch: int = 1  # patch m ends at stream sample 3200 m
    samples: int = 0  # samples consumed so far
    tracks: _Tracks = field(default_factory=_Tracks)

    def reset(self) -> None:
        fresh = SoundState()
        self.tail, self.mel, self.frames, self.lin = fresh.tail, fresh.mel, fresh.frames, fresh.lin
        self.next_patch, self.samples, self.tracks = fresh.next_patch, fresh.samples, fresh.tracks


class YamnetTagger:
    """YAMNet int8 on 0.975 s patches every 0.2 s. One onnxruntime session (one thread) serves every stream."""

    def __init__(self, folder: Path | None = None, *, features: Features | str = Features.RAW,
                 detector: SoundDetector | Packaged | None = Packaged.DETECTOR, embeddings: bool = False) -> None:
        import onnxruntime as ort

        folder = folder or model_dir("yamnet")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1  # one patch is ~1 ms; threads would only contend with recognition
        opts.inter_op_num_threads = 1
        # The graph's int8 convolutions run as dequantize -> float convolution -> quantize, not fused into int8
        # kernels: on an x86 CPU without VNNI (AVX2 only: Zen 1-3, Intel before Ice Lake) the fused kernels sum
        # uint8 x int8 products in saturating 16-bit lanes (vpmaddubsw), and the scores drift (gunfire over rain
        # 0.32 instead of 0.50, a dog's bark no longer counted). The float path scores alike on every CPU.
        opts.add_session_config_entry("session.disable_quant_qdq", "1")
        if detector is Packaged.DETECTOR:
            detector = default_detector()
        self.detector = detector  # the learned head: the graph then also returns its pooled embedding
        # embeddings: the graph also returns its pooled embedding (the detector reads it; training asks for it alone)
        graph = yamnet_graph(folder / "model.onnx", embeddings=bool(detector or embeddings))
        self._session = ort.InferenceSession(graph, opts, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self.names = load_class_names(folder / "yamnet_class_map.csv")
        self._index = {name: i for i, name in enumerate(self.names)}
        self.speech_classes = np.array([self._index[n] for n in SPEECH_CLASSES])
        self._silence = self._index[SILENCE_CLASS]
        self._not_ambient = np.ones(N_CLASSES, bool)
        self._not_ambient[[self._index[n] for n in AMBIENT_CLASSES]] = False
        try:
            self.features = Features(features)
        except ValueError:
            raise ValueError(f"features must be one of {', '.join(Features)}, not {features!r}") from None
        self._views = VIEWS[self.features]

    def index(self, name: str) -> int:
        """Class index of an AudioSet display name (KeyError if unknown)."""
        return self._index[name]

    def init_state(self) -> SoundState:
        return SoundState()

    def score_patch(self, patch: np.ndarray) -> np.ndarray:
        """[96, 64] log-mel patch -> [521] scores."""
        return self.run_patch(patch)[0]

    def run_patch(self, patch: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """[96, 64] log-mel patch -> [521] scores and, with a detector, the [1024] pooled embedding."""
        scores, embeddings = self.run_patches(patch[None])
        return scores[0], (embeddings[0] if embeddings is not None else None)

    def run_patches(self, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """[n, 96, 64] log-mel patches -> [n, 521] scores and, with a detector, [n, 1024] pooled embeddings, in one
        call (each patch's numbers are those of a call of its own)."""
        out = self._session.run(None, {self._input: fe.quantize_patch(patches)})
        return fe.dequantize_scores(out[0]), (out[1].reshape(len(patches), -1) if len(out) > 1 else None)

    def _score_views(self, mel: np.ndarray, starts: list[int]) -> tuple[np.ndarray, list[np.ndarray | None]]:
        """[n, 521] highest score over the tagger's views of the patches at frames `starts` of `mel` [2, frames,
        64], and the embedding of each patch's first view (the audio as heard, which the detector was trained on).
        One model call for them all."""
        if not starts:
            return np.zeros((0, N_CLASSES), np.float32), []
        views = len(self._views)
        patches = np.stack([mel[v, s : s + fe.PATCH_FRAMES] for s in starts for v in range(views)])
        scores, embeddings = self.run_patches(patches)
        best = scores.reshape(len(starts), views, N_CLASSES).max(axis=1)
        firsts = list(embeddings[::views]) if embeddings is not None else [None] * len(starts)
        return best, firsts

    def step(self, chunk: Chunk | np.ndarray, state: SoundState) -> SoundResult:
        """Score every patch that ends inside this chunk and update the sound events of the stream."""
        samples = np.asarray(chunk.samples if isinstance(chunk, Chunk) else chunk, dtype=np.float32).reshape(-1)
        state.samples += len(samples)
        tail = np.concatenate([state.tail, samples])
        n_new = max(0, (len(tail) - fe.WINDOW_SAMPLES) // fe.HOP_SAMPLES + 1)
        history = state.mel
        if n_new:  # only the new frames: each sample goes through the FFT about 2.5 times, not 15 times
            new = self._features(tail[: (n_new - 1) * fe.HOP_SAMPLES + fe.WINDOW_SAMPLES], state)
            history = np.concatenate([history, new], axis=1)
            state.tail = tail[n_new * fe.HOP_SAMPLES :]
            state.frames += n_new
        else:
            state.tail = tail
        first_frame = state.frames - history.shape[1]  # frame number of history[:, 0]
        due = range(state.next_patch, (state.frames - fe.PATCH_FRAMES) // FRAMES_PER_HOP + 1)  # patches now complete
        starts = [FRAMES_PER_HOP * m - first_frame for m in due]
        scored, embeddings = self._score_views(history, starts)
        rows, onsets, offsets = list(scored), [], []
        for m, scores in zip(due, scored, strict=True):
            on, off = self._track(state.tracks, scores, m * PATCH_HOP_SAMPLES / SAMPLE_RATE)
            onsets += on
            offsets += off
        state.next_patch += len(due)
        state.mel = history[:, -HISTORY_FRAMES:].copy()
        result = self._result(rows, tuple(onsets), tuple(offsets), embeddings)
        if rows and self._heard(result):
            closer, closer_embeddings = self._score_views(history, [st - CLOSER_FRAMES for st in starts])
            result = self._closer(result, closer, closer_embeddings)
        return result

    def _heard(self, result: SoundResult) -> bool:
        """Whether the regular patches heard something worth a closer look (see the module doc)."""
        if result.detected is not None and len(result.detected.scores) and (
                result.detected.scores.max() >= CLOSER_LEARNED):
            return True
        return bool(result.scores[self._not_ambient].max() >= CLOSER_AUDIOSET)

    def _closer(self, result: SoundResult, scores: np.ndarray, embeddings: list[np.ndarray | None]) -> SoundResult:
        """The chunk's result with the in-between patches' scores in its maxima (its regular patches, which sound
        events and counts are made of, unchanged)."""
        best = np.maximum(result.scores, scores.max(axis=0))
        detected = result.detected
        if detected is not None and self.detector is not None:
            more = self.detector.scores(np.stack(embeddings))
            detected = replace(detected, scores=np.maximum(detected.scores, more.max(axis=0)))
        return replace(result, scores=best, top=self._top(best), speech_score=float(best[self.speech_classes].max()),
                       detected=detected)

    def _features(self, samples: np.ndarray, state: SoundState) -> np.ndarray:
        """[2, frames, 64] log-mel of the new frames in each view (an unused second view stays silent)."""
        mel = fe.mel_energy(samples)
        out = np.full((2, len(mel), fe.MEL_BANDS), _SILENT_FRAME, np.float32)
        for v, denoise in enumerate(self._views):
            out[v] = fe.to_log(fe.subtract_floor(mel, state.lin) if denoise else mel)
        if any(self._views):
            state.lin = np.concatenate([state.lin, mel])[-(fe.FLOOR_FRAMES - 1) :]
        return out

    def finish(self, state: SoundState) -> tuple[SoundOffset, ...]:
        """Close the sounds still going on when the stream ends (their end is the end of the stream)."""
        tr = state.tracks
        end = state.samples / SAMPLE_RATE
        out = tuple(
            SoundOffset(self.names[i], int(i), float(tr.t0[i]), max(float(tr.t0[i]), end), float(tr.peak[i]))
            for i in np.flatnonzero(tr.active)
        )
        tr.active[:] = False
        return out

    def offline_tags(self, audio: np.ndarray) -> OfflineTags:
        """The regular patches of a recording from one log-mel pass, plus its events: the streaming tagger's regular
        patches and events must agree with these (its chunk scores add the closer look's)."""
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        lin = fe.mel_energy(np.concatenate([np.zeros(fe.PATCH_SAMPLES, np.float32), audio]))
        floor = np.zeros((fe.FLOOR_FRAMES - 1, fe.MEL_BANDS), np.float32)
        mel = np.full((2, *lin.shape), _SILENT_FRAME, np.float32)
        for v, denoise in enumerate(self._views):
            mel[v] = fe.to_log(fe.subtract_floor(lin, floor) if denoise else lin)
        n = len(audio) // PATCH_HOP_SAMPLES
        scores = np.zeros((n, N_CLASSES), np.float32)
        for k in range(0, n, OFFLINE_PATCHES_PER_CALL):
            block = range(k, min(n, k + OFFLINE_PATCHES_PER_CALL))
            scores[block.start : block.stop] = self._score_views(mel, [(j + 1) * FRAMES_PER_HOP for j in block])[0]
        tracks, onsets, offsets = _Tracks(), [], []
        for k in range(n):
            on, off = self._track(tracks, scores[k], (k + 1) * PATCH_HOP_SAMPLES / SAMPLE_RATE)
            onsets += on
            offsets += off
        times = np.arange(1, n + 1) * PATCH_HOP_SAMPLES / SAMPLE_RATE
        return OfflineTags(times, scores, tuple(onsets), tuple(offsets))

    def _track(self, tr: _Tracks, scores: np.ndarray, t: float) -> tuple[list[SoundOnset], list[SoundOffset]]:
        """Advance every class's hysteresis by one patch ending at stream time t (s)."""
        present = scores >= EVENT_ON_SCORE
        present[self._silence] = False
        tr.on_run = np.where(present, tr.on_run + 1, 0)
        tr.run_start = np.where(present & (tr.on_run == 1), t, tr.run_start)
        grown = np.where(tr.active | present, np.maximum(tr.peak, scores), tr.peak)
        tr.peak = np.where(~tr.active & (tr.on_run == 1), scores, grown)  # a new run starts its own peak
        still = tr.active & (scores >= EVENT_OFF_SCORE)
        tr.last_present = np.where(present | still, t, tr.last_present)
        tr.off_run = np.where(tr.active & ~still, tr.off_run + 1, 0)

        started = np.flatnonzero(~tr.active & (tr.on_run >= EVENT_ON_PATCHES))
        ended = np.flatnonzero(tr.active & (tr.off_run >= EVENT_OFF_PATCHES))
        offsets = []
        for i in ended:
            t1 = max(float(tr.t0[i]), float(tr.last_present[i]) - OFFSET_LAG_S)
            offsets.append(SoundOffset(self.names[i], int(i), float(tr.t0[i]), t1, float(tr.peak[i])))
        tr.active[ended] = False
        onsets = []
        for i in started:
            tr.t0[i] = max(0.0, float(tr.run_start[i]) - ONSET_LAG_S)
            onsets.append(SoundOnset(self.names[i], int(i), float(tr.t0[i]), float(tr.peak[i])))
        tr.active[started] = True
        tr.off_run[started] = 0
        return onsets, offsets

    def _result(self, rows: list[np.ndarray], onsets: tuple, offsets: tuple,
                embeddings: list[np.ndarray | None]) -> SoundResult:
        detected = None
        if self.detector is not None:
            patches = (self.detector.scores(np.stack(embeddings)) if rows
                       else np.zeros((0, len(self.detector.classes)), np.float32))
            detected = DetectedSounds(patches.max(axis=0) if rows else np.zeros(patches.shape[1], np.float32),
                                      patches, self.detector.classes)
        if not rows:
            return SoundResult(np.zeros(N_CLASSES, np.float32), onsets=onsets, offsets=offsets, detected=detected)
        scores = np.max(rows, axis=0)
        return SoundResult(scores, self._top(scores), onsets, offsets, float(scores[self.speech_classes].max()),
                           np.asarray(rows), detected)

    def _top(self, scores: np.ndarray) -> tuple[SoundTag, ...]:
        best = [i for i in np.argsort(-scores)[:REPORT_TOP] if scores[i] >= REPORT_SCORE]
        return tuple(SoundTag(self.names[i], int(i), float(scores[i])) for i in best)
