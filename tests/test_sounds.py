"""The YAMNet sound tagger: streaming equals offline, sound events at the right times, a meaningful speech score."""

from __future__ import annotations

import numpy as np
import pytest

from listenloop.audio.constants import SAMPLE_RATE, SAMPLES_PER_CHUNK
from listenloop.audio.decode import load_audio
from listenloop.perception.observation import SoundResult
from listenloop.perception.sounds import PATCH_HOP_SECONDS, PATCHES_PER_CHUNK, Features, YamnetTagger

BARK = "streams/01_count_bark/sample01_02.wav"
COUGH = "streams/03_cough_music/sample03_01.wav"
NOISE_RMS = 3e-4  # a quiet room's noise floor


@pytest.fixture(scope="module")
def tagger() -> YamnetTagger:
    return YamnetTagger()


def stream_of(clips: list[tuple[float, np.ndarray]], seconds: float, seed: int = 0) -> np.ndarray:
    """Clips placed at given stream times (s) over a faint noise floor."""
    x = np.random.default_rng(seed).normal(0, NOISE_RMS, int(seconds * SAMPLE_RATE)).astype(np.float32)
    for at, clip in clips:
        start = int(at * SAMPLE_RATE)
        x[start : start + len(clip)] += clip
    return x


def feed(tagger: YamnetTagger, x: np.ndarray, block: int = SAMPLES_PER_CHUNK) -> list[SoundResult]:
    state = tagger.init_state()
    return [tagger.step(x[i : i + block], state) for i in range(0, len(x) - block + 1, block)]


def energy_span(clip: np.ndarray) -> tuple[float, float]:
    """First and last 10 ms frame within 35 dB of the clip's loudest: the truth for event times."""
    hop = SAMPLE_RATE // 100
    e = np.square(clip[: len(clip) // hop * hop].reshape(-1, hop)).mean(axis=1)
    active = np.flatnonzero(e >= e.max() * 10 ** -3.5)
    return active[0] / 100, (active[-1] + 1) / 100


@pytest.mark.parametrize("features", [Features.BOTH, Features.RAW])
def test_streaming_chunk_by_chunk_equals_offline_tagging(tagger, shared_audio, features):
    tagger = YamnetTagger(features=features) if features is not tagger.features else tagger
    x = stream_of([(1.3, load_audio(shared_audio / BARK)), (4.1, load_audio(shared_audio / COUGH))], 9.2)
    offline = tagger.offline_tags(x)
    results = feed(tagger, x)
    streamed = np.array([r.patches.max(axis=0) for r in results])  # the regular patches
    patches = offline.scores[: PATCHES_PER_CHUNK * len(results)]  # two regular patches end in every chunk
    per_chunk = patches.reshape(len(results), PATCHES_PER_CHUNK, -1).max(axis=1)
    assert streamed.shape == per_chunk.shape
    # Same patches through two code paths; float rounding may move a quantized logit by one step at most.
    assert np.abs(streamed - per_chunk).max() < 0.2
    assert (np.abs(streamed - per_chunk) > 1e-6).mean() < 0.001
    # The closer look only adds patches: a chunk's scores are at least its regular patches' and more where the bark
    # and the cough are heard, never in the quiet stretches (the first 1.3 s, the last seconds)
    chunk_scores = np.array([r.scores for r in results])
    assert (chunk_scores >= streamed - 1e-6).all()
    looked = np.flatnonzero((chunk_scores > streamed + 1e-6).any(axis=1))
    assert len(looked) and looked.min() * 0.4 >= 1.3 - 0.4 and looked.max() * 0.4 < 9.2 - 1.0
    assert [(o.label, o.t0) for r in results for o in r.onsets] == [(o.label, o.t0) for o in offline.onsets]
    assert [(o.label, o.t1) for r in results for o in r.offsets] == [(o.label, o.t1) for o in offline.offsets]


def test_block_size_does_not_change_the_result(tagger, shared_audio):
    x = stream_of([(0.7, load_audio(shared_audio / BARK))], 4.0)
    by_chunk = np.array([r.scores for r in feed(tagger, x)]).max(axis=0)
    state = tagger.init_state()
    odd = [tagger.step(x[i : i + 1234], state) for i in range(0, len(x), 1234)]
    assert np.allclose(np.max([r.scores for r in odd], axis=0), by_chunk, atol=0.2)
    assert sum(len(r.onsets) for r in odd) == sum(len(r.onsets) for r in feed(tagger, x))


def test_sound_events_start_and_end_where_the_sounds_are(tagger, shared_audio):
    bark, cough = load_audio(shared_audio / BARK), load_audio(shared_audio / COUGH)
    placed = {"Dog": (2.17, bark), "Cough": (6.43, cough)}
    x = stream_of([(at, clip) for at, clip in placed.values()], 12.0)
    state = tagger.init_state()
    results = [tagger.step(x[i : i + SAMPLES_PER_CHUNK], state) for i in range(0, len(x), SAMPLES_PER_CHUNK)]
    onsets = {o.label: o for r in results for o in r.onsets}
    offsets = {o.label: o for r in results for o in r.offsets}
    for label, (at, clip) in placed.items():
        start, end = energy_span(clip)
        assert abs(onsets[label].t0 - (at + start)) <= 0.35, (label, onsets[label], at + start)
        assert abs(offsets[label].t1 - (at + end)) <= 0.6, (label, offsets[label], at + end)
        assert offsets[label].peak >= 0.5
    # one event per sound, not one per patch, and nothing heard in the quiet stretches
    assert sum(o.label == "Dog" for r in results for o in r.onsets) == 1
    assert all(o.t0 > 1.5 for r in results for o in r.onsets)


def test_an_onset_is_reported_in_the_chunk_that_confirms_it(tagger, shared_audio):
    x = stream_of([(2.0, load_audio(shared_audio / BARK))], 5.0)
    results = feed(tagger, x)
    chunk = next(k for k, r in enumerate(results) if any(o.label == "Dog" for o in r.onsets))
    assert (chunk + 1) * SAMPLES_PER_CHUNK / SAMPLE_RATE - 2.0 <= 0.4 + 2 * PATCH_HOP_SECONDS


def test_speech_score_separates_speech_from_music_rain_and_typing(tagger, shared_audio):
    def speech_scores(name: str) -> np.ndarray:
        return np.array([r.speech_score for r in feed(tagger, load_audio(shared_audio / name))])

    assert np.median(speech_scores("speech/198-209-0000.ogg")) > 0.9
    for name in ("sounds/piano.wav", "sounds/rain.wav", "sounds/typing.wav", COUGH):
        assert speech_scores(name).max() < 0.5, name


def test_top_tags_name_the_sound_best_first(tagger, shared_audio):
    results = feed(tagger, load_audio(shared_audio / "sounds/typing.wav"))
    labels = {t.label for r in results for t in r.top}
    assert "Typing" in labels
    assert all(list(r.top) == sorted(r.top, key=lambda t: -t.score) for r in results)


def test_finish_closes_sounds_still_going_on(tagger, shared_audio):
    typing = load_audio(shared_audio / "sounds/typing.wav")[: int(3.9 * SAMPLE_RATE)]
    state = tagger.init_state()
    x = stream_of([(0.5, typing)], 4.4)
    for i in range(0, len(x), SAMPLES_PER_CHUNK):
        tagger.step(x[i : i + SAMPLES_PER_CHUNK], state)
    closed = {o.label: o for o in tagger.finish(state)}
    assert "Typing" in closed and closed["Typing"].t1 == pytest.approx(len(x) / SAMPLE_RATE)
    assert tagger.finish(state) == ()


def test_reset_forgets_the_stream(tagger, shared_audio):
    x = stream_of([(0.2, load_audio(shared_audio / BARK))], 2.0)
    state = tagger.init_state()
    first = [tagger.step(x[i : i + SAMPLES_PER_CHUNK], state) for i in range(0, len(x), SAMPLES_PER_CHUNK)]
    state.reset()
    again = [tagger.step(x[i : i + SAMPLES_PER_CHUNK], state) for i in range(0, len(x), SAMPLES_PER_CHUNK)]
    assert all(np.array_equal(a.scores, b.scores) for a, b in zip(first, again, strict=True))


def test_the_floor_subtracted_view_hears_gunshots_that_rain_masks(shared_audio):
    """Gunfire over rain at 10 dB: scored as heard, Gunshot stays low; with the rain's floor taken out, it is heard."""
    rain, shots = load_audio(shared_audio / "sounds/rain.wav"), load_audio(shared_audio / "sounds/gunshots.wav")
    bed = rain[: 8 * SAMPLE_RATE].copy()
    bed *= rms(shots) * 10 ** (-10 / 20) / rms(bed)
    x = bed.copy()
    x[4 * SAMPLE_RATE : 4 * SAMPLE_RATE + len(shots)] += shots[: 4 * SAMPLE_RATE]
    raw, both = YamnetTagger(features=Features.RAW), YamnetTagger(features=Features.BOTH)
    gunshot = raw.index("Gunshot, gunfire")
    def streamed(tagger: YamnetTagger, audio: np.ndarray) -> np.ndarray:  # per chunk, closer looks included
        return np.array([r.scores[gunshot] for r in feed(tagger, audio)])

    assert streamed(raw, x).max() < 0.5  # masked as heard
    heard = streamed(both, x)
    assert heard.max() >= 0.5 and heard[:10].max() < 0.5  # only once the shots start (chunks before 4.0 s)
    assert streamed(both, bed).max() < 0.5  # the rain alone is no gunshot


def rms(x: np.ndarray) -> float:
    """RMS over the 10 ms frames within 30 dB of the loudest (the level of the sound, not of its pauses)."""
    e = np.square(x[: len(x) // 160 * 160].reshape(-1, 160)).mean(axis=1)
    return float(np.sqrt(e[e >= e.max() * 1e-3].mean()))


def test_an_unknown_feature_view_is_a_clear_error():
    with pytest.raises(ValueError, match="features must be one of raw, denoised, both"):
        YamnetTagger(features="spectrogram")


def spectrum_db(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (Hz) and power (dB re the strongest bin) of a whole clip."""
    power = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2 + 1e-20
    return np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE), 10 * np.log10(power / power.max())


def test_the_bench_siren_is_a_band_limited_square_wave_wailing_from_600_to_1500_hz():
    from listenloop.bench.sounds import SIREN_WAIL_PERIOD_S, synth_clip

    siren = synth_clip("siren")
    freqs, db = spectrum_db(siren)
    assert db[freqs > 7600].max() < -60  # nothing folded back from above the band (a raw sign() wave would be)
    assert db[(freqs > 3 * 600) & (freqs < 3 * 1500)].max() > -25  # the square's third harmonic is there
    assert db[freqs < 550].max() < -40  # the horn passes nothing below the wail's bottom
    zero_crossings = lambda x: np.count_nonzero(np.diff(np.signbit(x))) / 2 / (len(x) / SAMPLE_RATE)  # noqa: E731
    start = siren[: SAMPLE_RATE // 10]
    peak = int(SIREN_WAIL_PERIOD_S / 2 * SAMPLE_RATE)  # the top of the first wail
    top = siren[peak - SAMPLE_RATE // 20 : peak + SAMPLE_RATE // 20]
    assert 580 < zero_crossings(start) < 700 and 1400 < zero_crossings(top) < 1520


def test_the_bench_smoke_alarm_is_a_t3_pattern_of_3100_hz_with_no_aliased_harmonic():
    from listenloop.bench.sounds import synth_clip

    alarm = synth_clip("smoke_alarm")
    freqs, db = spectrum_db(alarm)
    assert db[np.abs(freqs - 3100) < 20].max() > -1 and db[np.abs(freqs - 6200) < 20].max() > -12
    assert db[np.abs(freqs - 6700) < 50].max() < -60  # 9.3 kHz would fold to 6.7 kHz at 16 kHz
    on = np.abs(alarm).reshape(-1, SAMPLE_RATE // 10).max(axis=1) > 0.01  # 0.1 s slots
    assert on[:25].tolist() == ([True] * 5 + [False] * 5) * 2 + [True] * 5 and not on[25:45].any()  # then 2 s quiet


def test_scores_are_the_graphs_own_on_any_cpu(tagger, shared_audio):
    """The int8 graph run literally (every QuantizeLinear/DequantizeLinear as written, no fused int8 kernels) is the
    reference; the tagger agrees with it to one output step. On an AVX2 CPU without VNNI the fused kernels saturate
    their 16-bit sums and land up to 32 steps off (measured on an EPYC Zen 1), which lost the reference demo's barks."""
    import onnxruntime as ort

    from listenloop.models.store import model_dir
    from listenloop.perception import yamnet_frontend as fe

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    literal = ort.InferenceSession(str(model_dir("yamnet") / "model.onnx"), opts, providers=["CPUExecutionProvider"])
    name = literal.get_inputs()[0].name
    audio = np.concatenate([load_audio(shared_audio / f"sounds/{n}")[: 2 * SAMPLE_RATE]
                            for n in ("dog.wav", "gunshots.wav", "rain.wav", "piano.wav")])
    mel = fe.log_mel(audio)
    for start in range(0, len(mel) - fe.PATCH_FRAMES, fe.PATCH_FRAMES // 2):
        patch = mel[start : start + fe.PATCH_FRAMES]
        (q,) = literal.run(None, {name: fe.quantize_patch(patch)})
        logits = fe.OUTPUT_SCALE * (q.astype(np.float64).reshape(-1) - fe.OUTPUT_ZERO_POINT)
        low, high = (1.0 / (1.0 + np.exp(-(logits + d * fe.OUTPUT_SCALE))) for d in (-1, 1))  # one step either way
        ours = tagger.score_patch(patch)
        assert np.all((ours >= low - 1e-6) & (ours <= high + 1e-6)), start


def test_a_chunks_patches_in_one_call_score_as_each_in_its_own(tagger, shared_audio):
    """The tagger scores a chunk's eight patches (four patches, two views) in one model call; every patch's scores
    and pooled embedding are bit for bit those of a call of its own (issue 31: batched model calls)."""
    from listenloop.perception import yamnet_frontend as fe

    audio = np.concatenate([load_audio(shared_audio / f"sounds/{n}")[: 2 * SAMPLE_RATE]
                            for n in ("dog.wav", "gunshots.wav", "rain.wav")])
    mel = fe.log_mel(audio)
    patches = np.stack([mel[s : s + fe.PATCH_FRAMES] for s in range(0, len(mel) - fe.PATCH_FRAMES, 37)])
    scores, embeddings = tagger.run_patches(patches)
    assert scores.shape == (len(patches), len(tagger.names)) and len(patches) >= 8
    for k, patch in enumerate(patches):
        alone, embedding = tagger.run_patch(patch)
        assert np.array_equal(alone, scores[k]), k
        if tagger.detector is not None:
            assert np.array_equal(embedding, embeddings[k]), k
    assert len({scores[k].argmax() for k in range(len(patches))}) > 1  # the patches differ: a mix-up would show
