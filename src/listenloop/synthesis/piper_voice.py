"""The packaged piper voice, made repeatable: the same text at the same rate gives the same samples, in any process.

Piper's VITS graph draws two noise tensors (`RandomNormalLike`) on every call, from a generator that onnxruntime
does not let a caller seed (`onnxruntime.set_seed` leaves it alone): the same sentence came out 0.05 s longer or
shorter on each call, so a data build was not determined by its seed. Here the two nodes are replaced, in memory,
by slices of two extra graph inputs, and `SeededSession` fills those from a generator seeded by what is spoken (the
phoneme ids and the scales): sentences still differ in their timing and voice quality as piper's do, but one
sentence at one rate is spoken one way, as espeak-ng always spoke it.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import numpy as np

NOISE_NODE = "RandomNormalLike"  # the op that draws the noise
DURATION_NOISE = "noise_dp"  # [batch, 2, phonemes]: the stochastic duration predictor's noise
LATENT_NOISE = "noise_z"  # [batch, channels, frames]: the latent's noise, one column per spectrogram frame
FRAMES_FIRST = 4096  # latent noise frames fed at first (48 s of speech at 22.05 kHz, hop 256; 3 MB), doubled if a
# sentence needs more; the noise of a frame does not depend on how many are fed
FRAMES_MAX = 1 << 16  # ... never more (12 min of speech in one sentence)
LATENT_CHANNELS = 192  # rows of the latent noise: the inter channels of piper's VITS voices (the packaged joe medium)


class VoiceGraphError(RuntimeError):
    """The voice's graph does not have the noise nodes this module replaces (another piper model layout)."""


def seed_noise(model: Any) -> None:
    """Replace the graph's two RandomNormalLike nodes by slices (to the shape they had) of the inputs DURATION_NOISE
    and LATENT_NOISE; `model` is an onnx ModelProto, changed in place."""
    from onnx import TensorProto, helper

    graph = model.graph
    nodes = [n for n in graph.node if n.op_type == NOISE_NODE]
    if len(nodes) != 2:
        raise VoiceGraphError(f"expected 2 {NOISE_NODE} nodes in the piper voice, found {len(nodes)}")
    names = [DURATION_NOISE if n.name.startswith("/dp/") else LATENT_NOISE for n in nodes]
    if set(names) != {DURATION_NOISE, LATENT_NOISE}:
        raise VoiceGraphError("the piper voice's noise nodes are not the duration predictor's and the latent's")
    graph.initializer.append(helper.make_tensor("noise_starts", TensorProto.INT64, [3], [0, 0, 0]))
    graph.initializer.append(helper.make_tensor("noise_axes", TensorProto.INT64, [3], [0, 1, 2]))
    for node, name in zip(nodes, names, strict=True):
        graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [None, None, None]))
        shape = f"{name}_shape"
        at = list(graph.node).index(node)
        graph.node.remove(node)
        graph.node.insert(at, helper.make_node("Shape", [node.input[0]], [shape], name=f"{name}/shape"))
        graph.node.insert(at + 1, helper.make_node("Slice", [name, "noise_starts", shape, "noise_axes"],
                                                   [node.output[0]], name=f"{name}/slice"))


class SeededSession:
    """An onnxruntime session of a graph changed by `seed_noise`, run as piper runs its own: the noise inputs are
    drawn from a generator seeded by the phoneme ids and scales of the call."""

    def __init__(self, model: Any) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 4  # a sentence longer than the noise fed fails a shape check, caught in `run`
        self.session = onnxruntime.InferenceSession(model.SerializeToString(), sess_options=options,
                                                    providers=["CPUExecutionProvider"])

    def run(self, outputs: list[str] | None, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        from onnxruntime.capi.onnxruntime_pybind11_state import Fail, RuntimeException

        ids = feed["input"]
        seed = zlib.crc32(ids.tobytes() + feed["scales"].tobytes())
        frames = FRAMES_FIRST
        while True:
            rng = np.random.default_rng(seed)
            duration = rng.standard_normal((ids.shape[0], 2, ids.shape[1]), dtype=np.float32)
            # drawn frame by frame, so the first frames' noise is the same however many are drawn
            latent = rng.standard_normal((ids.shape[0], frames, LATENT_CHANNELS), dtype=np.float32).transpose(0, 2, 1)
            try:
                return self.session.run(outputs, {**feed, DURATION_NOISE: duration,
                                                  LATENT_NOISE: np.ascontiguousarray(latent)})
            except (Fail, RuntimeException):
                if frames >= FRAMES_MAX:
                    raise
                frames *= 2  # the sentence is longer than the noise fed: its shapes did not match


def load(model_path: Path, config_path: Path, alignments: bool = False):
    """The voice at `model_path` with its noise seeded by what it says; with `alignments`, patched to report where
    each phoneme lies in its audio (piper's own patch)."""
    import json

    import onnx
    from piper import PiperConfig, PiperVoice

    model = onnx.load(str(model_path))
    if alignments:
        from piper.patch_voice_with_alignment import add_alignment_output

        add_alignment_output(model)
    seed_noise(model)
    config = PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
    return PiperVoice(session=SeededSession(model), config=config)
