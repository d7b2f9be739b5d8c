"""Fit the detector's head on patch embeddings (torch's CPU build, training only) and choose each class's operating
threshold by cross-validation over training sources (never on the validation split).

The head is a standardization, one ReLU layer and one sigmoid per class (multi-label: "none of these" is every class
low). Training is identical for a seed: one thread, seeded initialization and batch order.
"""

from __future__ import annotations

import sys

import numpy as np

from listenloop.perception.detector import HeadWeights, probabilities
from listenloop.train.sound_features import IGNORE, Examples
from listenloop.train.sound_set import LEARNED_CLASSES

HIDDEN = 128  # units of the hidden layer: the head is ~130 k weights (0.5 MB)
EPOCHS = 20  # passes over the patches (a few seconds each)
BATCH = 256
LEARNING_RATE = 1e-3
WEIGHT_DECAY = 1e-4  # AdamW decay: the training set has few sources per rare class
DROPOUT = 0.3  # on the standardized embedding: no single feature carries a class
CV_FOLDS = 4  # folds over training groups for choosing thresholds
NEGATIVE_CLIP_RATE = 0.003  # threshold: at most this share of clips without the class reach it (out of fold):
# with 12 classes, at most ~4 % of non-target clips answered by any class (the issue allows 5 %)
THRESHOLD_RANGE = (0.3, 0.9995)  # a threshold stays within this range of probabilities (the top: well inside float32)
POS_WEIGHT_MAX = 20.0  # a rare class's positives weigh at most this much more (they are few, negatives many)


def fit(ex: Examples, seed: int, epochs: int = EPOCHS) -> HeadWeights:
    """Train the head on the labelled patches of `ex` (IGNORE patches left out)."""
    try:
        import torch
    except ImportError:
        raise RuntimeError("training the sound detector needs torch's CPU build: pip install torch==2.13.0 "
                           "--index-url https://download.pytorch.org/whl/cpu") from None
    torch.manual_seed(seed)
    torch.set_num_threads(1)  # identical sums for a seed, and the machine's other core stays free
    keep = ex.label != IGNORE
    x = ex.emb[keep].astype(np.float32)
    labels = ex.label[keep]
    n_classes = len(LEARNED_CLASSES)
    y = np.zeros((len(labels), n_classes), np.float32)
    hit = labels < n_classes
    y[np.flatnonzero(hit), labels[hit]] = 1.0
    mean = x.mean(axis=0)
    scale = 1.0 / (x.std(axis=0) + 1e-3)
    xs = torch.from_numpy((x - mean) * scale)
    yt = torch.from_numpy(y)
    positives = y.sum(axis=0)
    pos_weight = torch.from_numpy(np.clip((len(y) - positives) / np.maximum(positives, 1) / 10, 1.0, POS_WEIGHT_MAX))
    net = torch.nn.Sequential(torch.nn.Dropout(DROPOUT), torch.nn.Linear(x.shape[1], HIDDEN), torch.nn.ReLU(),
                              torch.nn.Linear(HIDDEN, n_classes))
    opt = torch.optim.AdamW(net.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight.float())
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        net.train()
        for idx in torch.randperm(len(xs), generator=gen).split(BATCH):
            opt.zero_grad()
            loss = loss_fn(net(xs[idx]), yt[idx])
            loss.backward()
            opt.step()
    lin1, lin2 = net[1], net[3]
    return HeadWeights(mean=mean, scale=scale.astype(np.float32), w1=lin1.weight.detach().numpy().T.copy(),
                       b1=lin1.bias.detach().numpy().copy(), w2=lin2.weight.detach().numpy().T.copy(),
                       b2=lin2.bias.detach().numpy().copy(), thresholds=np.full(n_classes, 0.5, np.float32))


def _folds(groups: list[str], seed: int) -> np.ndarray:
    names = sorted(set(groups))
    order = np.random.default_rng(seed).permutation(len(names))
    fold_of = {names[i]: k % CV_FOLDS for k, i in enumerate(order)}
    return np.array([fold_of[g] for g in groups])


def out_of_fold(ex: Examples, seed: int, epochs: int = EPOCHS) -> np.ndarray:
    """[n, classes] probabilities of every patch from a head that never saw its source group."""
    folds = _folds(ex.group, seed)
    probs = np.zeros((len(ex.label), len(LEARNED_CLASSES)), np.float32)
    for k in range(CV_FOLDS):
        inside = folds != k
        part = Examples(ex.emb[inside], ex.label[inside], ex.clip[inside], [])
        probs[~inside] = probabilities(fit(part, seed + 1 + k, epochs), ex.emb[~inside])
        print(f"  cross-validation fold {k + 1}/{CV_FOLDS}", file=sys.stderr, flush=True)
    return probs


def clip_maxima(ex: Examples, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per clip: the highest probability of each class over its patches, and the clip's class ("none", or IGNORE
    for a clip left out)."""
    clips, inverse = np.unique(ex.clip, return_inverse=True)
    top = np.zeros((len(clips), probs.shape[1]), np.float32)
    np.maximum.at(top, inverse, probs)
    label = np.full(len(clips), IGNORE)  # a clip left out of training (every patch IGNORE) counts for no class
    label[inverse[ex.label == len(LEARNED_CLASSES)]] = len(LEARNED_CLASSES)
    hit = (ex.label >= 0) & (ex.label < len(LEARNED_CLASSES))
    label[inverse[hit]] = ex.label[hit]
    return top, label


def choose_thresholds(top: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Per class: the lowest probability that at most NEGATIVE_CLIP_RATE of clips of other classes reach."""
    out = np.zeros(top.shape[1], np.float32)
    for c in range(top.shape[1]):
        others = top[(label != c) & (label != IGNORE), c]
        level = float(np.quantile(others, 1.0 - NEGATIVE_CLIP_RATE)) if len(others) else 0.5
        out[c] = np.clip(level + 1e-3, *THRESHOLD_RANGE)
    return out
