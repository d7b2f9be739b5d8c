"""Command-line lists of named choices ("--languages zh,es"), checked when the arguments are parsed. argparse's own
`choices` takes one value per flag; these benches take one comma-separated list."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable


def comma_list(known: Iterable[str], what: str) -> Callable[[str], list[str]]:
    """An argparse `type`: comma-separated values, each one of `known`; a clear error names the unknown ones and the
    known ones."""
    names = tuple(known)

    def parse(text: str) -> list[str]:
        values = [x.strip() for x in text.split(",") if x.strip()]
        unknown = [x for x in values if x not in names]
        if unknown or not values:
            raise argparse.ArgumentTypeError(f"unknown {what} {', '.join(unknown) or '(none given)'}; "
                                             f"known: {', '.join(names)}")
        return values

    return parse
