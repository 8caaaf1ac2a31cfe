"""Choose the default head's regularisation for unseen artists: the artist-disjoint rotation side by side.

Usage::

    python tools/default_model_rotation.py /work/shared/data/gtzan_audio --cache-dir /work/cache/default-model

For each candidate (MSD penultimate embeddings, balanced logistic regression per patch, C and whether one
degraded copy of every training clip joins the training set) it prints: the macro recall and accuracy of
the pooled rotation (train on the ``train`` list and score ``valid``, and the reverse: every clip scored
once by a head that never heard its artist), the paired bootstrap gain over the first candidate, the
clip-grouped CV macro recall, and the CV macro recall under white noise 10 dB, pink noise 10 dB and MP3
16 kbps. The figures and the choice are in docs/benchmarks.md ("Regularisation for unseen artists").
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import default_model_cv as cv  # noqa: E402
import default_model_data as dm  # noqa: E402

#: (name, C, with the degraded copy); the first is the baseline of the gains.
CANDIDATES = (
    ("C=0.1, aug", 0.1, True),
    ("C=0.01, aug", 0.01, True),
    ("C=0.003, aug", 0.003, True),
    ("C=0.003, clean only", 0.003, False),
    ("C=0.001, clean only", 0.001, False),
)
DEGRADED = ("noise_white@10", "noise_pink@10", "mp3@16")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("audio", type=Path, help="folder with manifest.csv (path,label,split,note)")
    ap.add_argument("--cache-dir", type=Path, default=None, help="cache of per-patch outputs (npz)")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    clips = dm.read_manifest(args.audio)
    labels = np.array([c.label for c in clips])
    splits = np.array([c.split for c in clips])
    clean = dm.outputs(clips, "clean", cache_dir=args.cache_dir)
    aug = dm.outputs(clips, dm.aug_condition(0), cache_dir=args.cache_dir, nets=("msd",))
    degraded = {c: dm.all_outputs(clips, c, cache_dir=args.cache_dir, nets=("msd",)) for c in DEGRADED}
    folds = (splits == "train").astype(np.int64)
    base = None
    print("| head | rotation macro recall | gain [95%] | rotation acc. | CV macro recall | CV degraded |")
    print("|---|---:|---|---:|---:|---|")
    for name, c, with_copy in CANDIDATES:
        cand = cv.Candidate("msd-pen", "logreg", c, "patch")
        extra = [aug] if with_copy else []
        p, _ = cv.oof_predict(cand, clean, labels, folds, train_extra=extra)
        tracks = cv.track_probs(p, clean["clip"], len(labels), cand.mode)
        rot = cv.summarise([tracks], labels, n_boot=200)
        if base is None:
            base, gain = tracks, "-"
        else:
            g = cv.paired_gap([tracks], [base], labels)["macro_recall"]
            gain = f"{100 * g[0]:+.1f} [{100 * g[1]:+.1f}, {100 * g[2]:+.1f}]"
        res = cv.cross_validate(cand, clean, labels, train_extra=extra, test_data=degraded)
        deg = " / ".join(f"{res.metrics['degraded'][k]['macro_recall']:.3f}" for k in DEGRADED)
        print(
            f"| {name} | {rot['macro_recall']:.3f} | {gain} | {rot['accuracy']:.3f} | "
            f"{res.metrics['macro_recall']:.3f} | {deg} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
