"""Clean prompts and natural answers: no bookkeeping marker in the model's context, and questions about what is
heard answered in a sentence, not a list of AudioSet tag names (respond/heard.py)."""

from __future__ import annotations

from listenloop.respond.answer import Turn, build_messages
from listenloop.respond.base import ResponseContext
from listenloop.respond.heard import heard_answer, spoken_name
from listenloop.respond.memory import Memory
from listenloop.runtime.events import SoundEvent

JINGLE = {"genres": ["Jingle (music)", "Music for children"], "instruments": ["Bell", "Jingle bell"]}


def test_an_interrupted_answer_is_remembered_as_what_was_said_with_no_marker():
    listener = ResponseContext()  # what a responder reads of its stream: the real Memory
    listener.memory.turns.append(Turn("What is a computer?", "A computer is a", True, "Question: What is a computer?",
                                      3.0, 0))
    messages = build_messages("And a phone?", {}, listener, 8.0)
    said = [m.content for m in messages if m.role.value == "assistant"]
    assert said == ["A computer is a"]
    assert not [m for m in messages if "interrupted" in m.content.lower() or "..." in m.content]


def test_a_question_about_the_music_gets_a_sentence_not_tag_names():
    answer = heard_answer("Do you like this music?", {"about": "music", "music": JINGLE}, Memory(), 20.0)
    assert answer.startswith("I don't have tastes of my own, but it sounds like a jingle or music for children")
    assert "(music)" not in answer and "children music" not in answer and "with a bell and a jingle bell" in answer
    style = heard_answer("What style is this music?", {"about": "music", "music": JINGLE}, Memory(), 20.0)
    assert style == "It sounds like a jingle or music for children, with a bell and a jingle bell."


def test_what_was_that_noise_names_the_last_sound_in_words():
    memory = Memory()
    memory.sounds.append(SoundEvent(4.0, None, "Speech", 0.9, "start"))
    memory.sounds.append(SoundEvent(9.0, None, "Vehicle horn, car horn, honking", 0.6, "start"))
    memory.sounds.append(SoundEvent(9.5, 10.0, "Vehicle horn, car horn, honking", 0.6, "end"))
    assert heard_answer("What was that noise?", {"about": "sound"}, memory, 11.0) == "That sounded like a vehicle horn."


def test_describe_what_you_hear_lists_recent_sounds_in_a_sentence_and_forgets_old_ones():
    memory = Memory()
    memory.sounds.append(SoundEvent(1.0, None, "Cough", 0.7, "start"))  # long before: not named
    memory.sounds.append(SoundEvent(50.0, None, "Bark", 0.8, "start"))
    memory.sounds.append(SoundEvent(52.0, None, "Knock", 0.5, "start"))
    answer = heard_answer("Describe what you can hear.", {"about": "sound"}, memory, 55.0)
    assert answer == "I can hear a dog barking and a knock."
    quiet = heard_answer("What can you hear?", {"about": "sound"}, Memory(), 55.0)
    assert "quiet" in quiet


def test_questions_that_only_mention_hearing_go_to_the_model():
    assert heard_answer("Did you hear what I said about the trip?", {"about": "sound"}, Memory(), 5.0) == ""
    assert heard_answer("What is the capital of France?", {"about": "general"}, Memory(), 5.0) == ""


def test_spoken_names_read_like_words():
    assert spoken_name("Speech") == "someone talking"
    assert spoken_name("Applause") == "applause"
    assert spoken_name("Alarm clock") == "an alarm clock"
    assert spoken_name("Pop music") == "pop music"


def test_a_named_assistant_is_told_its_name_in_the_system_prompt():
    messages = build_messages("What's your name?", {}, ResponseContext(name="Pascal"), 3.0)
    assert messages[0].content.startswith("You are Pascal, a voice assistant")
    assert build_messages("What's your name?", {}, ResponseContext(), 3.0)[0].content.startswith("You are listenloop,")
