"""How the data builder's broken sentences sound: the first piece cut from the whole sentence against the same words
said alone, at every place the builder may cut (docs/soundflow.md).

A finished sentence ends with the voice falling and its last word drawn out; a sentence the speaker stops in to think
does neither. For espeak-ng the pitch of the piece's last voiced frames is compared, for piper its length.
"""

from __future__ import annotations

import argparse

import numpy as np
from tqdm import tqdm

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.data import content, mixing, sentences
from listenloop.data.speakers import trim
from listenloop.synthesis.synth import espeak, espeak_broken, piper, piper_broken

PITCH_FRAME_S = 0.04  # s, autocorrelation frame
PITCH_RANGE_HZ = (60, 400)  # voice pitch searched
VOICED_RMS = 0.02  # frames quieter than this (full scale 1.0) are not voiced
VOICED_PEAK = 0.3  # autocorrelation peak, relative to the frame's energy, that makes a frame voiced
FINAL_FRAMES = 5  # last voiced frames whose median pitch is the piece's final pitch (0.1 s at a 20 ms hop)


def final_pitch_hz(audio: np.ndarray) -> float:
    """Median pitch of the last voiced frames of `audio` (16 kHz): where a finished sentence falls; nan if none."""
    frame = int(PITCH_FRAME_S * SAMPLE_RATE)
    lo, hi = SAMPLE_RATE // PITCH_RANGE_HZ[1], SAMPLE_RATE // PITCH_RANGE_HZ[0]
    pitches = []
    for i in range(0, len(audio) - frame, frame // 2):
        x = audio[i : i + frame] - audio[i : i + frame].mean()
        if mixing.rms(x) < VOICED_RMS:
            continue
        ac = np.correlate(x, x, "full")[frame - 1 :]
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > VOICED_PEAK * ac[0]:
            pitches.append(SAMPLE_RATE / lag)
    return float(np.median(pitches[-FINAL_FRAMES:])) if pitches else float("nan")


def cut_places() -> list[list[str]]:
    """Every sentence of the question and statement lists, cut once at each place the builder may pause."""
    out = []
    for text in sentences.QUESTIONS + sentences.STATEMENTS:
        words = text.split()
        out += [[" ".join(words[:c]), " ".join(words[c:])] for c in content.hesitation_cuts(words)]
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=int, default=0, help="at most this many cut places (0: all)")


def run(args: argparse.Namespace) -> int:
    places = cut_places()[: args.limit or None]
    pitch, length, fallback = [], [], {"espeak": 0, "piper": 0}
    for pieces in tqdm(places, desc="cut places", unit="cut"):
        cut = espeak_broken(pieces)
        if cut is None:
            fallback["espeak"] += 1
        else:
            pitch.append(final_pitch_hz(trim(cut[0])) / final_pitch_hz(trim(espeak(pieces[0]))))
        cut = piper_broken(pieces)
        if cut is None:
            fallback["piper"] += 1
        else:
            length.append(len(trim(cut[0])) / len(trim(piper(pieces[0]))))
    pitch = np.array([p for p in pitch if np.isfinite(p)])
    print(f"{len(places)} cut places\n")
    print("| engine | compared | cut from the whole sentence / said alone, median | 10th / 90th percentile | "
          "higher | spoken piece by piece |")
    print("|---|---|---|---|---|---|")
    print(f"| espeak-ng | final pitch | {np.median(pitch):.3f} | {np.percentile(pitch, 10):.3f} / "
          f"{np.percentile(pitch, 90):.3f} | {np.mean(pitch > 1.0):.0%} | {fallback['espeak']} |")
    print(f"| piper | length of the piece | {np.median(length):.3f} | {np.percentile(length, 10):.3f} / "
          f"{np.percentile(length, 90):.3f} | {np.mean(np.array(length) > 1.0):.0%} | {fallback['piper']} |")
    return 0
