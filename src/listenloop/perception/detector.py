"""listenloop's own sound detector: a small head on YAMNet's 1024-d patch embedding, trained on real recordings.

The int8 YAMNet graph computes the embedding (its global average pool, before the AudioSet classifier) anyway; the
tagger asks the graph for it as a second output, so the detector costs one small matrix product per patch. The head
(weights in the package, `listenloop train sounds` makes them) gives each learned class a probability; each class's
operating threshold (chosen by cross-validation over training sources) is mapped to a score of 0.5, so that a policy
threshold of 0.5 means "the detector's own operating point" for every class. numpy only at run time.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from enum import Enum
from importlib import resources
from pathlib import Path

import numpy as np

BATCH_DIM = "patches"  # the graph's first dimension, made free (yamnet_graph)
EMBEDDING_OUTPUT = "/model/GlobalAveragePool_output_0"  # the int8 graph's float [1, 1024, 1, 1] pooled features
EMBEDDING_SIZE = 1024
WEIGHTS_PACKAGE = "listenloop.perception.weights"
WEIGHTS_FILE = "sound_detector.npz"
CARD_FILE = "sound_detector.json"  # classes, sha256 of the weights, seed, training data list
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed member time: np.savez stamps the wall clock, so equal weights differed
# Up to this many rows (a chunk has 4 patches) the head's products run in einsum: numpy's multithreaded BLAS took
# 17.6 ms per 4-row call on the shared 2-core machine (0.3 ms in einsum, 0.12 ms with one BLAS thread).
EINSUM_ROWS = 64
LEARNED_PREFIX = "learned:"  # how learned classes sit beside AudioSet names in a score vector's names


class Packaged(Enum):
    DETECTOR = "packaged"  # the tagger loads the detector shipped in the package, if any


class DetectorError(RuntimeError):
    """The detector's weights are missing or do not match their recorded sha256."""


def yamnet_graph(path: Path, embeddings: bool) -> bytes:
    """The YAMNet graph (serialized, for onnxruntime) taking any number of patches at once (its batch dimension was
    fixed at 1), with its pooled embedding as a second output when `embeddings` (the learned detector reads it).

    One call for a chunk's patches (each in one or two views) gives each patch's scores bit for bit as one call per
    patch does (tests/test_sounds.py), and costs less: one pass through the graph's setup instead of one per patch."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise DetectorError("the sound tagger needs the onnx package: pip install 'onnx>=1.16'") from None
    model = onnx.load(str(path))
    graph = model.graph
    if embeddings and not any(n.output and n.output[0] == EMBEDDING_OUTPUT for n in graph.node):
        raise DetectorError(f"{path}: no node computes {EMBEDDING_OUTPUT}; not the expected int8 YAMNet graph")
    for value in (graph.input[0], graph.output[0]):
        value.type.tensor_type.shape.dim[0].dim_param = BATCH_DIM
    shapes = {n.input[1] for n in graph.node if n.op_type == "Reshape"}  # the pooled [1, 1024, 1, 1] -> [1, 1024]
    for i, init in enumerate(graph.initializer):
        if init.name in shapes:
            graph.initializer[i].CopyFrom(numpy_helper.from_array(np.array([0, -1], np.int64), init.name))  # 0: keep
            # the batch dimension
    del graph.value_info[:]  # intermediate shapes recorded with batch 1; onnxruntime infers them again
    if embeddings:
        graph.output.append(onnx.helper.make_tensor_value_info(EMBEDDING_OUTPUT, onnx.TensorProto.FLOAT, None))
    return model.SerializeToString()


@dataclass(frozen=True)
class HeadWeights:
    """A two-layer head: standardize, ReLU hidden layer, one sigmoid per class."""

    mean: np.ndarray  # [1024] embedding mean over the training patches
    scale: np.ndarray  # [1024] 1 / standard deviation
    w1: np.ndarray  # [1024, hidden]
    b1: np.ndarray  # [hidden]
    w2: np.ndarray  # [hidden, classes]
    b2: np.ndarray  # [classes]
    thresholds: np.ndarray  # [classes] probability at which a class counts as present (mapped to score 0.5)

    def save(self, path: Path) -> str:
        """Write the weights (float32 .npz, byte-identical for identical weights) and return their sha256."""
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
            for k in self.__dataclass_fields__:
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.asarray(getattr(self, k), np.float32), allow_pickle=False)
                z.writestr(zipfile.ZipInfo(f"{k}.npy", date_time=ZIP_TIME), buf.getvalue())  # no wall-clock stamp
        return hashlib.sha256(path.read_bytes()).hexdigest()

    @classmethod
    def load(cls, path: Path) -> HeadWeights:
        with np.load(path) as z:
            return cls(**{k: z[k].astype(np.float32) for k in cls.__dataclass_fields__})


def probabilities(w: HeadWeights, emb: np.ndarray) -> np.ndarray:
    """[n, 1024] embeddings -> [n, classes] probabilities."""
    x = (np.asarray(emb, np.float32) - w.mean) * w.scale
    if len(x) <= EINSUM_ROWS:  # a chunk's few patches: no BLAS threads (see EINSUM_ROWS)
        h = np.maximum(np.einsum("ni,ih->nh", x, w.w1) + w.b1, 0.0)
        return 1.0 / (1.0 + np.exp(-np.clip(np.einsum("nh,hc->nc", h, w.w2) + w.b2, -30.0, 30.0)))
    h = np.maximum(x @ w.w1 + w.b1, 0.0)
    return 1.0 / (1.0 + np.exp(-np.clip(h @ w.w2 + w.b2, -30.0, 30.0)))


def calibrate(p: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Map each class's probability so that its threshold lands on 0.5 (piecewise linear, monotone)."""
    th = np.clip(thresholds, 1e-4, 1 - 1e-4)
    return np.where(p < th, 0.5 * p / th, 0.5 + 0.5 * (p - th) / (1 - th)).astype(np.float32)


class SoundDetector:
    """The packaged head (or one at `path`), checked against the sha256 its card records."""

    def __init__(self, path: Path | None = None) -> None:
        if path is None:
            folder = resources.files(WEIGHTS_PACKAGE)
            path = Path(str(folder.joinpath(WEIGHTS_FILE)))
        card_path = path.with_suffix(".json")
        self.path, self.card_path = path, card_path
        if not path.is_file() or not card_path.is_file():
            raise DetectorError(f"{path} or its card {card_path.name} is missing: run `listenloop train sounds`")
        self.card = json.loads(card_path.read_text(encoding="utf-8"))
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != self.card["sha256"]:
            raise DetectorError(f"{path}: sha256 {digest} does not match {self.card['sha256']} in {card_path.name}; "
                                "the weights are corrupt or were changed without retraining")
        self.weights = HeadWeights.load(path)
        self.classes: tuple[str, ...] = tuple(self.card["classes"])
        self.names = tuple(LEARNED_PREFIX + c for c in self.classes)  # as the policy names them beside AudioSet's

    def scores(self, emb: np.ndarray) -> np.ndarray:
        """[n, 1024] embeddings -> [n, classes] calibrated scores (0.5 at each class's operating threshold)."""
        return calibrate(probabilities(self.weights, emb), self.weights.thresholds)


def packaged_classes() -> tuple[str, ...]:
    """The learned classes of the packaged detector (from its card, without loading the weights)."""
    card = resources.files(WEIGHTS_PACKAGE).joinpath(CARD_FILE)
    return tuple(json.loads(card.read_text(encoding="utf-8"))["classes"])


def default_detector() -> SoundDetector | None:
    """The packaged detector, or None where the package ships none (then learned classes score 0)."""
    try:
        return SoundDetector()
    except DetectorError as e:
        if "missing" in str(e):
            return None
        raise
