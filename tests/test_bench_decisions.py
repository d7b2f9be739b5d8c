"""`listenloop bench decisions` end to end on the real recordings: every contender, spawned workers."""

from __future__ import annotations

import json
import math

import pytest

from listenloop.audio.constants import SAMPLES_PER_CHUNK
from listenloop.bench import decisions
from listenloop.vocabulary import Mode


def test_bench_runs_every_policy_on_spawned_workers_over_the_real_recordings(shared_audio):
    streams = [s for s in decisions.real_streams(shared_audio) if s.stream.id.endswith(("count-bark", "real-jfk"))]
    assert len(streams) == 2
    tallies = decisions.bench(streams, workers=2, progress=False)
    names = set(tallies["all"])
    assert {"timeout 0.5 s", "conversation rules", "learned"} <= names
    for tally in tallies["all"].values():
        assert tally.due == 1  # the count after the barking; JFK's speech needs no reply
        chunks = sum(math.ceil(len(s.audio) / SAMPLES_PER_CHUNK) for s in streams)
        assert len(tally.decide_ms) == chunks  # one decision per chunk, the last one padded
    # a 0.5 s silence timeout answers JFK's pauses: false responses on speech that needs none
    assert tallies["real"]["timeout 0.5 s"].false > 0


def _figures(row: dict) -> str:
    """A tally's row without its timings (they are measured again), nan equal to nan."""
    return json.dumps({k: v for k, v in row.items() if not k.startswith("decide_ms")}, sort_keys=True)


def test_observations_kept_in_a_file_replay_to_the_same_figures_without_perceiving_again(shared_audio, tmp_path,
                                                                                          monkeypatch, capsys):
    streams = [s for s in decisions.real_streams(shared_audio) if s.stream.id.endswith("count-bark")]
    kept = tmp_path / "observations.pkl"
    first = decisions.bench(streams, progress=False, observations=kept)
    assert kept.is_file()

    def no_perception(*args, **kwargs):
        raise AssertionError("perceived again although the observations were kept")

    monkeypatch.setattr(decisions, "build_perception", no_perception)
    monkeypatch.setattr(decisions, "_perception", None)
    again = decisions.bench(streams, progress=False, observations=kept)
    for name, tally in first["all"].items():
        assert _figures(again["all"][name].row(name)) == _figures(tally.row(name))

    # a file from other perception code is not trusted: the streams are perceived again (here: refused loudly)
    from listenloop.offline import observations

    monkeypatch.setattr(observations, "OBSERVATION_SOURCES", ("audio",))
    with pytest.raises(AssertionError, match="perceived again"):
        decisions.bench(streams, progress=False, observations=kept)
    assert "perceived by other perception code" in capsys.readouterr().err


def test_an_unreadable_observations_file_is_perceived_again_and_replaced(shared_audio, tmp_path, capsys):
    streams = [s for s in decisions.real_streams(shared_audio) if s.stream.id.endswith("count-bark")]
    kept = tmp_path / "observations.pkl"
    kept.write_bytes(b"not a pickle")
    tallies = decisions.bench(streams, progress=False, observations=kept)
    assert tallies["all"]["conversation rules"].due == 1
    assert "observations not used" in capsys.readouterr().err
    assert decisions.load_observations(kept)  # rewritten with the stream's observations


def test_the_learned_deciders_settings_reach_the_contender(monkeypatch):
    """`--confirm`, `--patience`, `--doubt`, `--caption-confirm` set the learned decider's judge
    (decision/timing.py); `--confirm` alone sets the caption bar too; unset, the shipped defaults (the caption bar
    moved off the answers' so the two can be told apart: both are 0.5 since session 17)."""
    from listenloop.decision.model import timing

    monkeypatch.setattr(timing, "CAPTION_CONFIRM_P", timing.CONFIRM_P - 0.05)

    name = "conversation rules, learned decides"
    tuned = decisions.policies(None, judging=decisions.Judge(0.7, 0.5, 0.3, 0.6))[name](Mode.ASSISTANT).timing
    assert (tuned.confirm, tuned.patience_s, tuned.doubt_p, tuned.caption_confirm) == (0.7, 0.5, 0.3, 0.6)
    one_bar = decisions.policies(None, judging=decisions.Judge(0.7))[name](Mode.TRANSCRIBE).timing
    assert (one_bar.confirm, one_bar.caption_confirm) == (0.7, 0.7)
    shipped = decisions.policies(None)[name](Mode.ASSISTANT).timing
    assert (shipped.confirm, shipped.patience_s, shipped.doubt_p, shipped.caption_confirm) == (
        timing.CONFIRM_P, timing.PATIENCE_S, timing.DOUBT_P, timing.CAPTION_CONFIRM_P)


def test_a_rate_on_few_cases_comes_with_its_95_percent_interval():
    from listenloop.offline.scores import wilson

    low, high = wilson(0, 10)
    assert low == 0.0 and high == pytest.approx(1.96**2 / (10 + 1.96**2))  # no case in ten: still up to 28 %
    low, high = wilson(7, 129)
    assert low < 7 / 129 < high and (low, high) == pytest.approx((0.0266, 0.1078), abs=5e-4)
    assert wilson(122, 129) == pytest.approx(tuple(1 - x for x in reversed(wilson(7, 129))))
    assert wilson(70, 1290)[1] - wilson(70, 1290)[0] < (high - low) / 3  # ten times the cases: a third as wide
    assert wilson(0, 0) == (0.0, 1.0)
    tally = decisions.Tally(unfinished=129, interrupted=7)
    assert tally.row("x")["interrupt_unfinished_95"] == wilson(7, 129)
    assert "(of 129; 0.027-0.108)" in decisions.markdown({"built": {"x": tally}})


def test_built_streams_are_counted_per_build_language_and_session_mode():
    import numpy as np

    from listenloop.data.manifest import Stream

    def item(group: str, mode: Mode, language: str) -> decisions.BenchStream:
        return decisions.BenchStream(Stream("s", "soundflow-assistant", (), mode=mode, language=language),
                                     np.zeros(1, np.float32), group)

    captions = decisions.groups_of(item("real_voice", Mode.TRANSCRIBE, "en"))
    answers = decisions.groups_of(item("real_voice", Mode.ASSISTANT, "en"))
    other_build = decisions.groups_of(item("synthetic", Mode.ASSISTANT, "zh"))
    assert "real_voice, transcribe mode" in captions and "real_voice, assistant mode" in answers
    assert not set(captions) & {"real_voice, assistant mode", "synthetic, assistant mode"}
    assert {"synthetic", "built, language zh", "synthetic, assistant mode", "all"} == set(other_build)
    assert decisions.groups_of(item("real", Mode.ASSISTANT, "en")) == ("real", "all")  # the dev recordings: no build
