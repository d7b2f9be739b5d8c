"""The hold queue and the arbiter (decision/holds.py, decision/arbiter.py): one row per wait, one decision per chunk."""

from __future__ import annotations

from concurrent.futures import Future

import numpy as np

from listenloop.decision.arbiter import Proposal, Source, arbitrate
from listenloop.decision.base import Action, Decision
from listenloop.decision.holds import KINDS, Hold, HoldKind, HoldQueue, OnSpeech, Phase
from listenloop.perception.observation import SegmentEnd
from listenloop.vocabulary import Task


def piece(n: int) -> SegmentEnd:
    return SegmentEnd(segment=n, t0=float(n), t1=n + 0.8, audio=np.zeros(16, np.float32), last_partial="x",
                      final=Future())


def test_every_kind_of_hold_has_its_row():
    """What each kind waits for, its bound, what speech does to it and its phase are written down once."""
    assert set(KINDS) == set(HoldKind)
    assert KINDS[HoldKind.ANSWER].on_speech is OnSpeech.DROP and KINDS[HoldKind.CAPTION].on_speech is OnSpeech.JOIN
    assert {k for k, row in KINDS.items() if row.phase is Phase.HEARD} == {HoldKind.ANSWER, HoldKind.UNSAID}
    assert [k for k, row in KINDS.items() if not row.single] == [HoldKind.UNSAID]


def test_a_kind_held_once_is_replaced_and_unsaid_answers_queue_up():
    holds = HoldQueue()
    first = holds.put(Hold(HoldKind.ANSWER, 1.0, Decision.respond(Task.ANSWER, "a"), segment=0))
    second = holds.put(Hold(HoldKind.ANSWER, 2.0, Decision.respond(Task.ANSWER, "b"), segment=1))
    assert holds.all(HoldKind.ANSWER) == [second] and first not in holds.rows
    holds.put(Hold(HoldKind.UNSAID, 2.0, segment=0))
    holds.put(Hold(HoldKind.UNSAID, 2.4, segment=1))
    assert [h.segment for h in holds.all(HoldKind.UNSAID)] == [0, 1]
    holds.put(Hold(HoldKind.CAPTION, 3.0, pieces=[piece(2)]))
    assert holds.pieces(HoldKind.CAPTION)[0].segment == 2 and holds.pieces(HoldKind.RIDER) == []
    assert holds.take(HoldKind.CAPTION).since == 3.0 and holds.get(HoldKind.CAPTION) is None
    holds.reset()
    assert not holds.rows


def test_the_arbiter_ranks_by_source_and_reports_a_withdrawal_only_in_a_chunk_without_a_response():
    caption = Decision.respond(Task.TRANSCRIBE, "caption")
    answer = Decision.respond(Task.ANSWER, "answer")
    unaddressed = Decision.silent("not addressed: statement")
    taken_back = Decision.withdraw(Task.ANSWER, "answer taken back", question_segment=3)
    withdrawn = [taken_back]
    # an answer that waited loses to one said now; a caption goes before anything said in the same chunk
    chosen = arbitrate([Proposal(Source.HELD_ANSWER, answer), Proposal(Source.SPEECH, unaddressed),
                        Proposal(Source.CAPTION, caption)], withdrawn)
    assert chosen is caption and withdrawn == [taken_back]
    assert arbitrate([Proposal(Source.SPEECH, answer), Proposal(Source.HELD_SOUND, caption)], withdrawn) is answer
    silent = arbitrate([Proposal(Source.CONTROL, Decision.silent("instruction")),
                        Proposal(Source.SPEECH, unaddressed)], withdrawn)
    assert silent is taken_back and not withdrawn  # reported once, in the first chunk with nothing to say
    quiet = arbitrate([Proposal(Source.CONTROL, Decision.silent("instruction")),
                       Proposal(Source.SPEECH, unaddressed)], withdrawn)
    assert quiet.action is Action.SILENT and quiet.reason == "not addressed: statement"  # the first by source
    assert arbitrate([], withdrawn).reason == ""


def test_a_step_gives_the_decision_with_its_task_changes_once():
    """ConversationPolicy.step: the typed outcome of a chunk (decision, barge-in, task changes), the changes drained
    so that each is reported once; an instruction given through the control API takes effect at the next chunk."""
    from listenloop.audio.chunker import Chunk
    from listenloop.audio.constants import SAMPLES_PER_CHUNK
    from listenloop.decision.conversation import ConversationPolicy
    from listenloop.decision.text.instructions import TaskState
    from listenloop.perception.observation import Observation
    from listenloop.vocabulary import Mode

    policy = ConversationPolicy(TaskState(mode=Mode.ASSISTANT))
    state = policy.init_state()
    quiet = [Observation(Chunk(k, np.zeros(SAMPLES_PER_CHUNK, np.float32))) for k in range(3)]
    first = policy.step(quiet[0], state)
    assert [c.source for c in first.changes] == ["option"] and not first.barge_in  # the session's starting task
    assert policy.instruct(state, "translate everything into Spanish") is not None
    second = policy.step(quiet[1], state)
    assert second.decision.task is Task.ACKNOWLEDGE and [c.state.mode for c in second.changes] == [Mode.TRANSLATE]
    assert second.changes[0].source == "control" and second.changes[0].state.language == "es"
    assert policy.step(quiet[2], state).changes == ()


def test_the_rules_and_the_model_read_one_turn_taken_once_per_chunk():
    """decision/turn.py: with the learned model, the conversation's turn is the features' turn (one object), and a
    chunk is taken once though both read it (a second take would age the text twice)."""
    from listenloop.audio.chunker import Chunk
    from listenloop.audio.constants import SAMPLES_PER_CHUNK
    from listenloop.decision.conversation import ConversationPolicy
    from listenloop.decision.model.learned import DecisionModel
    from listenloop.decision.model.timing import LearnedTiming
    from listenloop.decision.text.instructions import TaskState
    from listenloop.perception.observation import Observation
    from listenloop.vocabulary import Mode

    policy = ConversationPolicy(TaskState(mode=Mode.ASSISTANT), timing=LearnedTiming(DecisionModel.load(), ()))
    state = policy.init_state()
    assert state.turn is state.timing.features.turn
    for k in range(5):
        policy.decide(Observation(Chunk(k, np.zeros(SAMPLES_PER_CHUNK, np.float32))), state)
    assert state.turn.text_age == 5
    state.reset()
    assert state.turn is state.timing.features.turn and state.turn.text_age == 0
