"""The sound policies on a training-side stream, scored out of fold (docs/benchmarks/sounds.md, session 28).

The training recordings stitched as `listenloop bench sounds --real` does, every 0.1 s patch scored once (AudioSet
scores and embeddings), the detector's scores of each clip from the cross-validation head that never saw its source
group, the tagger's closer look replayed; then the default policy and each policy file given are replayed on it.
Choices of rules and thresholds are made here, and checked on the held-out split with the bench.

    PYTHONPATH=src python scripts/sound_oof_stream.py CACHE_DIR [POLICY.toml ...] [--verbose]

CACHE_DIR keeps the stream (about 1 GB), the fold heads and the training embeddings between runs: the first run
takes about 15 minutes on two cores, later ones half a minute.
"""
import sys, pickle, argparse, numpy as np
from pathlib import Path
CACHE_DIR = Path(sys.argv[1])
VERBOSE = "--verbose" in sys.argv  # every miss, false response and late hit per policy (as `bench sounds --verbose`)
POLICIES = [a for a in sys.argv[2:] if a != "--verbose"]
CACHE_DIR.mkdir(parents=True, exist_ok=True)
from listenloop.audio.constants import SAMPLES_PER_CHUNK, SAMPLE_RATE
from listenloop.bench import sounds_real as sr
from listenloop.perception import yamnet_frontend as fe
from listenloop.perception.sounds import YamnetTagger
from listenloop.perception.detector import SoundDetector, probabilities, calibrate
from listenloop.train.sound_set import Split, read_manifest, select
from listenloop.train import sound_head
STREAM = CACHE_DIR / "train_stream.pkl"
HEADS = CACHE_DIR / "fold_heads.pkl"
root = Path("../shared/audio/train/sounds")
clips = select(read_manifest(root), Split.TRAIN, 0)
group_of = {str(c.path): c.group for c in clips}
if not STREAM.exists():
    files = [(c.folder, c.path) for c in clips]
    samples, placed = sr.stitch(files, 0)
    tg = YamnetTagger(detector=None, embeddings=True)
    lin = fe.mel_energy(np.concatenate([np.zeros(fe.PATCH_SAMPLES, np.float32), samples]))
    mel = fe.to_log(lin)
    n = (len(samples) // SAMPLES_PER_CHUNK) * 4
    S = np.zeros((n, 521), np.float16); E = np.zeros((n, 1024), np.float16)
    for k in range(0, n, 16):
        idx = range(k, min(n, k + 16))
        sc, em = tg.run_patches(np.stack([mel[(j + 1) * 10 : (j + 1) * 10 + 96] for j in idx]))
        S[k:k+len(idx)] = sc; E[k:k+len(idx)] = em
        if k % 8000 == 0: print(k, n, file=sys.stderr, flush=True)
    names = [f"{p.folder}/{p.name}" for p in placed]
    paths = [str(path) for _, path in [files[i] for i in np.random.default_rng(0).permutation(len(files))]]
    pickle.dump((placed, paths, S, E), open(STREAM, "wb"), protocol=4)
placed, paths, S, E = pickle.load(open(STREAM, "rb"))
if not HEADS.exists():
    from listenloop.train.sounds import build_examples
    args = argparse.Namespace(data=root, split="train", seed=0, limit=0, copies=3, synth=40, cache=CACHE_DIR / "embeddings")
    ex, _ = build_examples(args, YamnetTagger(features="raw", detector=None, embeddings=True))
    folds = sound_head._folds(ex.group, 0)
    fold_of = {g: int(f) for g, f in zip(ex.group, folds)}
    heads = []
    for k in range(sound_head.CV_FOLDS):
        inside = folds != k
        part = type(ex)(ex.emb[inside], ex.label[inside], ex.clip[inside], [])
        heads.append(sound_head.fit(part, 0 + 1 + k))
        print("fold", k, file=sys.stderr, flush=True)
    pickle.dump((heads, fold_of), open(HEADS, "wb"))
heads, fold_of = pickle.load(open(HEADS, "rb"))
det = SoundDetector()
thr = det.weights.thresholds
# detector scores per patch with the clip's fold head (gaps: fold of the clip before, else 0)
starts = np.array([p.start for p in placed])
n = len(S)
t_end = (np.arange(n) + 1) * 0.1
clip_of = np.searchsorted(starts, t_end, side="right") - 1
fold = np.array([fold_of.get(group_of[paths[c]], 0) if c >= 0 else 0 for c in clip_of])
D = np.zeros((n, len(det.classes)), np.float32)
for k in range(len(heads)):
    m = fold == k
    D[m] = calibrate(probabilities(heads[k], E[m].astype(np.float32)), thr)
print("stream ready", len(placed), "clips", n // 4, "chunks", file=sys.stderr)

from listenloop.audio.chunker import Chunk
from listenloop.perception.observation import Observation, SoundResult, DetectedSounds
from listenloop.perception.sounds import _Tracks
from listenloop.decision.sounds.sound_policy import SoundPolicy
tg = YamnetTagger(detector=None)

def observations():
    tracks = _Tracks(); out = []
    for k in range(n // 4):
        pa = S[4*k:4*k+4].astype(np.float32); de = D[4*k:4*k+4]
        ons = []
        for j in (1, 3):
            on, _ = tg._track(tracks, pa[j], (4*k + j + 1) * 0.1); ons += on
        regular = SoundResult(pa[[1, 3]].max(0), detected=DetectedSounds(de[[1, 3]].max(0), de[[1, 3]], det.classes))
        idx = [0, 1, 2, 3] if tg._heard(regular) else [1, 3]  # the tagger's own closer-look trigger
        out.append(Observation(Chunk(k, np.zeros(SAMPLES_PER_CHUNK, np.float32)), sounds=SoundResult(
            pa[idx].max(0), onsets=tuple(ons), patches=pa[[1, 3]], detected=DetectedSounds(de[idx].max(0), de[[1, 3]], det.classes))))
    return out

def replay(obs_list, policies):
    return {nm: sr.tally(placed, r) for nm, r in sr.decide_all(placed, obs_list, policies).items()}


def info():
    return {**sr.durations(placed, n * 0.1), "recordings": len(placed), "chunk_ms_mean": 0, "chunk_ms_p95": 0,
            "wall_s": 0}


def main() -> None:
    obs = observations()
    pols = {"default": SoundPolicy.load()}
    for f in POLICIES:
        pols[Path(f).stem] = SoundPolicy.load([Path(f)])
    tallies = replay(obs, pols)
    print(sr.report(tallies, info()))
    if VERBOSE:
        print(sr.details(tallies))


if __name__ == "__main__":
    main()
