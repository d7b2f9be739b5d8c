"""Translation quality: 20 English sentences with reference Chinese and Spanish, spoken by the synthesizers, through
a session in translation mode, scored with sacrebleu (chrF and BLEU; Chinese with its `zh` tokenizer).

The references were written for this set (everyday sentences, plain register). The same sentences translated from
their text, without speech, separate the model's errors from the recognizer's.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np

from listenloop.audio.constants import SAMPLE_RATE
from listenloop.bench.choices import comma_list


@dataclass(frozen=True)
class Sentence:
    en: str
    zh: str  # reference Chinese (Simplified)
    es: str  # reference Spanish


SENTENCES = (
    Sentence("The weather is very nice today, so we are going to the park.",
             "今天天气很好，所以我们要去公园。", "Hoy hace muy buen tiempo, así que vamos al parque."),
    Sentence("Could you please close the window? It is getting cold.",
             "你能把窗户关上吗？天越来越冷了。", "¿Podrías cerrar la ventana, por favor? Está haciendo frío."),
    Sentence("My brother works at a hospital in the city center.",
             "我哥哥在市中心的一家医院工作。", "Mi hermano trabaja en un hospital del centro de la ciudad."),
    Sentence("The train to the airport leaves every twenty minutes.",
             "去机场的火车每二十分钟发一班。", "El tren al aeropuerto sale cada veinte minutos."),
    Sentence("I would like a cup of coffee with milk, please.",
             "请给我一杯加牛奶的咖啡。", "Quisiera una taza de café con leche, por favor."),
    Sentence("We have been learning Chinese for two years.",
             "我们学中文已经两年了。", "Llevamos dos años aprendiendo chino."),
    Sentence("The meeting has been moved to Thursday afternoon.",
             "会议改到了星期四下午。", "La reunión se ha cambiado al jueves por la tarde."),
    Sentence("Please turn off the lights when you leave the room.",
             "离开房间时请关灯。", "Por favor, apaga las luces cuando salgas de la habitación."),
    Sentence("She bought a new phone because her old one was broken.",
             "她买了一部新手机，因为她的旧手机坏了。", "Ella compró un teléfono nuevo porque el viejo estaba roto."),
    Sentence("How much does this book cost?", "这本书多少钱？", "¿Cuánto cuesta este libro?"),
    Sentence("The children are playing football in the garden.",
             "孩子们在花园里踢足球。", "Los niños están jugando al fútbol en el jardín."),
    Sentence("I forgot my umbrella at the restaurant last night.",
             "我昨晚把雨伞忘在餐厅了。", "Anoche olvidé mi paraguas en el restaurante."),
    Sentence("The doctor said that I should drink more water.",
             "医生说我应该多喝水。", "El médico dijo que debería beber más agua."),
    Sentence("Where is the nearest train station?",
             "最近的火车站在哪里？", "¿Dónde está la estación de tren más cercana?"),
    Sentence("We are going to visit our grandparents this weekend.",
             "这个周末我们要去看望祖父母。", "Este fin de semana vamos a visitar a nuestros abuelos."),
    Sentence("This restaurant serves the best noodles in town.",
             "这家餐厅的面条是全城最好的。", "Este restaurante sirve los mejores fideos de la ciudad."),
    Sentence("Music helps me relax after a long day at work.",
             "工作了一整天之后，音乐能帮助我放松。",
             "La música me ayuda a relajarme después de un largo día de trabajo."),
    Sentence("The store opens at nine in the morning and closes at six.",
             "商店早上九点开门，晚上六点关门。", "La tienda abre a las nueve de la mañana y cierra a las seis."),
    Sentence("My favorite season is autumn, when the leaves turn red.",
             "我最喜欢的季节是秋天，那时树叶会变红。",
             "Mi estación favorita es el otoño, cuando las hojas se ponen rojas."),
    Sentence("Can you help me carry these boxes upstairs?",
             "你能帮我把这些箱子搬到楼上吗？", "¿Puedes ayudarme a subir estas cajas?"),
)
INSTRUCTIONS = {"zh": "translate everything into Chinese", "es": "translate everything into Spanish"}
GAP_S = 2.5  # s of silence after each sentence: every sentence closes its own segment
BLOCK = SAMPLE_RATE // 2  # samples per feed() call
SEGMENT_SLACK_S = 0.5  # s; a translated segment belongs to the sentence whose span it overlaps (with this slack)


@dataclass(frozen=True)
class Scores:
    chrf: float  # sacrebleu chrF, 0..100
    bleu: float  # sacrebleu BLEU, 0..100


def score(hypotheses: list[str], references: list[str], language: str) -> Scores:
    import sacrebleu

    return Scores(sacrebleu.corpus_chrf(hypotheses, [references]).score, bleu(hypotheses, references, language))


def bleu(hypotheses: list[str], references: list[str], language: str) -> float:
    """sacrebleu BLEU (0..100), Chinese cut by its own tokenizer."""
    import sacrebleu

    return sacrebleu.corpus_bleu(hypotheses, [references], tokenize="zh" if language == "zh" else "13a").score


def build() -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The spoken set (voices alternate, all at a near talker's level) and each sentence's (start, end), s."""
    from listenloop.bench.talkers import voices
    from listenloop.synthesis.synth import silence

    talkers = voices()
    parts, spans, t = [silence(1.0)], [], 1.0
    for i, sentence in enumerate(SENTENCES):
        audio = talkers[i % len(talkers)](sentence.en)
        parts += [audio, silence(GAP_S)]
        spans.append((t, t + len(audio) / SAMPLE_RATE))
        t += len(audio) / SAMPLE_RATE + GAP_S
    return np.concatenate(parts), spans


def translate_speech(engine, audio: np.ndarray, spans: list[tuple[float, float]], language: str) -> list[str]:
    """One session told by option to translate; its translations joined per sentence (a sentence may split)."""
    from listenloop.runtime.events import ResponseEvent
    from listenloop.runtime.session import SessionOptions
    from listenloop.vocabulary import Mode

    session = engine.session(SessionOptions(mode=Mode.ASSISTANT, instruction=INSTRUCTIONS[language]))
    events = []
    for i in range(0, len(audio), BLOCK):  # as fast as possible: translations queue and are all awaited
        events += session.feed(audio[i : i + BLOCK])
    events += session.finish()
    out = [[] for _ in spans]
    for e in (e for e in events if isinstance(e, ResponseEvent) and e.task == "translate"):
        t0, t1 = float(e.extra.get("t0", e.t)), float(e.extra.get("t1", e.t))
        for k, (s0, s1) in enumerate(spans):
            if t0 < s1 + SEGMENT_SLACK_S and t1 > s0 - SEGMENT_SLACK_S:
                out[k].append(e.text.strip())
                break
    joiner = "" if language == "zh" else " "
    return [joiner.join(parts) for parts in out]


def translate_text(engine, language: str) -> list[str]:
    """The same sentences translated from their text (no speech): the model's share of the errors."""
    from listenloop.vocabulary import Task

    responder = engine.responders[Task.TRANSLATE]
    return ["".join(responder.translate_text(s.en, "en", language)).strip() for s in SENTENCES]


def run_translation(args: argparse.Namespace) -> int:
    from listenloop.runtime.engine import Engine, EngineConfig

    try:
        languages = comma_list(INSTRUCTIONS, "language")(args.languages)  # (a --translation option of bench
    except argparse.ArgumentTypeError as e:  # conversation, which reads its other options)
        print(f"error: {e}")
        return 2
    engine = Engine(EngineConfig(llm=args.llm))
    engine.llm()
    audio, spans = build()
    print(f"{len(SENTENCES)} sentences, {len(audio) / SAMPLE_RATE:.0f} s of speech, model {args.llm}")
    for language in languages:
        references = [getattr(s, language) for s in SENTENCES]
        started = time.perf_counter()
        spoken = translate_speech(engine, audio, spans, language)
        took = time.perf_counter() - started
        text = translate_text(engine, language)
        a, b = score(spoken, references, language), score(text, references, language)
        missing = sum(not h for h in spoken)
        print(f"en->{language}: from speech chrF {a.chrf:.1f} BLEU {a.bleu:.1f} ({missing} sentences without "
              f"a translation, {took:.0f} s); from the text chrF {b.chrf:.1f} BLEU {b.bleu:.1f}")
        for k in (0, 9, 19):
            print(f"  {SENTENCES[k].en} -> speech: {spoken[k]!r} / text: {text[k]!r}")
    return 0
