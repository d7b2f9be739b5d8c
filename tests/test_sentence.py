"""A sentence broken by pauses, put back together (decision/sentence.py): the text rules the policy and the model
share."""

from __future__ import annotations

import pytest

from listenloop.decision.text.sentence import (
    Unfinished,
    answered_too_soon,
    goes_on,
    is_filler,
    join,
    open_end,
    still_open,
)


@pytest.mark.parametrize("text", ["Um.", "uh", "You know.", "Let me see...", "Well, I mean", "Hmm?", "Like"])
def test_a_piece_of_only_fillers_is_a_filler(text):
    assert is_filler(text)


@pytest.mark.parametrize("text", ["", "Okay.", "So what?", "I like it.", "You know the answer?", "Well done."])
def test_a_piece_with_any_other_word_is_not(text):
    assert not is_filler(text)


def test_joining_drops_the_guessed_end_of_the_open_piece_only():
    assert join("Is it going to?", "Rain this afternoon?") == "Is it going to Rain this afternoon?"
    assert join("We planted tomatoes and...", "basil.") == "We planted tomatoes and basil."
    assert join("", "Japanese?") == "Japanese?"
    assert Unfinished("How do you say", "thank you in?", 3.2).text == "How do you say thank you in?"


def test_a_sentence_goes_on_after_an_open_word_and_reads_open_after_a_dangling_one():
    assert goes_on("Is it going to?") and goes_on("When does the") and not goes_on("Is it going to rain?")
    assert open_end("Should I bring in?") and not goes_on("Should I bring in?")
    assert not open_end("What time is it?") and not open_end("")
    # a number is a word: the sentence ends on it, not on the word before it
    assert open_end("Set a timer for.") and not open_end("Set a timer for 10.")


def test_after_a_pause_mid_sentence_a_piece_ending_on_a_dangling_word_leaves_it_open():
    assert still_open("Is it going to", "Rain this.") and not still_open("", "What is this?")
    assert not still_open("Is it going to", "Rain this afternoon?")


def test_a_partial_may_go_on_when_it_ends_on_a_misheard_to_or_on_a_word_tiny_en_guessed(monkeypatch):
    """tiny.en's partial can read finished where the sentence goes on: it writes a dangling "to" as "too" or "2",
    or completes a sentence cut short with a word it guesses ("... during the night." for "... during the"). Such a
    partial is not acted on; the final text decides."""
    from listenloop.decision.text import sentence
    from listenloop.perception.observation import Confidence

    sure, guessed = Confidence(-0.1, -0.2, -0.1), Confidence(-0.5, -3.1, -0.4)
    monkeypatch.setattr(sentence, "UNSURE_NATS", 2.0)
    assert sentence.may_go_on("How do I convert fifty degrees Fahrenheit too?", sure)
    assert sentence.may_go_on("The lights flickered during the night.", guessed)
    assert not sentence.may_go_on("The lights flickered during the night.", sure)
    assert not sentence.may_go_on("Can you walk on them?", Confidence(-0.5, -1.9, -0.4))  # just under the bar
    monkeypatch.setattr(sentence, "UNSURE_NATS", float("inf"))
    assert not sentence.may_go_on("The lights flickered during the night.", guessed)  # the check off


def test_an_answer_came_too_soon_when_its_last_pieces_final_text_goes_on():
    """The answer's question ends with the piece tiny.en heard; that piece's final text decides."""
    heard = "How long does it take to fly from Paris?"
    assert answered_too_soon(heard, heard, "How long does it take to fly from Paris to?")
    assert not answered_too_soon(heard, heard, "How long does it take to fly from Paris?")  # the same text
    assert not answered_too_soon(heard, heard, "How long does it take to fly from Paris to Rome?")
    assert not answered_too_soon(heard, heard, "")  # no final text: nothing to go by
    # with a sentence joined before it: a piece that stops on a dangling word leaves the whole open
    assert answered_too_soon("Is it going to rain?", "rain?", "Rain this.")
    assert not answered_too_soon("Is it going to rain?", "rain?", "Rain this afternoon?")
    assert not answered_too_soon("What time is it?", "Where?", "Where is the?")  # not this question's piece
