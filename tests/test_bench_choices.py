"""Benches that take a comma-separated list of named choices check it when the arguments are parsed
(bench/choices.py), with an error that names what is known."""

from __future__ import annotations

import argparse

import pytest

from listenloop.bench import translation, voices
from listenloop.bench.choices import comma_list


def test_a_list_of_known_names_is_kept_in_order_and_an_unknown_one_is_refused():
    parse = comma_list(("fr-en", "es-en", "en-zh"), "direction")
    assert parse(" en-zh, fr-en ,") == ["en-zh", "fr-en"]
    with pytest.raises(argparse.ArgumentTypeError, match="unknown direction de-en; known: fr-en, es-en, en-zh"):
        parse("fr-en,de-en")
    with pytest.raises(argparse.ArgumentTypeError, match="none given"):
        parse(" , ")


@pytest.mark.parametrize(("bench", "flag", "good", "bad"), [(translation, "--directions", "es-en", "xx-en"),
                                                            (voices, "--languages", "fr,de", "tlh")])
def test_the_benches_refuse_an_unknown_choice_when_parsing(bench, flag, good, bad, capsys):
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    assert getattr(parser.parse_args([flag, good]), flag.lstrip("-")) == good.split(",")
    with pytest.raises(SystemExit):
        parser.parse_args([flag, bad])
    err = capsys.readouterr().err
    assert "unknown" in err and bad in err
