"""How the Mandarin lexicon tells questions and requests from statements on lines it was not written from: each line
of scripts/data/zh_questions.tsv spoken by Kokoro (synthesis/kokoro_voice.py), read back by Whisper base, and
classified (decision/text/multilingual.py kind) with each lexicon file given (the packaged one if none) and on the
written text. Usage:
  PYTHONPATH=src python scripts/lexicon_heldout.py [--set A|B|C|D|E|all] [--styles jf_gongitsune jm_kumo]
      [--lexicon OLD.toml ...]
(issue 30; docs/benchmarks/languages.md)"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.decision.text import multilingual as M
from listenloop.perception.asr import Recognizer
from listenloop.perception.language import in_script
from listenloop.synthesis.kokoro_voice import speak_mandarin

LINES = Path(__file__).parent / "data" / "zh_questions.tsv"
ASKS = {"question", "request"}
PAD_S = 0.5  # s of silence around each line, as bench voices reads them


def lines(which: str) -> list[tuple[str, str]]:
    out, current = [], None
    for line in LINES.read_text(encoding="utf-8").splitlines():
        if line.startswith("# set "):
            current = line.removeprefix("# set ").strip()
        elif line and not line.startswith("#") and which in ("all", current):
            label, text = line.split("\t")
            out.append((label, text))
    return out


def tally(kinds: list[tuple[str, str]]) -> str:
    tp = sum(label in ASKS and kind in ASKS for label, kind in kinds)
    fp = sum(label == "statement" and kind in ASKS for label, kind in kinds)
    fn = sum(label in ASKS and kind not in ASKS for label, kind in kinds)
    questions = [kind in ASKS for label, kind in kinds if label == "question"]
    statements = sum(label == "statement" for label, _ in kinds)
    return (f"asks caught {tp}/{tp + fn}, questions {sum(questions)}/{len(questions)}, statements taken as asks "
            f"{fp}/{statements}, F1 {2 * tp / max(2 * tp + fp + fn, 1):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="B", choices=("A", "B", "C", "D", "E", "all"))
    parser.add_argument("--styles", nargs="+", default=["jf_gongitsune", "jm_kumo"])
    parser.add_argument("--lexicon", type=Path, nargs="*", default=[], help="other lexicon files to compare")
    args = parser.parse_args()
    lexicons = {str(p): M.read_lexicon(p.read_text(encoding="utf-8"), "zh") for p in args.lexicon}
    lexicons["packaged"] = M.lexicon("zh")
    rec, pad = Recognizer(), np.zeros(int(PAD_S * SAMPLE_RATE), np.float32)
    heard = []
    for style in args.styles:
        for label, text in lines(args.set):
            final = rec.transcribe_segment(np.concatenate([pad, speak_mandarin(text, style=style), pad]))
            heard.append((label, text, in_script(final.text, final.lang)))
            print(f"{style} {label:9} {text} | {final.lang}: {heard[-1][2]}", flush=True)
    for name, lex in lexicons.items():
        print(f"{name}, as heard: {tally([(label, M.kind(h, lex)[0]) for label, _, h in heard])}")
        print(f"{name}, as written: {tally([(label, M.kind(t, lex)[0]) for label, t, _ in heard])}")


if __name__ == "__main__":
    main()
