"""One policy factory (decision/factory.py): the policy a session runs and the decision bench's conversation
contenders are the same object, built the same way."""

from __future__ import annotations

import pytest

from listenloop.audio.decode import load_audio
from listenloop.bench import decisions
from listenloop.decision.base import Decider
from listenloop.decision.factory import PolicyResources, PolicySpec, build_policy
from listenloop.perception.offline import observe
from listenloop.runtime.engine import Engine
from listenloop.runtime.session import SessionOptions
from listenloop.vocabulary import Mode

CONTENDERS = {Decider.RULES: "conversation rules", Decider.CLOCK: "conversation rules, learned clock",
              Decider.LEARNED: "conversation rules, learned decides"}


@pytest.fixture(scope="module")
def engine():
    engine = Engine()
    yield engine
    engine.close()


def _decisions(policy, replay) -> list[tuple[str, str | None, str]]:
    state = policy.init_state()
    return [(d.action.value, d.task.value if d.task else None, d.reason)
            for d in (policy.decide(obs, state) for obs in replay)]


@pytest.mark.parametrize("decider", list(Decider))
def test_the_engine_and_the_bench_decide_alike_on_a_real_recording(engine, shared_audio, decider):
    """Barking, then "how many times did the dog bark?": every chunk's decision (action, task, reason) of the
    session's policy equals the bench contender's, for each decider."""
    replay = observe(engine.perception, load_audio(shared_audio / "streams" / "sample_count.wav"))
    shipped = _decisions(engine.policy_for(SessionOptions(mode=Mode.ASSISTANT, decider=decider)), replay)
    benched = _decisions(decisions.policies(None, note=False)[CONTENDERS[decider]](Mode.ASSISTANT), replay)
    assert shipped == benched
    assert any(action == "respond" for action, _, _ in shipped)  # the recording asks for a response


def test_the_spec_chooses_the_sound_policy_and_the_learned_timing_is_shared(tmp_path):
    from listenloop.decision.sounds.sound_policy import SoundPolicy

    resources = PolicyResources(SoundPolicy.load())
    quiet = build_policy(PolicySpec(sounds=False, decider=Decider.RULES), resources)
    assert quiet.rules.sound_policy is None and quiet.sound_tasks.class_names == ()
    own = tmp_path / "policy.toml"
    own.write_text("version = 1\n[rules.smoke_alarm]\ncooldown = 10.0\n", encoding="utf-8")
    custom = build_policy(PolicySpec(sound_policy_path=own, decider=Decider.RULES), resources)
    assert custom.rules.sound_policy is not resources.sound_policy
    first, second = (build_policy(PolicySpec(decider=Decider.LEARNED), resources) for _ in range(2))
    assert first.timing is second.timing and first.timing.decides  # one stateless timing serves every stream
    assert build_policy(PolicySpec(decider=Decider.CLOCK), resources).timing is not first.timing
