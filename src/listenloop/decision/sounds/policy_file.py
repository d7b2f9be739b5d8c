"""The sound policy's file: TOML rules (docs/policy.md) parsed, checked line by line and merged into a PolicySpec.

The per-chunk policy that applies a spec is decision/sound_policy.py."""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

from listenloop.vocabulary import Emotion, Task

CLASS_NAME_POLICY = Path(__file__).with_name("class_name_policy.toml")  # AudioSet names only: the default's base
DEFAULT_POLICY = "default_policy.toml"  # package data next to this module: the learned classes over the class names
LEARNED_POLICY = Path(__file__).with_name("learned_policy.toml")  # the rules on the learned detector's classes
POLICY_VERSION = 1


class PolicyError(ValueError):
    """A policy file is invalid; the message names the file, the line and what is wrong."""


class RuleAction(StrEnum):
    ALERT = "alert"  # urgent: alarms, glass, gunshots, screams
    ASK = "ask"  # a concerned check-in: cough, choking
    NOTIFY = "notify"  # worth mentioning: doorbell, phone, dog
    DESCRIBE = "describe"  # say what is heard
    IGNORE = "ignore"  # stay silent

    @property
    def task(self) -> Task | None:
        return None if self is RuleAction.IGNORE else Task(self.value)


ACTION_PRIORITY = {RuleAction.ALERT: 3, RuleAction.ASK: 2, RuleAction.NOTIFY: 1, RuleAction.DESCRIBE: 0}
class Combine(StrEnum):
    """How a rule's classes make its score in a chunk."""

    MAX = "max"  # the highest class score: one class must be sure
    SUM = "sum"  # the class scores added (at most 1): related classes that each half-agree add up


NUMBER_KEYS = {"threshold": (0.0, 1.0), "confident": (0.0, 1.0), "min_duration": (0.0, 600.0),
               "cooldown": (0.0, 86400.0), "gap": (0.0, 600.0), "background": (0.0, 600.0)}
# The int8 model's scores come in steps that files write rounded (0.82 is 0.8195, 0.32 is 0.3194): a score this close
# below a threshold reaches it, so that `confident = 0.82` means the 0.82 step, as written.
SCORE_TOLERANCE = 0.005
UNLESS_SCORE = 0.9  # an `unless` class at or above this (the int8 model's 0.91 step: the tagger is sure) mutes the rule
DEFAULT_KEYS = set(NUMBER_KEYS) | {"urgency", "combine"}
RULE_KEYS = DEFAULT_KEYS | {"classes", "action", "phrase", "say", "unless"}
TOP_KEYS = {"version", "base", "defaults", "rules"}
RULE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class SoundRule:
    name: str  # the table name, [rules.NAME]
    action: RuleAction
    classes: tuple[str, ...]  # AudioSet display names
    threshold: float  # group score at which the sound counts as heard in a chunk, 0..1
    min_duration: float  # s heard within one episode before responding
    cooldown: float  # s after a response before this rule responds again
    gap: float  # s of absence that ends an episode
    urgency: Emotion  # the response's emotion tag
    phrase: str  # how a sentence names the sound ("a smoke alarm")
    say: str  # the sentence to speak; empty: the responder's template for the action
    source: str  # "FILE line N" where the rule was (last) defined
    combine: Combine = Combine.MAX  # how the classes' scores make the group score
    confident: float = 1.0  # a chunk at or above this group score responds at once (min_duration waived); 1 = never
    background: float = 0.0  # s; > 0: scores count only as far as they rise above their median over this long
    unless: tuple[str, ...] = ()  # classes that, when the tagger is sure of them (UNLESS_SCORE), mute the rule


@dataclass(frozen=True)
class PolicySpec:
    rules: tuple[SoundRule, ...]
    sources: tuple[str, ...]  # the files merged, in order

    def rule(self, name: str) -> SoundRule:
        return next(r for r in self.rules if r.name == name)


class _Locator:
    """Finds the line of a table, key or quoted value in TOML text, for error messages (tomllib keeps none)."""

    def __init__(self, text: str, source: str) -> None:
        self.lines = text.splitlines()
        self.source = source

    def _header(self, table: str) -> int:
        pattern = re.compile(r"^\s*\[\s*" + re.escape(table).replace(r"\.", r"\s*\.\s*") + r"\s*\]")
        return next((i for i, line in enumerate(self.lines) if pattern.match(line)), -1)

    def line(self, table: str, key: str | None = None, value: str | None = None) -> int:
        start = self._header(table)
        if key is None and value is None:
            return start + 1
        for i in range(start + 1, len(self.lines)):
            text = self.lines[i]
            if i > start + 1 and re.match(r"^\s*\[", text):
                break
            if value is not None and f'"{value}"' in text or value is None and re.match(rf"^\s*{key}\s*=", text):
                return i + 1
        return start + 1

    def error(self, message: str, table: str, key: str | None = None, value: str | None = None) -> PolicyError:
        line = self.line(table, key, value)
        where = f"{self.source} line {line}" if line > 0 else self.source
        return PolicyError(f"{where}: {message}")


ENUM_KEYS = {"urgency": Emotion, "combine": Combine, "action": RuleAction}  # keys whose value names a member


def _check_number(loc: _Locator, table: str, key: str, value: Any) -> float:
    low, high = NUMBER_KEYS[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise loc.error(f"{key} must be a number from {low:g} to {high:g}, not {value!r}", table, key)
    return float(value)


def _check_fields(loc: _Locator, table: str, raw: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in allowed:
            hint = difflib.get_close_matches(key, sorted(allowed), n=1)
            tip = f" (did you mean {hint[0]!r}?)" if hint else f" (known: {', '.join(sorted(allowed))})"
            raise loc.error(f"unknown key {key!r} in [{table}]{tip}", table, key)
        if key in NUMBER_KEYS:
            out[key] = _check_number(loc, table, key, value)
        elif key in ENUM_KEYS:
            kind = ENUM_KEYS[key]
            try:
                out[key] = kind(value)
            except ValueError:
                known = ", ".join(member.value for member in kind)
                raise loc.error(f"{key} must be one of {known}, not {value!r}", table, key) from None
        elif key in ("phrase", "say"):
            if not isinstance(value, str):
                raise loc.error(f"{key} must be a string, not {value!r}", table, key)
            out[key] = value.strip()
        else:
            out[key] = value
    return out


def _class_hints(name: str, known: Sequence[str]) -> list[str]:
    """Classes whose names hold every word of `name`, then the closest spellings: at most three."""
    words = re.findall(r"\w+", name.lower())
    containing = [k for k in known if words and all(w in re.findall(r"\w+", k.lower()) for w in words)]
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    return list(dict.fromkeys(containing + close))[:3]


def _check_classes(loc: _Locator, table: str, value: Any, known: Sequence[str], key: str = "classes",
                   empty: bool = False) -> tuple[str, ...]:
    if not isinstance(value, list) or not (value or empty) or not all(isinstance(c, str) for c in value):
        kind = "a list" if empty else "a non-empty list"
        raise loc.error(f"{key} must be {kind} of learned or AudioSet class names", table, key)
    names = set(known)
    for name in value:
        if name not in names:
            hints = _class_hints(name, known)
            tip = f"; did you mean {' or '.join(map(repr, hints))}?" if hints else " (see docs/policy.md)"
            raise loc.error(f"unknown class {name!r}{tip}", table, value=name)
    return tuple(value)


@dataclass
class _Layer:
    """One parsed policy file."""

    source: str
    base: bool  # start from the shipped defaults
    defaults: dict[str, Any]
    rules: dict[str, dict[str, Any]]  # rule name -> the keys this file sets


def parse_policy(text: str, source: str, class_names: Sequence[str]) -> _Layer:
    """Parse and validate one policy file's text; PolicyError names the line of any problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        where = re.search(r"\(at line (\d+), column \d+\)", str(e))
        line = int(where.group(1)) if where else len(text.splitlines())  # else: "at end of document"
        reason = re.sub(r"\s*\(at [^)]*\)", "", str(e))
        raise PolicyError(f"{source} line {line}: not valid TOML: {reason}") from None
    loc = _Locator(text, source)
    for key in data:
        if key not in TOP_KEYS:
            raise loc.error(f"unknown top-level key {key!r} (known: {', '.join(sorted(TOP_KEYS))})", "", key)
    if data.get("version", POLICY_VERSION) != POLICY_VERSION:
        raise loc.error(f"version must be {POLICY_VERSION}, not {data['version']!r}", "", "version")
    base = data.get("base", "default")
    if base not in ("default", "none"):
        raise loc.error(f"base must be 'default' or 'none', not {base!r}", "", "base")
    defaults = _check_fields(loc, "defaults", data.get("defaults", {}), DEFAULT_KEYS)
    rules: dict[str, dict[str, Any]] = {}
    claimed: dict[str, str] = {}
    for name, raw in data.get("rules", {}).items():
        table = f"rules.{name}"
        if not RULE_NAME.match(name) or not isinstance(raw, dict):
            raise loc.error(f"[{table}] must be a table named with letters, digits, '_' or '-'", table)
        fields = _check_fields(loc, table, raw, RULE_KEYS)
        if "classes" in fields:
            fields["classes"] = _check_classes(loc, table, fields["classes"], class_names)
            for c in fields["classes"]:
                if c in claimed:
                    raise loc.error(f"class {c!r} is already in [rules.{claimed[c]}]", table, value=c)
                claimed[c] = name
        if "unless" in fields:  # not claimed: a class may mute one rule and belong to another
            fields["unless"] = _check_classes(loc, table, fields["unless"], class_names, "unless", empty=True)
        fields["source"] = f"{source} line {loc.line(table)}"
        rules[name] = fields
    return _Layer(source, base == "default", defaults, rules)


def _default_layers(class_names: Sequence[str]) -> list[_Layer]:
    folder = resources.files("listenloop.decision.sounds")
    return [parse_policy(folder.joinpath(name).read_text(encoding="utf-8"), name, class_names)
            for name in (CLASS_NAME_POLICY.name, DEFAULT_POLICY)]


def merge_layers(layers: Sequence[_Layer]) -> PolicySpec:
    """Later layers override earlier ones: defaults and rules key by key; a class moves to the last rule naming it."""
    defaults: dict[str, Any] = {"threshold": 0.5, "confident": 1.0, "min_duration": 0.0, "cooldown": 60.0,
                                "gap": 3.0, "urgency": Emotion.NORMAL, "combine": Combine.MAX, "background": 0.0}
    merged: dict[str, dict[str, Any]] = {}
    for layer in layers:
        defaults.update(layer.defaults)
        for name, fields in layer.rules.items():
            taken = set(fields.get("classes", ()))
            for other, prev in merged.items():
                if other != name and taken & set(prev.get("classes", ())):
                    prev["classes"] = tuple(c for c in prev["classes"] if c not in taken)
            merged.setdefault(name, {}).update(fields)
    rules = []
    for name, fields in merged.items():
        if "action" not in fields or "classes" not in fields:
            missing = "action" if "action" not in fields else "classes"
            raise PolicyError(f"{fields['source']}: [rules.{name}] has no {missing}")
        if not fields["classes"]:
            continue  # every class moved to later rules
        values = {**defaults, **fields}
        rules.append(SoundRule(
            name=name, action=values["action"], classes=values["classes"], threshold=values["threshold"],
            min_duration=values["min_duration"], cooldown=values["cooldown"], gap=values["gap"],
            urgency=values["urgency"], phrase=values.get("phrase") or values["classes"][0].lower(),
            say=values.get("say", ""), source=values["source"], combine=values["combine"],
            confident=values["confident"], background=values["background"], unless=values.get("unless", ()),
        ))
    return PolicySpec(tuple(rules), tuple(layer.source for layer in layers))


def load_policy(
    files: Iterable[str | Path] = (), class_names: Sequence[str] | None = None, texts: Iterable[str] = ()
) -> PolicySpec:
    """The shipped defaults overridden by `files` (then `texts`, e.g. a session's own), in order."""
    if class_names is None:
        from listenloop.perception.sounds import load_class_names

        class_names = load_class_names() + learned_names()
    layers = []
    for path in files:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise PolicyError(f"cannot read policy file {path}: {e.strerror}") from None
        layers.append(parse_policy(text, str(path), class_names))
    layers += [parse_policy(text, f"<session policy {i + 1}>", class_names) for i, text in enumerate(texts)]
    use_base = all(layer.base for layer in layers)
    base = _default_layers(class_names) if use_base else []
    return merge_layers(base + layers)


def learned_names() -> tuple[str, ...]:
    """The packaged detector's classes as a policy names them ("learned:cough"); none if it is not packaged."""
    from listenloop.perception.detector import LEARNED_PREFIX, packaged_classes

    try:
        return tuple(LEARNED_PREFIX + c for c in packaged_classes())
    except FileNotFoundError:
        return ()
