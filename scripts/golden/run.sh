#!/bin/bash
# Golden events for a refactor: `listenloop run --json` on the shared dev streams with one tree's code.
# usage: scripts/golden/run.sh SRC_TREE OUT_DIR   (SRC_TREE: a checkout, e.g. a worktree of the commit before)
# then: python scripts/golden/compare.py BEFORE_DIR AFTER_DIR
set -euo pipefail
tree=$1; out=$2; mkdir -p "$out"
here=$(cd "$(dirname "$0")/../.." && pwd)
shared=${SHARED:-$here/../shared}/audio/dev/streams
for f in "$shared"/*.wav "$shared"/*/sample*_0[12].wav; do
  n=$(echo "$f" | sed "s#.*/streams/##; s#/#_#g")
  PYTHONPATH="$tree/src" "$here/.venv/bin/python" -m listenloop run "$f" --json > "$out/$n.jsonl" 2> "$out/$n.err"
done
