"""Audio in: every common format, any rate and channel count, bad files with one clear error."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from audio_files import CODECS, tone, write_audio

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.audio.decode import AudioError, iter_audio, load_audio, pcm16_to_float, resample
from listenloop.audio.sources import pcm_blocks


@pytest.mark.parametrize("suffix", sorted(CODECS))
@pytest.mark.parametrize("rate,channels", [(44100, 2), (8000, 1), (48000, 2)])
def test_every_format_decodes_to_16k_mono_with_the_right_length_and_pitch(tmp_path, suffix, rate, channels):
    path = write_audio(tmp_path / f"tone{suffix}", tone(2.0, rate, 440.0), rate, channels)
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    # lossy codecs add priming and padding: at most two codec frames (2 x 1024 samples at the source rate)
    assert abs(len(audio) / SAMPLE_RATE - 2.0) <= 2 * 1024 / rate + 0.01
    spectrum = np.abs(np.fft.rfft(audio[SAMPLE_RATE // 4 : SAMPLE_RATE // 4 + SAMPLE_RATE]))
    assert abs(np.argmax(spectrum) - 440) <= 2  # 1 Hz bins over one second


def test_resampling_preserves_a_tone_below_nyquist():
    x = tone(1.0, 44100, 3000.0)
    y = resample(x, 44100)
    assert len(y) == SAMPLE_RATE
    assert abs(np.argmax(np.abs(np.fft.rfft(y))) - 3000) <= 1


def test_telephone_band_speech_from_debian_decodes():
    path = Path("/usr/share/asterisk/sounds/en/activated.wav")
    if not path.exists():
        pytest.skip("Debian asterisk-core-sounds-en-wav is not installed")
    audio = load_audio(path)
    assert 0.5 < len(audio) / SAMPLE_RATE < 5 and np.abs(audio).max() > 0.1


@pytest.mark.parametrize(
    "content,expected",
    [
        (b"", "empty"),
        (b"this is a text file, not audio\n" * 20, "not a readable audio file"),
        (bytes(range(256)) * 40, "not a readable audio file"),
    ],
)
def test_unusable_files_raise_one_clear_error(tmp_path, content, expected):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError, match=expected):
        load_audio(path)


def test_missing_file_and_folder_raise_clear_errors(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        load_audio(tmp_path / "nope.flac")
    with pytest.raises(AudioError, match="folder"):
        load_audio(tmp_path)


def test_a_truncated_file_yields_what_was_decodable(tmp_path):
    full = write_audio(tmp_path / "full.flac", tone(4.0, 16000), 16000)
    data = full.read_bytes()
    cut = tmp_path / "cut.flac"
    cut.write_bytes(data[: len(data) // 2])
    audio = load_audio(cut)
    assert 1.0 < len(audio) / SAMPLE_RATE < 3.0


def test_a_wav_header_without_samples_is_an_error(tmp_path):
    path = write_audio(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(AudioError):
        load_audio(path)


def test_hour_long_file_decodes_in_bounded_memory(tmp_path):
    """One hour at 16 kHz (115 MB of PCM) streams through in blocks; peak Python allocation stays small."""
    path = tmp_path / "hour.wav"
    import wave

    block = (tone(10.0, 16000) * 32767).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        for _ in range(360):
            w.writeframes(block)
    tracemalloc.start()
    total = 0
    for b in iter_audio(path):
        total += len(b)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert abs(total / SAMPLE_RATE - 3600) < 1
    assert peak < 20 * 2**20  # MB; the whole file as float32 would be 230 MB


def test_pcm16_with_an_odd_byte_count_is_rejected():
    with pytest.raises(AudioError, match="even number of bytes"):
        pcm16_to_float(b"\x00\x01\x02")


def test_stdin_pcm_is_resampled_and_downmixed(tmp_path):
    import io

    rate, seconds = 48000, 1.0
    stereo = np.stack([tone(seconds, rate, 500.0), tone(seconds, rate, 500.0)], axis=1)
    raw = (stereo * 32767).astype("<i2").tobytes()
    blocks = list(pcm_blocks(io.BytesIO(raw), rate=rate, channels=2))
    audio = np.concatenate(blocks)
    assert abs(len(audio) - SAMPLE_RATE * seconds) < 50
    assert abs(np.argmax(np.abs(np.fft.rfft(audio[:SAMPLE_RATE]))) - 500) <= 2
