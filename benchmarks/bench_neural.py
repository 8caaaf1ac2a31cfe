"""Neural models next to the classical ones on the synthetic corpus: accuracy, time per epoch, peak memory.

    python benchmarks/bench_neural.py [--out /tmp/gk_bench] [--per-genre 8] [--duration-s 10]
                                      [--seeds 0 1 2] [--only cnn cnn+aug] [--threads 2]

1. synthesize the corpus (``genrekit.synth.write_corpus``, GTZAN layout; the demo defaults are 8 clips
   of 10 s per genre) unless it exists;
2. extract every feature set once (handcrafted, mfcc, logmel, musicnn-mel) and cache it as .npz;
3. for each split seed, fit every model on the same grouped stratified split (20 % of the tracks held out,
   or with ``--folds K`` on each of K grouped stratified folds, pooling the out-of-fold predictions so that
   every track is tested once; the neural models carve their validation tracks from the training side)
   in a fresh subprocess, which reports its peak RSS, fit time, per-epoch times and test probabilities;
4. aggregate segments to tracks (mean of log-probabilities) and write one comparison report
   (``OUT/report``) with the training curves, plus ``OUT/results.json``.

The wall time of steps 2-4 for one seed is the "full compare of all families" figure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

#: name -> (model kind, feature extractor, parameters)
SPECS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "knn": ("knn", "handcrafted", {}),
    "logreg": ("logreg", "handcrafted", {}),
    "rf": ("rf", "handcrafted", {}),
    "svm": ("svm", "handcrafted", {}),
    "xgboost": ("xgboost", "handcrafted", {}),
    "mlp": ("mlp", "handcrafted", {}),
    "dnn": ("dnn", "mfcc", {"input_scale": "mfcc"}),
    "cnn": ("cnn", "logmel", {}),
    # the three augmentations that each helped in the one-at-a-time ablation (5 folds, see docs/benchmarks.md)
    "cnn+aug": ("cnn", "logmel", {"augment": "reverse,gain,noise"}),
    "musicnn-finetune": ("musicnn-finetune", "musicnn-mel", {}),
}
#: Ablations (run with ``--only``): one augmentation at a time, all six (also with twice the epochs), and
#: four without the time-reversal and gain.
ABLATIONS: dict[str, tuple[str, str, dict[str, Any]]] = {
    f"cnn+{a}": ("cnn", "logmel", {"augment": a})
    for a in ("crop", "reverse", "gain", "noise", "specaugment", "mixup")
}
ABLATIONS["cnn+aug6"] = ("cnn", "logmel", {"augment": "crop,reverse,gain,noise,specaugment,mixup"})
ABLATIONS["cnn+aug-lite"] = ("cnn", "logmel", {"augment": "crop,noise,specaugment,mixup"})
ABLATIONS["cnn+aug-80ep"] = (
    "cnn",
    "logmel",
    {"augment": "crop,reverse,gain,noise,specaugment,mixup", "epochs": 80, "patience": 10},
)
DEFAULT_SPECS = list(SPECS)
SPECS.update(ABLATIONS)
FEATURES = ("handcrafted", "mfcc", "logmel", "musicnn-mel")


def _extract_one(name: str, path: str) -> np.ndarray:
    from genrekit.audio import load
    from genrekit.features.registry import get_extractor

    ex = get_extractor(name)
    y, sr = load(path, sr=ex.sr)
    return ex(y, sr)


def extract(corpus: Path, cache: Path, workers: int) -> dict[str, float]:
    """Features of every track for every extractor, cached in ``cache/<name>.npz``; seconds per set."""
    from joblib import Parallel, delayed

    from genrekit.data.folders import load_dataset

    ds = load_dataset(corpus)
    cache.mkdir(parents=True, exist_ok=True)
    times = {}
    for name in FEATURES:
        f = cache / f"{name}.npz"
        if f.exists():
            continue
        t0 = time.perf_counter()
        feats = Parallel(n_jobs=workers)(delayed(_extract_one)(name, str(p)) for p in ds.paths)
        times[name] = time.perf_counter() - t0
        X = np.concatenate(feats).astype(np.float32)
        n = [len(a) for a in feats]
        np.savez(
            f,
            X=X,
            y=np.repeat([t.label for t in ds.tracks], n),
            groups=np.repeat([t.track_id for t in ds.tracks], n),
        )
        print(f"  features {name}: {X.shape} in {times[name]:.1f} s", flush=True)
    return times


def run_one(spec: str, cache: Path, folds: list[list[str]], seed: int, out: Path, threads: int) -> None:
    """Child process: fit one model per fold, predict its test rows, write ``out`` (.npz + .json)."""
    from genrekit.features.registry import get_extractor
    from genrekit.models.registry import build_model

    kind, feat, params = SPECS[spec]
    d = np.load(cache / f"{feat}.npz")
    X, y, groups = d["X"], d["y"].astype(str), d["groups"].astype(str)
    params = dict(params)
    neural = kind in ("dnn", "cnn", "musicnn-finetune")
    if neural:
        params.update(frame_shape=get_extractor(feat).frame_shape, n_threads=threads, verbose=False)
    probas, ys, gs, fit_s, fit_cpu_s, pred_s, epochs = [], [], [], 0.0, 0.0, 0.0, []
    info: dict[str, Any] = {"spec": spec, "kind": kind, "features": feat, "params": params, "folds": []}
    for test_ids in folds:
        test = np.isin(groups, test_ids)
        model = build_model(kind, random_state=seed, **params)
        t0, c0 = time.perf_counter(), time.process_time()
        if neural:
            model.fit(X[~test], y[~test], groups=groups[~test])
        else:
            model.fit(X[~test], y[~test])
        fit_s += time.perf_counter() - t0
        fit_cpu_s += time.process_time() - c0
        t0 = time.perf_counter()
        probas.append(np.asarray(model.predict_proba(X[test])))
        pred_s += time.perf_counter() - t0
        ys.append(y[test])
        gs.append(groups[test])
        fold: dict[str, Any] = {"n_train_rows": int((~test).sum()), "n_test_tracks": len(test_ids)}
        if neural:
            epochs += list(model.epoch_times_s_)
            fold.update(
                history=model.history_,
                best_epoch=model.best_epoch_,
                epochs_run=len(model.history_["loss"]),
                n_params=model.n_params_,
            )
            if hasattr(model, "embed_time_s_"):
                fold["embed_s"] = model.embed_time_s_
        info["folds"].append(fold)
    n_epochs = max(1, len(epochs))
    info.update(
        fit_s=fit_s / len(folds),
        fit_cpu_s=fit_cpu_s / len(folds),
        predict_s=pred_s,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        classes=[str(c) for c in model.classes_],
    )
    if neural:
        info.update(
            s_per_epoch=float(np.median(epochs)),
            cpu_s_per_epoch=fit_cpu_s / n_epochs,
            epochs_run=float(np.mean([f["epochs_run"] for f in info["folds"]])),
            best_epoch=float(np.mean([f["best_epoch"] for f in info["folds"]])),
            n_params=info["folds"][0]["n_params"],
            history=info["folds"][0]["history"],
        )
    np.savez(
        out.with_suffix(".npz"), proba=np.concatenate(probas), y=np.concatenate(ys), groups=np.concatenate(gs)
    )
    out.with_suffix(".json").write_text(json.dumps(info, default=float))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("/tmp/gk_bench"))
    ap.add_argument("--per-genre", type=int, default=8)
    ap.add_argument("--duration-s", type=float, default=10.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--folds", type=int, default=0, help="K-fold grouped CV instead of one 80/20 split")
    ap.add_argument("--only", nargs="+", choices=list(SPECS), default=DEFAULT_SPECS)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--tag", default="", help="suffix of the report and results names")
    ap.add_argument("--one", nargs=4, metavar=("SPEC", "CACHE", "SEED", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        spec, cache, seed, out = args.one
        split = json.loads(Path(out).with_suffix(".split.json").read_text())
        folds = split["folds"] if "folds" in split else [split["test"]]
        run_one(spec, Path(cache), folds, int(seed), Path(out), args.threads)
        return

    from genrekit.data.folders import load_dataset
    from genrekit.data.splits import grouped_kfold, train_val_test_split
    from genrekit.metrics import ModelRun, comparison_table, evaluate_predictions
    from genrekit.report import write_report
    from genrekit.synth import write_corpus

    tag = f"g{args.per_genre}_d{args.duration_s:g}"
    run_tag = tag + (f"_k{args.folds}" if args.folds else "") + (f"_{args.tag}" if args.tag else "")
    corpus = args.out / f"corpus_{tag}"
    if not (corpus / "manifest.csv").exists():
        t0 = time.perf_counter()
        write_corpus(corpus, per_genre=args.per_genre, duration_s=args.duration_s, seed=0, workers=2)
        print(f"corpus: {corpus} in {time.perf_counter() - t0:.1f} s", flush=True)
    ds = load_dataset(corpus)
    t_start = time.perf_counter()
    ext_times = extract(corpus, args.out / f"cache_{tag}", workers=2)
    t_extract = time.perf_counter() - t_start
    results: dict[str, Any] = {
        "corpus": {"per_genre": args.per_genre, "duration_s": args.duration_s, "tracks": len(ds)},
        "threads": args.threads,
        "extract_s": ext_times,
        "load_average_start": os.getloadavg(),
        "seeds": {},
    }
    runs_dir = args.out / f"runs_{tag}"
    runs_dir.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        t_seed = time.perf_counter()
        if args.folds:
            folds = [
                [ds.tracks[i].track_id for i in te] for _, te in grouped_kfold(ds, k=args.folds, seed=seed)
            ]
        else:
            _, _, test = train_val_test_split(ds, test_size=0.2, val_size=0.0, seed=seed)
            folds = [[t.track_id for t in test.tracks]]
        test_ids = [t for f in folds for t in f]
        runs, history, per_model = [], {}, {}
        for spec in args.only:
            out = runs_dir / f"{spec.replace('+', '_')}_s{seed}_k{args.folds}"
            out.with_suffix(".split.json").write_text(json.dumps({"folds": folds}))
            cmd = [
                sys.executable,
                __file__,
                "--threads",
                str(args.threads),
                "--one",
                spec,
                str(args.out / f"cache_{tag}"),
                str(seed),
                str(out),
            ]
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True)
            wall = time.perf_counter() - t0
            info = json.loads(out.with_suffix(".json").read_text())
            d = np.load(out.with_suffix(".npz"))
            res = evaluate_predictions(
                d["y"].astype(str), d["proba"], d["groups"].astype(str), info["classes"]
            )
            runs.append(
                ModelRun(
                    spec,
                    res,
                    fit_time_s=info["fit_s"],
                    predict_time_s=info["predict_s"],
                    n_params=info.get("n_params"),
                )
            )
            if "history" in info:
                history[spec] = info["history"]
            info.update(
                track_accuracy=res.track.accuracy, segment_accuracy=res.segment.accuracy, process_wall_s=wall
            )
            info.pop("history", None)
            per_model[spec] = info
            extra = ""
            if "s_per_epoch" in info:
                extra = (
                    f" epochs {info['epochs_run']} (best {info['best_epoch']}), "
                    f"{info['s_per_epoch']:.2f} s/epoch (cpu {info['cpu_s_per_epoch']:.2f})"
                )
            print(
                f"  seed {seed} {spec:17s} track {res.track.accuracy:.3f}  seg {res.segment.accuracy:.3f}"
                f"  fit {info['fit_s']:.1f} s (cpu {info['fit_cpu_s']:.1f} s)  "
                f"peak RSS {info['peak_rss_mb']:.0f} MB{extra}",
                flush=True,
            )
        seed_wall = time.perf_counter() - t_seed
        results["seeds"][str(seed)] = {
            "models": per_model,
            "models_wall_s": seed_wall,
            "test_tracks": len(test_ids),
        }
        report = write_report(
            args.out / f"report_{run_tag}_s{seed}",
            runs,
            title=f"genrekit: neural and classical models, synthetic corpus {run_tag}, seed {seed}",
            dataset_info={
                "tracks": len(ds),
                "test tracks": len(test_ids),
                "genres": ds.counts(),
                "features": {k: v[1] for k, v in SPECS.items() if k in args.only},
            },
            history=history,
        )
        print(comparison_table(runs).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        print(
            f"report: {report}; seed {seed}: models {seed_wall:.0f} s, with feature extraction "
            f"{seed_wall + t_extract:.0f} s",
            flush=True,
        )
    results["total_wall_s"] = time.perf_counter() - t_start
    results["load_average_end"] = os.getloadavg()
    (args.out / f"results_{run_tag}.json").write_text(json.dumps(results, indent=2, default=float))
    if len(args.seeds) > 1:
        print("mean track accuracy over seeds:")
        for spec in args.only:
            accs = [results["seeds"][str(s)]["models"][spec]["track_accuracy"] for s in args.seeds]
            print(f"  {spec:17s} {np.mean(accs):.3f} +- {np.std(accs):.3f}  {[round(a, 3) for a in accs]}")


if __name__ == "__main__":
    main()
