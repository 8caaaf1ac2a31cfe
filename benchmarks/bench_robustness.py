"""Robustness, robust training and calibration on the synthetic corpus (issue 9).

    python benchmarks/bench_robustness.py --out /tmp/robust [--per-genre 30] [--families svm,cnn,musicnn]

For every model family (hand-crafted features + SVM, log-mel + CNN, musicnn-MSD embeddings + logistic
regression) two models are trained on the same tracks: one on clean audio, one "robust" on the clean
features plus ``--copies`` degraded copies of every training track (:class:`AugmentingExtractor`, all
degradations, levels drawn from each one's augmentation range). The split is grouped and stratified:
64 % of the tracks train, 16 % validate, 20 % test. A temperature is fitted on the (clean) validation
tracks and every model is evaluated with it.

Then :func:`evaluate_robustness` scores every model on the test tracks, clean and under every
degradation at every level (musicnn models on ``--musicnn-degradations`` only: the embedding costs
seconds per clip on CPU). Written to ``--out``: the corpus (when missing), the feature cache, bundles,
``calibration.csv`` and one robustness report per group of models; the Markdown tables for
docs/benchmarks.md are printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genrekit.bundle import Bundle, save_bundle
from genrekit.calibration import calibration_summary, plot_reliability
from genrekit.data.folders import load_dataset
from genrekit.features.augmenting import AugmentingExtractor, evaluate_robustness, write_robustness_report
from genrekit.features.registry import get_extractor
from genrekit.models.aggregate import aggregate
from genrekit.models.calibrated import (
    TemperatureScaled,
    apply_temperature,
    fit_track_temperature,
    labels_to_index,
)
from genrekit.predict import Classifier
from genrekit.training import extract_features, fit_model, make_split

FAMILIES: dict[str, dict[str, Any]] = {
    "svm": {"features": "handcrafted", "kind": "svm", "params": {}},
    "cnn": {"features": "logmel", "kind": "cnn", "params": {"verbose": False, "n_threads": 1}},
    "musicnn": {"features": "musicnn-msd", "kind": "logreg", "params": {}},
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def md_table(df: pd.DataFrame, digits: int = 3) -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        cells = [f"{v:.{digits}f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def track_level(proba: np.ndarray, fs: Any, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    tp, keys = aggregate(proba, fs.groups, method="mean_log")
    first = {g: y for g, y in zip(fs.groups[::-1], fs.y[::-1], strict=True)}
    return labels_to_index([first[k] for k in keys], classes), tp


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("/tmp/robust"))
    ap.add_argument("--per-genre", type=int, default=30)
    ap.add_argument("--duration-s", type=float, default=10.0)
    ap.add_argument("--families", default="svm,cnn,musicnn")
    ap.add_argument("--copies", type=int, default=2, help="degraded copies per training track")
    ap.add_argument("--musicnn-copies", type=int, default=1)
    ap.add_argument("--augment", default="all")
    ap.add_argument("--degradations", default="all")
    ap.add_argument("--musicnn-degradations", default="noise,codec")
    ap.add_argument("--musicnn-max-tracks", type=int, default=30)
    ap.add_argument("--variants", default="clean,robust", help="which of the two models to train")
    ap.add_argument("--robust-name", default="robust", help="suffix of the robust model's name")
    ap.add_argument("--tag", default="", help="suffix of the output file names (several runs, one --out)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    out: Path = args.out
    corpus = out / "corpus"
    if not (corpus / "manifest.csv").is_file():
        from genrekit.synth import write_corpus

        log(f"writing the corpus to {corpus}")
        write_corpus(corpus, per_genre=args.per_genre, duration_s=args.duration_s, seed=args.seed)
    dataset = load_dataset(corpus)
    split = make_split(dataset, test_size=0.2, val_size=0.16, seed=args.seed)
    log(f"{len(dataset)} tracks: train {len(split.train)}, val {len(split.val)}, test {len(split.test)}")
    train_ds = dataset.subset([i for i, t in enumerate(dataset.tracks) if t.track_id in set(split.train)])
    test_ds = dataset.subset([i for i, t in enumerate(dataset.tracks) if t.track_id in set(split.test)])
    cache = out / "cache"

    calib_rows: list[dict[str, Any]] = []
    groups: dict[str, list[Classifier]] = {}
    fit_times: dict[str, float] = {}
    for family in [f.strip() for f in args.families.split(",") if f.strip()]:
        spec = FAMILIES[family]
        base = get_extractor(spec["features"])
        t0 = time.perf_counter()
        log(f"{family}: clean {spec['features']} features of all tracks")
        fs = extract_features(dataset, base, workers=args.workers, cache_dir=cache)
        log(f"{family}: done in {time.perf_counter() - t0:.0f} s")
        val_fs, test_fs = fs.select_tracks(split.val), fs.select_tracks(split.test)
        copies = args.musicnn_copies if family == "musicnn" else args.copies
        for variant in [v.strip() for v in args.variants.split(",") if v.strip()]:
            name = family if variant == "clean" else f"{family}-{args.robust_name}"
            if variant == "clean":
                train_fs = fs.select_tracks(split.train)
            else:
                aug = AugmentingExtractor(base, args.augment, copies=copies, seed=args.seed)
                t0 = time.perf_counter()
                log(f"{name}: augmented features of the training tracks ({copies} copies)")
                train_fs = extract_features(train_ds, aug, workers=args.workers, cache_dir=cache)
                log(f"{name}: done in {time.perf_counter() - t0:.0f} s ({len(train_fs.X)} rows)")
            bundle_dir = out / "bundles" / name
            if (bundle_dir / "bundle.json").is_file():  # resume: reuse the model fitted by an earlier run
                from genrekit.bundle import load_bundle

                model = load_bundle(bundle_dir).model
                fit_times[name] = float("nan")
                log(f"{name}: reusing {bundle_dir}")
            else:
                log(f"{name}: fitting {spec['kind']} on {len(train_fs.X)} rows")
                fitted = fit_model(spec["kind"], train_fs, params=spec["params"], seed=args.seed)
                fit_times[name] = fitted.fit_time_s
                model = fitted.model
            classes = [str(c) for c in model.classes_]
            temperature = fit_track_temperature(
                model.predict_proba(val_fs.X), val_fs.y, val_fs.groups, classes, aggregation="mean_log"
            )
            y_val, p_val = track_level(np.asarray(model.predict_proba(val_fs.X)), val_fs, classes)
            y_test, p_test = track_level(np.asarray(model.predict_proba(test_fs.X)), test_fs, classes)
            raw, scaled = (
                calibration_summary(y_test, p_test),
                calibration_summary(y_test, apply_temperature(p_test, temperature)),
            )
            calib_rows.append(
                {
                    "model": name,
                    "fit_s": round(fit_times[name], 1),
                    "T": round(temperature, 3),
                    "val_nll_raw": calibration_summary(y_val, p_val)["nll"],
                    "val_nll_scaled": calibration_summary(y_val, apply_temperature(p_val, temperature))[
                        "nll"
                    ],
                    "test_acc": raw["accuracy"],
                    "test_ece_raw": raw["ece"],
                    "test_ece_scaled": scaled["ece"],
                    "test_nll_raw": raw["nll"],
                    "test_nll_scaled": scaled["nll"],
                }
            )
            log(f"{name}: T={temperature:.3f} {calib_rows[-1]}")
            plot_reliability(
                {
                    "raw": (y_test, p_test),
                    f"T={temperature:.2f}": (y_test, apply_temperature(p_test, temperature)),
                },
                out / "reliability" / f"{name}.png",
                title=f"{name}: test tracks",
            )
            save_bundle(
                Bundle(
                    model=model,
                    kind=spec["kind"],
                    labels=classes,
                    extractor=base.to_dict(),
                    feature_names=list(base.names),
                    extra={"temperature": temperature, "augment": variant == "robust" and copies},
                ),
                bundle_dir,
            )
            clf = Classifier(base, TemperatureScaled(model, temperature), aggregation="mean_log", name=name)
            groups.setdefault("musicnn" if family == "musicnn" else "main", []).append(clf)

    calib = pd.DataFrame(calib_rows)
    calib.to_csv(out / f"calibration_{'_'.join(sorted(groups))}{args.tag}.csv", index=False)
    results = {}
    for group, clfs in groups.items():
        degs = args.musicnn_degradations if group == "musicnn" else args.degradations
        max_tracks = args.musicnn_max_tracks if group == "musicnn" else None
        log(f"robustness of {[c.name for c in clfs]} on {degs} ({max_tracks or len(test_ds)} tracks)")
        t0 = time.perf_counter()

        def progress(done: int, total: int, t0: float = t0) -> None:
            if done % 10 == 0 or done == total:
                log(f"  {done}/{total} tracks, {time.perf_counter() - t0:.0f} s")

        res = evaluate_robustness(
            clfs,
            test_ds,
            degradations=degs,
            max_tracks=max_tracks,
            seed=args.seed,
            workers=args.workers,
            progress=progress,
        )
        write_robustness_report(
            out / f"report_{group}{args.tag}", res, title=f"robustness on the synthetic corpus ({group})"
        )
        results[group] = res
        log(f"robustness {group}: {res.info['wall_time_s']} s")

    print("\n## calibration (test tracks, temperature fitted on validation tracks)\n")
    print(md_table(calib))
    for group, res in results.items():
        print(f"\n## {group}: summary\n")
        print(md_table(res.summary()))
        print(f"\n## {group}: track accuracy per condition\n")
        print(md_table(res.pivot("accuracy").reset_index()))
        print(f"\n## {group}: ECE per condition\n")
        print(md_table(res.pivot("ece").reset_index()))
        print(f"\ninfo: {json.dumps(res.info)}")
    print(f"\nfit times (s): {json.dumps({k: round(v, 1) for k, v in fit_times.items()})}")


if __name__ == "__main__":
    main()
