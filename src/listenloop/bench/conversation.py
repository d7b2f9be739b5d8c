"""Conversation: decision delay and first-token time for questions, false answers to statements and background talk.

A synthesized stream (piper and espeak-ng voices) of questions, statements and quiet background questions with known
ends goes through one assistant session in real time (paced as a live microphone).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE

QUESTIONS = ("What is the tallest mountain in the world?", "How many days are there in a week?",
             "Can you tell me a short joke?", "What is the capital of Italy?", "Why is the sky blue?",
             "Who wrote Romeo and Juliet?", "How far away is the moon?", "What should I cook for dinner tonight?")
STATEMENTS = ("I went to the market yesterday and bought apples.", "The train was late again this morning.",
              "My sister is visiting us next weekend.", "It has been raining all afternoon.")
BACKGROUND_GAIN = 0.1  # -20 dB: talk in the room that is not addressed to the assistant
GAP_S = 5.0  # s of silence after each utterance (room for the answer)
BLOCK = SAMPLE_RATE // 2  # samples per feed() call


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--questions", type=int, default=len(QUESTIONS), help="questions in the stream (max 8)")
    p.add_argument("--llm", default="qwen2.5-0.5b", help="language model (packaged name or .gguf)")


def build(n_questions: int) -> tuple[np.ndarray, list[tuple[str, float]]]:
    """The stream and (kind, end time) of every utterance."""
    from listenloop.data.synth import espeak, piper, silence

    voices = (piper, lambda t: espeak(t, "en-us+m3"), lambda t: espeak(t, "en+f2", rate=0.9))
    items = [("question", q) for q in QUESTIONS[:n_questions]] + [("statement", s) for s in STATEMENTS]
    items += [("background", q) for q in QUESTIONS[: max(1, n_questions // 2)]]
    rng = np.random.default_rng(0)
    rng.shuffle(items)
    parts, ends, t = [silence(1.0)], [], 1.0
    for i, (kind, text) in enumerate(items):
        audio = voices[i % len(voices)](text) * (BACKGROUND_GAIN if kind == "background" else 1.0)
        parts += [audio, silence(GAP_S)]
        t += len(audio) / SAMPLE_RATE
        ends.append((kind, t))
        t += GAP_S
    return np.concatenate(parts), ends


def run(args: argparse.Namespace) -> int:
    from listenloop.decision.base import Mode
    from listenloop.runtime.engine import Engine, EngineConfig
    from listenloop.runtime.events import DecisionEvent, ResponseEvent
    from listenloop.runtime.session import SessionOptions

    audio, ends = build(min(args.questions, len(QUESTIONS)))
    engine = Engine(EngineConfig(llm=args.llm))
    engine.llm()  # loaded before the clock starts
    session = engine.session(SessionOptions(mode=Mode.ASSISTANT))
    events, started = [], time.perf_counter()
    for i in range(0, len(audio), BLOCK):  # paced as live audio: answers then compete with listening as they would
        events += session.feed(audio[i : i + BLOCK])
        time.sleep(max(0.0, started + (i + BLOCK) / SAMPLE_RATE - time.perf_counter()))
    events += session.finish()
    answers = [e for e in events if isinstance(e, DecisionEvent) and e.task == "answer"]
    delays, false_answers = [], {"statement": 0, "background": 0}
    for kind, end in ends:
        hit = [d for d in answers if end - 0.2 < d.t <= end + 2.0]
        if kind == "question" and hit:
            delays.append(hit[0].t - end)
        elif kind != "question" and hit:
            false_answers[kind] += 1
    first = [e.latency_ms for e in events if isinstance(e, ResponseEvent) and e.task == "answer"]
    n_q = sum(k == "question" for k, _ in ends)
    print(f"stream {len(audio) / SAMPLE_RATE:.0f} s in {time.perf_counter() - started:.0f} s; "
          f"questions answered {len(delays)}/{n_q}")
    if delays:
        print(f"decision delay p50 {np.percentile(delays, 50):.2f} s, p95 {np.percentile(delays, 95):.2f} s")
    if first:
        print(f"first response token p50 {np.percentile(first, 50) / 1000:.2f} s, "
              f"p95 {np.percentile(first, 95) / 1000:.2f} s")
    print(f"false answers: statements {false_answers['statement']}/{len(STATEMENTS)}, "
          f"background {false_answers['background']}/{sum(k == 'background' for k, _ in ends)}")
    cut = sum(1 for e in events if isinstance(e, ResponseEvent) and e.task == "answer" and e.interrupted)
    print(f"answers cut off by barge-in: {cut}")
    return 0
