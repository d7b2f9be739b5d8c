"""Conversation: decision delay, first-token time, false answers, barge-in cuts; translation quality; one hour.

The default part: a synthesized stream (piper and espeak-ng voices, all at a near talker's level) of questions,
statements and background talk (the same voices 15 dB quieter through a television's band) with known ends goes
through one assistant session in real time (paced as a live microphone). `--translation` scores the translation
mode on a bilingual set (bench/bilingual.py); `--hour` measures latency and memory over a long session (bench/hour.py).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.bench.talkers import QUESTIONS, STATEMENTS, background, voices
from listenloop.bench.wer import normalize
from listenloop.decision.base import DEFAULT_DECIDER, Decider

GAP_S = 5.0  # s of silence after each utterance (room for the answer)
BLOCK = SAMPLE_RATE // 2  # samples per feed() call
DECIDED_WITHIN_S = 2.0  # s after an utterance's end in which an answer decision counts as its answer
CUT_TOLERANCE_S = 1.0  # s; an answer stopped within this of an utterance's span was stopped by that utterance


@dataclass(frozen=True)
class Utterance:
    kind: str  # "question" | "statement" | "background"
    text: str
    t0: float  # s, start in the stream
    t1: float  # s, end


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--questions", type=int, default=len(QUESTIONS), help="questions in the stream (max 8)")
    p.add_argument("--llm", default="qwen2.5-0.5b", help="language model (packaged name or .gguf)")
    p.add_argument("--translation", action="store_true", help="score translation on the bilingual set instead")
    p.add_argument("--languages", default="zh,es", help="targets of --translation (comma-separated)")
    p.add_argument("--hour", action="store_true", help="latency and memory over a long session instead")
    p.add_argument("--minutes", type=float, default=60.0, help="stream length of --hour, minutes")
    p.add_argument("--decider", choices=[d.value for d in Decider], default=DEFAULT_DECIDER.value,
                   help="who decides whether and when speech is answered (decision/timing.py)")


def build(n_questions: int) -> tuple[np.ndarray, list[Utterance]]:
    """The stream and its utterances, in a fixed shuffled order."""
    from listenloop.synthesis.synth import silence

    talkers = voices()
    items = [("question", q) for q in QUESTIONS[:n_questions]] + [("statement", s) for s in STATEMENTS]
    items += [("background", q) for q in QUESTIONS[: max(1, n_questions // 2)]]
    rng = np.random.default_rng(0)
    rng.shuffle(items)
    parts, utterances, t = [silence(1.0)], [], 1.0
    for i, (kind, text) in enumerate(items):
        audio = talkers[i % len(talkers)](text)
        audio = background(audio) if kind == "background" else audio
        parts += [audio, silence(GAP_S)]
        utterances.append(Utterance(kind, text, t, t + len(audio) / SAMPLE_RATE))
        t += len(audio) / SAMPLE_RATE + GAP_S
    return np.concatenate(parts), utterances


def run(args: argparse.Namespace) -> int:
    if args.translation:
        from listenloop.bench.bilingual import run_translation

        return run_translation(args)
    if args.hour:
        from listenloop.bench.hour import run_hour

        return run_hour(args)
    return run_questions(args)


def run_questions(args: argparse.Namespace) -> int:
    from listenloop.runtime.engine import Engine, EngineConfig
    from listenloop.runtime.session import SessionOptions
    from listenloop.vocabulary import Mode

    audio, utterances = build(min(args.questions, len(QUESTIONS)))
    engine = Engine(EngineConfig(llm=args.llm))
    engine.llm()  # loaded before the clock starts
    session = engine.session(SessionOptions(mode=Mode.ASSISTANT, decider=Decider(args.decider)))
    events, started = [], time.perf_counter()
    for i in range(0, len(audio), BLOCK):  # paced as live audio: answers then compete with listening as they would
        events += session.feed(audio[i : i + BLOCK])
        time.sleep(max(0.0, started + (i + BLOCK) / SAMPLE_RATE - time.perf_counter()))
    events += session.finish()
    print(f"stream {len(audio) / SAMPLE_RATE:.0f} s in {time.perf_counter() - started:.0f} s")
    report(events, utterances)
    return 0


def report(events: list, utterances: list[Utterance]) -> None:
    from listenloop.runtime.events import DecisionEvent, ResponseEvent, TranscriptEvent, answers_given

    answers = answers_given(events)
    delays, false_answers = [], {"statement": 0, "background": 0}
    for u in utterances:
        hit = [d for d in answers if u.t1 - 0.2 < d.t <= u.t1 + DECIDED_WITHIN_S]
        if u.kind == "question" and hit:
            delays.append(hit[0].t - u.t1)
        elif u.kind == "question":
            near = {d.reason for d in events if isinstance(d, DecisionEvent) and d.reason
                    and u.t1 - 0.2 < d.t <= u.t1 + DECIDED_WITHIN_S + 3.0}
            print(f"  unanswered question {u.text!r}: {sorted(near)}")
        elif u.kind != "question" and hit:
            false_answers[u.kind] += 1
            print(f"  false answer to {u.kind} {u.text!r}: {hit[0].reason}")
    n = {k: sum(u.kind == k for u in utterances) for k in ("question", "statement", "background")}
    print(f"questions answered {len(delays)}/{n['question']}")
    if delays:
        print(f"decision delay p50 {np.percentile(delays, 50):.2f} s, p95 {np.percentile(delays, 95):.2f} s "
              f"(each: {', '.join(f'{d:.2f}' for d in delays)})")
    done = [e for e in events if isinstance(e, ResponseEvent) and e.task == "answer"]
    first = [e.latency_ms for e in done]
    if first:
        print(f"first response token p50 {np.percentile(first, 50) / 1000:.2f} s, "
              f"p95 {np.percentile(first, 95) / 1000:.2f} s")
    asked = [(u, e) for e in done for u in utterances
             if u.kind == "question" and u.t1 - 0.2 < e.t <= u.t1 + DECIDED_WITHIN_S]
    as_said = [(u, e) for u, e in asked if normalize(str(e.extra.get("question", ""))) == normalize(u.text)]
    print(f"answers asked as said: {len(as_said)}/{len(asked)} (the question the model was given, word for word)")
    finals = [e for e in events if isinstance(e, TranscriptEvent) and e.final]
    for u, e in (pair for pair in asked if pair not in as_said):
        heard = " ".join(f.text for f in finals if u.t0 - 0.5 < f.t1 <= u.t1 + 0.5)
        print(f"  asked {e.extra.get('question')!r} for {u.text!r} (final text {heard!r})")
    for e in done:  # prefill is most of the first token: how much of each prompt the model had to evaluate
        if "prompt_tokens" in e.extra:
            tokens, cached = e.extra["prompt_tokens"], e.extra["cached_tokens"]
            print(f"  answer at {e.t:.1f} s: first token {e.latency_ms / 1000:.2f} s, prompt {tokens} tokens, "
                  f"{tokens - cached} evaluated (the rest cached)")
    print(f"false answers: statements {false_answers['statement']}/{n['statement']}, "
          f"background {false_answers['background']}/{n['background']}")
    cuts = {"question": 0, "statement": 0, "background": 0, "none": 0}
    for e in (e for e in done if e.interrupted):  # paced in real time: wall time after the decision ~ stream time
        stopped = e.t + e.duration_ms / 1000.0
        by = [u for u in utterances if u.t0 - CUT_TOLERANCE_S <= stopped <= u.t1 + CUT_TOLERANCE_S]
        cuts[by[0].kind if by else "none"] += 1
    print(f"answers cut off by barge-in: {sum(cuts.values())} (by the user's questions {cuts['question']}, "
          f"statements {cuts['statement']}; wrongly: by background talk {cuts['background']}, "
          f"by nothing {cuts['none']})")
