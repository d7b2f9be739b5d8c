"""Compare two golden runs (scripts/golden/run.sh): per-chunk decisions, perception events (as a set: a final's place
in the event order follows a worker thread) and responses (their text included) must be the same."""

import collections
import json
import pathlib
import sys


def load(path: pathlib.Path) -> list[dict]:
    return [json.loads(line) for line in path.open() if line.startswith("{")]


def key(event: dict) -> tuple:
    return tuple(sorted((k, json.dumps(v)) for k, v in event.items() if not k.endswith("_ms") and k != "id"))


def main(before: str, after: str) -> int:
    differ = 0
    for f in sorted(pathlib.Path(before).glob("*.jsonl")):
        a, b = load(f), load(pathlib.Path(after) / f.name)
        decisions = [[(d["chunk"], d["action"], d["task"]) for d in x if d["type"] == "decision"] for x in (a, b)]
        heard = [collections.Counter(key(d) for d in x if d["type"] in ("transcript", "task", "sound")) for x in (a, b)]
        said = [[(d["t"], d["task"], d["text"], d.get("interrupted")) for d in x if d["type"] == "response"]
                for x in (a, b)]
        same = (decisions[0] == decisions[1], heard[0] == heard[1], said[0] == said[1])
        differ += not all(same)
        print(f"{f.name}: decisions {'same' if same[0] else 'DIFFER'}, perception {'same' if same[1] else 'DIFFER'}, "
              f"responses {'same' if same[2] else 'DIFFER'}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
