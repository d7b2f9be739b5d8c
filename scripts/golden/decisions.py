"""Golden per-chunk decisions for a refactor of decision/: every contender of `listenloop bench decisions` replayed on
saved observations, in the stream's own mode and in translation and transcription mode too (so every kind of hold is
exercised), written as one JSON file.

usage: python scripts/golden/decisions.py OBSERVATIONS OUT.json BUILD_DIR... [--shared ../shared/audio/dev]
   (OBSERVATIONS: the --observations file `listenloop bench decisions --streams BUILD_DIR...` wrote)
then:  python scripts/golden/decisions.py --compare BEFORE.json AFTER.json
The learned model's inputs are written beside OUT.json (OUT.npz: every chunk's feature vector of every stream) and
compared too: a change to how the turn is tracked must leave them identical, or the model needs retraining.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from listenloop.bench.decisions import built_streams, policies, real_streams
from listenloop.decision.model.features import FeatureExtractor
from listenloop.decision.text.instructions import TaskState
from listenloop.offline.observations import load_observations, observation_key
from listenloop.perception.sounds import load_class_names
from listenloop.vocabulary import Mode


def plain(value: object) -> object:
    """A payload value as JSON: a segment as its number, containers element by element."""
    if hasattr(value, "segment") and hasattr(value, "final"):
        return f"segment {value.segment}"
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


def replay(factory, mode: Mode, observations) -> list[list]:
    policy = factory(mode)
    if mode is Mode.TRANSLATE and hasattr(policy, "task"):
        policy.task = TaskState(mode=Mode.TRANSLATE, language="en")
    state = policy.init_state()
    out = []
    for k, obs in enumerate(observations):
        d = policy.decide(obs, state)
        if d.action.value != "silent" or d.reason:
            out.append([k, d.action.value, d.task.value if d.task else None, d.reason, d.emotion.value,
                        plain(d.payload)])
    return out


def record(observations: Path, out: Path, builds: list[Path], shared: Path | None) -> None:
    kept = load_observations(observations)
    items = [item for b in builds for item in built_streams(b, None)]
    if shared is not None:
        items += real_streams(shared)
    contenders = {n: f for n, f in policies(None).items() if n.startswith(("conversation", "learned", "rules"))}
    golden: dict[str, list] = {}
    vectors: dict[str, np.ndarray] = {}
    extractor = FeatureExtractor(load_class_names())
    for item in items:
        name = observation_key(item.stream, item.audio)  # (stream ids repeat across builds)
        replayed = kept.get(name)
        if replayed is None:
            print(f"note: {item.stream.id} not in {observations}: skipped", file=sys.stderr)
            continue
        features = extractor.init_state(item.stream.mode)
        vectors[name] = np.stack([extractor.step(obs, features) for obs in replayed])
        for mode in dict.fromkeys((item.stream.mode, Mode.TRANSLATE, Mode.TRANSCRIBE)):
            for policy, factory in contenders.items():
                golden[f"{name} | {mode.value} | {policy}"] = replay(factory, mode, replayed)
        print(f"{item.stream.id}: done", file=sys.stderr)
    out.write_text(json.dumps(golden, indent=0, ensure_ascii=False), encoding="utf-8")
    np.savez(out.with_suffix(".npz"), **vectors)


def compare(before: Path, after: Path) -> int:
    a, b = (json.loads(p.read_text(encoding="utf-8")) for p in (before, after))
    differ = 0
    for key in sorted(set(a) | set(b)):
        if a.get(key) == b.get(key):
            continue
        differ += 1
        x, y = a.get(key, []), b.get(key, [])
        print(f"DIFFER {key}: {len(x)} vs {len(y)} decisions")
        for p, q in zip(x + [None] * (len(y) - len(x)), y + [None] * (len(x) - len(y)), strict=True):
            if p != q:
                print(f"  before {p}\n  after  {q}")
                break
    print(f"{len(set(a) | set(b)) - differ} same, {differ} differ")
    x, y = np.load(before.with_suffix(".npz")), np.load(after.with_suffix(".npz"))
    changed = [k for k in sorted(set(x.files) | set(y.files))
               if k not in x.files or k not in y.files or not np.array_equal(x[k], y[k])]
    print(f"model inputs: {len(x.files) - len(changed)} streams identical, {len(changed)} differ {changed[:5]}")
    return 1 if differ or changed else 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--compare", nargs=2, type=Path)
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--shared", type=Path)
    args = parser.parse_args()
    if args.compare:
        return compare(*args.compare)
    record(args.paths[0], args.paths[1], args.paths[2:], args.shared)
    return 0


if __name__ == "__main__":
    sys.exit(main())
