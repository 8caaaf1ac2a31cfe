"""Rank pipelines on real music: artist-disjoint folds rotated from the published split lists.

    python benchmarks/bench_real.py ../shared/data/gtzan_audio [--splits ../shared/data/gtzan_splits]
        [--cache ~/.cache/genrekit-bench-real] [--workers 2] [--models logreg,svm,xgboost,knn,rf]
        [--features handcrafted,handcrafted-kaggle,mfcc,logmel] [--musicnn] [--neural] [--genres four,all]

Folds: every published list (``train``, ``valid``, ``test``: the artist-filtered GTZAN split, no artist
on two lists) that names clips present in the data becomes a test side in turn, and the clips of the
other lists train (with the shared clips: train -> valid and valid -> train; with a copy holding the
test list too, three folds). Track predictions are pooled over the folds; accuracy and macro-F1 are
computed on the pool, with a 95 % Wilson interval on the accuracy, the per-fold accuracies beside it.

Genre sets: ``four`` = the genres complete in the data (blues, classical, jazz, pop on the shared
clips), ``all`` = every genre, the small ones (fewer than 20 clips) marked with ``*`` in the per-genre
recall line.

Reference (``reference``): written here in plain librosa + scikit-learn, independent of genrekit:
``librosa.load(path, sr=22050)``, 20 MFCCs, their means and standard deviations over the clip (40
values), ``StandardScaler`` + ``SVC(rbf)`` with scikit-learn's defaults.

Feature sets: ``handcrafted`` (genrekit's default: Kaggle columns + extended ones, one mean/std row
per track), ``handcrafted-kaggle`` (the Kaggle table's 57 columns per 3 s segment, the earlier
default), ``mfcc`` / ``logmel`` (per-segment band means and standard deviations), with ``--musicnn``
the ``musicnn-msd`` embeddings (slow the first time: ~2 s per clip), with ``--neural`` the ``cnn``
on log-mel segments. Every feature set is cached (``--cache``, outside the repository): a re-run
extracts nothing. Fit and predict times are per fold (mean), predict per track.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from genrekit.data.folders import load_dataset
from genrekit.data.splits import split_from_files
from genrekit.data.tracks import Dataset
from genrekit.errors import GenreKitError
from genrekit.metrics import wilson_interval
from genrekit.training import FeatureSet, extract_features, fit_model, score_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cpu_description  # noqa: E402

SMALL_GENRE = 20
FEATURE_SETS: dict[str, tuple[str, dict[str, Any]]] = {
    "handcrafted": ("handcrafted", {}),
    "handcrafted-kaggle": ("handcrafted", {"extended": False, "summary": None}),
    "mfcc": ("mfcc", {"summary": True}),
    "logmel": ("logmel", {"summary": True}),
    "musicnn-msd": ("musicnn-msd", {}),
    "logmel-frames": ("logmel", {}),
}


# ---- the independent reference ------------------------------------------------------------------
def reference_features(paths: list[Path], cache: Path) -> np.ndarray:
    """20 MFCC means and standard deviations per clip (plain librosa at 22050 Hz), cached by content."""
    import librosa

    rows = []
    for p in paths:
        digest = hashlib.sha256(p.read_bytes()).hexdigest()[:24]
        f = cache / "reference" / f"{digest}.npy"
        if f.is_file():
            rows.append(np.load(f))
            continue
        y, sr = librosa.load(p, sr=22050)
        m = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20)
        row = np.concatenate([m.mean(axis=1), m.std(axis=1)])
        f.parent.mkdir(parents=True, exist_ok=True)
        np.save(f, row)
        rows.append(row)
    return np.stack(rows)


def run_reference(X: np.ndarray, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    true, pred, per_fold, fit_s, pred_s = [], [], [], [], []
    for tr, te in folds:
        t0 = time.perf_counter()
        model = make_pipeline(StandardScaler(), SVC()).fit(X[tr], y[tr])
        fit_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        p = model.predict(X[te])
        pred_s.append((time.perf_counter() - t0) / max(len(te), 1))
        true.append(y[te])
        pred.append(p)
        per_fold.append(float(np.mean(p == y[te])))
    return summarise(np.concatenate(true), np.concatenate(pred), per_fold, fit_s, pred_s)


# ---- genrekit pipelines -------------------------------------------------------------------------
def summarise(
    true: np.ndarray, pred: np.ndarray, per_fold: list[float], fit_s: list[float], pred_s: list[float]
) -> dict[str, Any]:
    from sklearn.metrics import f1_score

    n = len(true)
    acc = float(np.mean(true == pred))
    lo, hi = wilson_interval(acc * n, n)
    recall = {g: float(np.mean(pred[true == g] == g)) for g in np.unique(true)}
    return {
        "acc": acc, "lo": lo, "hi": hi, "n": n, "f1": float(f1_score(true, pred, average="macro")),
        "folds": per_fold, "fit_s": float(np.mean(fit_s)), "pred_ms": 1000 * float(np.mean(pred_s)),
        "recall": recall,
    }


def run_genrekit(fs: FeatureSet, kind: str, folds: list[tuple[list[str], list[str]]]) -> dict[str, Any]:
    true, pred, per_fold, fit_s, pred_s, keys = [], [], [], [], [], []
    for train_ids, test_ids in folds:
        tr, te = fs.select_tracks(train_ids), fs.select_tracks(test_ids)
        fitted = fit_model(kind, tr, seed=0)
        run = score_model(kind, fitted.model, te, fit_time_s=fitted.fit_time_s)
        res = run.result
        fit_s.append(fitted.fit_time_s)
        pred_s.append(run.predict_time_s / max(res.n_tracks, 1))
        true.append(res.track_true)
        pred.append(res.track_pred)
        keys.append(res.track_keys)
        per_fold.append(float(res.track.accuracy))
    out = summarise(np.concatenate(true), np.concatenate(pred), per_fold, fit_s, pred_s)
    t, p, k = np.concatenate(true), np.concatenate(pred), np.concatenate(keys)
    out["correct"] = {str(key): bool(a == b) for key, a, b in zip(k, t, p, strict=True)}
    return out


def track_summary(fs: FeatureSet) -> FeatureSet:
    """One row per track: mean then standard deviation of its segment rows (``summary="mean_std"``)."""
    from genrekit.features.handcrafted import HandcraftedExtractor

    ids = fs.track_ids
    rows = [fs.X[fs.groups == t].astype(np.float64) for t in ids]
    X = np.stack([np.concatenate([r.mean(axis=0), r.std(axis=0)]) for r in rows]).astype(np.float32)
    first = {t: i for i, t in reversed(list(enumerate(fs.groups)))}
    pick = np.array([first[t] for t in ids])
    return FeatureSet(X, fs.y[pick], fs.groups[pick], fs.artists[pick], HandcraftedExtractor().names)


def kaggle_columns(fs: FeatureSet) -> FeatureSet:
    """The Kaggle table's 57 columns of extended per-segment rows."""
    from genrekit.features.handcrafted import handcrafted_names

    names = handcrafted_names()
    return FeatureSet(fs.X[:, : len(names)], fs.y, fs.groups, fs.artists, names)


def list_folds(dataset: Dataset, splits: Path) -> list[tuple[str, list[str]]]:
    """``(list name, track ids)`` of every published list naming clips of ``dataset`` (missing ignored)."""
    out = []
    for name in ("train", "valid", "test"):
        hits = sorted(splits.glob(f"{name}*.txt"))
        if not hits:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            side = split_from_files(dataset, train=[], test=hits[0], missing="ignore").test
        if len(side):
            out.append((name, [t.track_id for t in side.tracks]))
    return out


def fmt(r: dict[str, Any] | str, ref: dict[str, Any] | None = None) -> str:
    if isinstance(r, str):
        return r
    folds = "/".join(f"{a:.3f}" for a in r["folds"])
    delta = f" {100 * (r['acc'] - ref['acc']):+5.1f}" if ref is not None else "      "
    return (
        f"{r['acc']:.3f} [{r['lo']:.3f}-{r['hi']:.3f}]{delta}  F1 {r['f1']:.3f}  folds {folds}  "
        f"fit {r['fit_s']:6.2f} s  predict {r['pred_ms']:6.2f} ms/track"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", type=Path, help="folder holding manifest.csv and the clips")
    ap.add_argument("--splits", type=Path, default=None, help="folder of the published lists")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "genrekit-bench-real")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--models", default="logreg,svm,xgboost,knn,rf")
    ap.add_argument("--features", default="handcrafted,handcrafted-kaggle,mfcc,logmel")
    ap.add_argument("--musicnn", action="store_true", help="add musicnn-msd embeddings (slow first run)")
    ap.add_argument("--neural", action="store_true", help="add the cnn on log-mel segments")
    ap.add_argument("--genres", default="four,all", help="four (complete genres) and/or all")
    args = ap.parse_args()
    splits = args.splits or args.data.parent / "gtzan_splits"
    t_start = time.perf_counter()
    print(f"CPU: {cpu_description()}")
    print(f"data {args.data}, lists {splits}, cache {args.cache}")

    with open(args.data / "manifest.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    resampled = {r["path"] for r in rows if "16000" in (r.get("note") or "")}
    dataset = load_dataset(args.data / "manifest.csv")
    counts = dataset.counts()
    folds_all = list_folds(dataset, splits)
    print(f"{len(dataset)} clips; lists present: " + ", ".join(f"{n} ({len(ids)})" for n, ids in folds_all))
    complete = sorted(g for g, c in counts.items() if c >= SMALL_GENRE)
    small = sorted(g for g, c in counts.items() if c < SMALL_GENRE)
    print(f"complete genres: {complete}; small (*): {small}; clips resampled from 16 kHz: {len(resampled)}")

    feature_names = [f for f in args.features.split(",") if f]
    if args.musicnn:
        feature_names.append("musicnn-msd")
    models = [m for m in args.models.split(",") if m]
    from genrekit.features.registry import get_extractor

    feats: dict[str, FeatureSet] = {}
    segments = None
    cache = args.cache / "features"
    for name in feature_names:
        t0 = time.perf_counter()
        if name in ("handcrafted", "handcrafted-kaggle"):
            # both from one extraction of the extended columns per segment: the default's track row is
            # their mean and std (tests/test_features_handcrafted.py checks that equality), the Kaggle
            # set their first 57 columns
            if segments is None:
                ext = get_extractor("handcrafted", summary=None)
                segments = extract_features(dataset, ext, workers=args.workers, cache_dir=cache)
            feats[name] = track_summary(segments) if name == "handcrafted" else kaggle_columns(segments)
        else:
            extractor_name, options = FEATURE_SETS[name]
            ext = get_extractor(extractor_name, **options)
            feats[name] = extract_features(dataset, ext, workers=args.workers, cache_dir=cache)
        print(f"features {name}: {feats[name].X.shape[1]} columns, {len(feats[name].X)} rows, "
              f"{time.perf_counter() - t0:.1f} s (cached after the first run)")
    if args.neural:
        ext = get_extractor("logmel")
        feats["logmel-frames"] = extract_features(
            dataset, ext, workers=args.workers, cache_dir=args.cache / "features"
        )
    X_ref = reference_features([Path(p) for p in dataset.paths], args.cache)
    track_ids = np.asarray([t.track_id for t in dataset.tracks])
    labels = np.asarray(dataset.y, dtype=str)

    for genre_set in [g for g in args.genres.split(",") if g]:
        keep = set(complete) if genre_set == "four" else set(counts)
        wanted = {tid for tid, lab in zip(track_ids, labels, strict=True) if lab in keep}
        id_folds = []
        for _name, test_ids in folds_all:
            test = [t for t in test_ids if t in wanted]
            train = [t for t in wanted if t not in set(test)]
            id_folds.append((sorted(train), test))
        idx = {t: i for i, t in enumerate(track_ids)}
        ix_folds = [(np.array([idx[t] for t in tr]), np.array([idx[t] for t in te])) for tr, te in id_folds]
        print(f"\n== {genre_set}: {sorted(keep)}; folds (test list): "
              + ", ".join(f"{n} {len(te)}" for (n, _), (_, te) in zip(folds_all, id_folds, strict=True)))
        ref = run_reference(X_ref, labels, ix_folds)
        print(f"{'reference (librosa MFCC + SVC)':38s} {fmt(ref)}")
        results: dict[tuple[str, str], Any] = {}
        for fname in feats:
            kinds = ["cnn"] if fname == "logmel-frames" else models
            for kind in kinds:
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        r: dict[str, Any] | str = run_genrekit(feats[fname], kind, id_folds)
                except GenreKitError as exc:
                    r = f"n/a: {exc}"
                results[(fname, kind)] = r
                print(f"{fname + ' + ' + kind:38s} {fmt(r, ref)}", flush=True)
        if genre_set == "all":
            best = results.get(("handcrafted", "logreg"))
            if isinstance(best, dict) and resampled:
                correct = best["correct"]
                res_ids = {t.track_id for t in dataset.tracks if t.relpath in resampled}
                small_ids = {t for t, lab in zip(track_ids, labels, strict=True) if lab in small}
                a = [correct[t] for t in res_ids if t in correct]
                b = [correct[t] for t in small_ids - res_ids if t in correct]
                print(f"handcrafted + logreg on the {len(a)} clips resampled from 16 kHz: recall "
                      f"{np.mean(a):.2f}; on the {len(b)} other small-genre clips: {np.mean(b):.2f}")
            if isinstance(best, dict):
                marks = ", ".join(
                    f"{g}{'*' if g in small else ''} {v:.2f}" for g, v in sorted(best["recall"].items())
                )
                print(f"per-genre recall, handcrafted + logreg (* fewer than {SMALL_GENRE} clips): {marks}")
    print(f"\ntotal {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
