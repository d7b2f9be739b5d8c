"""What kind of talk a text is (decision/utterance.py): the rules that decide which talk the assistant answers."""

from __future__ import annotations

import pytest

from listenloop.decision.text.utterance import Kind, analyse


@pytest.mark.parametrize("text", [
    "Turn the heating down a little, please.",  # imperatives were statements before session 4: never answered
    "Please repeat that more slowly.",
    "Wake me up at seven tomorrow.",
    "Add milk and eggs to the shopping list.",
    "Tell me a short joke about penguins.",
])
def test_requests_are_addressed(text):
    heard = analyse(text)
    assert (heard.kind, heard.addressed) == (Kind.REQUEST, True), heard


@pytest.mark.parametrize("text, kind", [
    ("Tea, please.", Kind.STATEMENT),  # a polite word is not a request
    ("Call now and get a second set of knives absolutely free.", Kind.STATEMENT),  # adverts' imperatives
    ("Stay tuned for the weather, and then the late film.", Kind.STATEMENT),
    ("The printer is out of paper again.", Kind.STATEMENT),
    ("I was thinking about the", Kind.INCOMPLETE),
])
def test_statements_adverts_and_unfinished_sentences_are_not(text, kind):
    heard = analyse(text)
    assert (heard.kind, heard.addressed) == (kind, False), heard


def test_talk_to_someone_else_by_name_is_not_for_the_assistant():
    assert not analyse("Mark, turn the music down.").addressed
    heard = analyse("Sarah, what time is your train?")
    assert heard.kind is Kind.QUESTION and not heard.addressed and "Sarah" in heard.why
