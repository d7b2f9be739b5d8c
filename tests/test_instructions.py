"""Spoken instructions become typed task changes that stay in force until changed."""

from __future__ import annotations

import pytest

from listenloop.decision.text.instructions import InstructionError, Kind, TaskState, apply, initial_state, parse
from listenloop.vocabulary import Mode


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Translate everything into Chinese.", "zh"),
        ("provide Chinese language output for the audio.", "zh"),  # the reference system's demo
        ("Convert spoken language audio into Chinese.", "zh"),
        ("Can you translate into Spanish please?", "es"),
        ("Please speak German from now on.", "de"),
        ("translate what I say to Japanese", "ja"),
        ("Please translate everything we say into German from now on.", "de"),
        ("Transcribe the speech into Chinese. What is your name?", "zh"),  # a real user of the reference demo
        ("Transcribe this speech into English.", "en"),  # ... another
        ("Transcribe what I say in Spanish.", "es"),
    ],
)
def test_translation_instructions_name_the_target_language(text, language):
    instruction = parse(text)
    assert instruction is not None and instruction.kind is Kind.TRANSLATE
    assert instruction.language == language


@pytest.mark.parametrize(
    "text",
    [
        "How do you say hello in Spanish?",  # a question to answer, not a task
        "Translate good evening into Spanish.",  # one phrase to translate: a request answered once, not a task
        "Translate that into French.",
        "I talked to German people yesterday.",
        "Do you speak French?",
        "What is the style of the music clip?",
        "How many times did the dog bark?",
        "I just want to transcribe my notes later.",
        "",
    ],
)
def test_questions_and_statements_are_not_instructions(text):
    assert parse(text) is None


def test_counting_names_the_audioset_classes_of_the_sound():
    instruction = parse("Please count how many times the dog barks in total.")
    assert instruction.kind is Kind.COUNT and instruction.sound == "dog"
    assert "Bark" in instruction.labels and "Dog" in instruction.labels


def test_watching_for_a_baby_crying():
    instruction = parse("Tell me when the baby cries.")
    assert instruction.kind is Kind.WATCH and "Baby cry, infant cry" in instruction.labels


def test_instructions_stay_in_force_until_changed():
    state = TaskState()
    state = apply(state, parse("translate everything into French"))
    assert (state.mode, state.language) == (Mode.TRANSLATE, "fr")
    state = apply(state, parse("count the dog barks"))
    assert state.mode is Mode.TRANSLATE and state.count_sound == "dog"  # counting adds, translation stays
    state = apply(state, parse("be quiet"))
    assert state.mode is Mode.QUIET
    state = apply(state, parse("you can talk again"))
    assert (state.mode, state.language) == (Mode.TRANSLATE, "fr")  # back to what it was doing
    state = apply(state, parse("stop translating"))
    assert state.mode is Mode.ASSISTANT and state.language is None and state.count_sound == "dog"
    state = apply(state, parse("just transcribe"))
    assert state.mode is Mode.TRANSCRIBE


def test_instruction_option_sets_the_starting_task_and_rejects_nonsense():
    state, instruction = initial_state(Mode.ASSISTANT, "translate into Spanish")
    assert state.mode is Mode.TRANSLATE and state.language == "es" and instruction is not None
    with pytest.raises(InstructionError, match="not an instruction"):
        initial_state(Mode.ASSISTANT, "hello there")
