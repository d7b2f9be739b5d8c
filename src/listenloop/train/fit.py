"""Fitting the decision model: a seeded numpy MLP, several members averaged."""

from __future__ import annotations

import numpy as np

from listenloop.decision.model.learned import CLASSES, DecisionModel
from listenloop.train.targets import StreamFeatures

MEMBERS = 5  # networks from seeds seed..seed+4, probabilities averaged: one network's P moves with its seed
HIDDEN = 96  # hidden units: ~14k weights, well under a millisecond per chunk (5-fold CV: 48 units interrupt more)
EPOCHS = 30  # passes over the data; with L2 below, 30 generalize better to unseen sentences than 60 (validation)
BATCH = 256
LEARNING_RATE = 3e-3  # Adam
L2 = 1e-2  # weight decay: less fits the training streams and interrupts unseen sentences
def _init(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    return (rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(np.float32)


def fit(train: list[StreamFeatures], seed: int, epochs: int = EPOCHS, hidden: int = HIDDEN,
        members: int = MEMBERS) -> DecisionModel:
    """`members` class-weighted softmax MLPs (one ReLU layer each; Adam, minibatches), member i from seed + i, their
    probabilities averaged; identical for a seed."""
    x = np.concatenate([f.x for f in train])
    y = np.concatenate([f.y for f in train])
    w = np.concatenate([f.weight for f in train])
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-3
    xs = (x - mean) / std
    counts = np.bincount(y, minlength=len(CLASSES)).astype(np.float64)
    class_w = np.where(counts > 0, (len(y) / (len(CLASSES) * np.maximum(counts, 1))) ** 0.5, 0.0)
    sw = (w * class_w[y]).astype(np.float32)
    nets = [_fit_member(xs, y, sw, np.random.default_rng(seed + i), epochs, hidden) for i in range(members)]
    stacked = [np.stack([net[k] for net in nets]) for k in range(4)]
    return DecisionModel(mean.astype(np.float32), std.astype(np.float32), *stacked, threshold=0.5)


def _fit_member(xs: np.ndarray, y: np.ndarray, sw: np.ndarray, rng: np.random.Generator, epochs: int,
                hidden: int) -> list[np.ndarray]:
    """One network's weights [w1, b1, w2, b2] on standardized inputs."""
    params = [_init(rng, xs.shape[1], hidden), np.zeros(hidden, np.float32),
              _init(rng, hidden, len(CLASSES)), np.zeros(len(CLASSES), np.float32)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    step = 0
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), BATCH):
            b = order[start : start + BATCH]
            grads = _gradients(params, xs[b], y[b], sw[b])
            step += 1
            for k, raw in enumerate(grads):
                g = raw + L2 * params[k] if params[k].ndim == 2 else raw
                m[k] = 0.9 * m[k] + 0.1 * g
                v[k] = 0.999 * v[k] + 0.001 * g * g
                mh, vh = m[k] / (1 - 0.9**step), v[k] / (1 - 0.999**step)
                params[k] -= LEARNING_RATE * mh / (np.sqrt(vh) + 1e-8)
    return params


def _gradients(params: list[np.ndarray], x: np.ndarray, y: np.ndarray, sw: np.ndarray) -> list[np.ndarray]:
    w1, b1, w2, b2 = params
    pre = x @ w1 + b1
    h = np.maximum(pre, 0.0)
    logits = h @ w2 + b2
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    d = p.copy()
    d[np.arange(len(y)), y] -= 1.0
    d *= (sw / sw.sum())[:, None]
    dh = (d @ w2.T) * (pre > 0)
    return [x.T @ dh, dh.sum(axis=0), h.T @ d, d.sum(axis=0)]
