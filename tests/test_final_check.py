"""A final text is checked against what the partials heard before it replaces them (perception/final_check.py)."""

from __future__ import annotations

from listenloop.perception.final_check import checked_final


def test_a_phrase_the_final_repeats_but_the_partial_heard_once_is_taken_out():
    heard = "I have been reading about streaming speech models, and"
    final = "I have been reading about streaming speech models and streaming speech models."
    assert checked_final(final, heard) == "I have been reading about streaming speech models and"
    looped = "I have been reading about streaming speech models and streaming speech models and streaming"
    assert checked_final(looped, heard) == "I have been reading about streaming speech models and"  # the demo's


def test_words_said_twice_stay_and_a_final_without_repeats_is_untouched():
    assert checked_final("Thank you, thank you very much.", "Thank you, thank you very much.") == \
        "Thank you, thank you very much."
    assert checked_final("What is the capital of France?", "What is the capital of friends?") == \
        "What is the capital of France?"
    assert checked_final("Very, very good.", "Very good.") == "Very, very good."  # one word repeats in speech


def test_with_no_partial_to_compare_the_final_stands():
    assert checked_final("one two three one two three", "") == "one two three one two three"
