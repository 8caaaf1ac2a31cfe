"""Tabular mode on real feature tables: every model's accuracy, macro-F1, log loss, fit and predict time.

Data (see /work/shared/data/README.md):

* ``spotify/spotify_songs.csv`` -- 32,833 rows, 6 playlist genres; cleaned by ``genrekit.tabular.load_table``
  (deduplicated by track id, conflicting labels resolved by majority, ties dropped). Features: the 12
  Spotify audio features (``features="spotify"``); the 12 plus the album's release year
  (``track_album_release_date`` read as its year); and the automatic choice (numeric and date columns
  minus ids: the 12, ``track_popularity`` and the release year). Protocol: stratified 80/20 holdout
  grouped by track id, and the stricter one grouped by artist.
* ``gtzan_features/features_30_sec.csv`` -- the Kaggle GTZAN table, evaluated on the artist-filtered split
  (``gtzan_splits/``: train+valid train, test tests; 70 clips in no list are left out).

"baseline" = each model with its defaults; "tuned" = grid search (macro-F1) with stratified grouped CV on
the training side only (Spotify: 3 folds grouped like the split; GTZAN: the artist-disjoint train and
valid lists as the two folds), refitted on the whole training side, scored once on the test side.

The default run takes ~10 min of CPU (single-threaded); ``--quick`` (a few minutes) runs fewer models and
no Spotify search; ``--full`` adds the SVM on Spotify and a search per Spotify protocol (an hour or more).

Usage::

    python benchmarks/bench_tabular.py [--data ../shared/data] [--quick | --full] [--only spotify|gtzan]
                                       [--json results.json] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from genrekit.tabular import TabularData, compare_table, load_table

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = (HERE / ".." / ".." / "shared" / "data").resolve()

# grids searched for "tuned" (keys of the final estimator, plus "transform": the scaling step)
SPOTIFY_GRIDS: dict[str, dict[str, list[Any]]] = {
    "xgboost": {
        "max_depth": [6, 10],
        "learning_rate": [0.03],
        "n_estimators": [500],
        "min_child_weight": [5],
        "colsample_bytree": [0.6],
    },
    "logreg": {"transform": ["standard", "power"], "C": [0.1, 1.0]},
    "mlp": {"transform": ["power"], "hidden_layer_sizes": [(128, 64)], "alpha": [1e-3, 1e-1]},
}
GTZAN_GRIDS: dict[str, dict[str, list[Any]]] = {
    "logreg": {"transform": ["standard", "power"], "C": [0.03, 0.1, 0.3, 1.0]},
    "svm": {"C": [1.0, 10.0, 30.0], "gamma": ["scale", 0.01]},
    "xgboost": {"max_depth": [3, 6], "learning_rate": [0.05, 0.1], "colsample_bytree": [0.5]},
    "mlp": {"transform": ["power"], "hidden_layer_sizes": [(64,)], "alpha": [0.1, 1.0, 3.0]},
}
#: --quick runs no Spotify search: these are the parameters the default run's search chose.
QUICK_SPOTIFY_PARAMS = {
    "max_depth": 10,
    "learning_rate": 0.03,
    "n_estimators": 500,
    "min_child_weight": 5,
    "colsample_bytree": 0.6,
}
QUICK_GTZAN_GRIDS = {"logreg": GTZAN_GRIDS["logreg"]}


def _run(
    td: TabularData,
    kind: str,
    *,
    dataset: str,
    protocol: str,
    grid: dict[str, list[Any]] | None,
    workers: int,
    params: dict[str, dict[str, Any]] | None = None,
    **split: Any,
) -> dict[str, Any]:
    cpu0, t0 = time.process_time(), time.perf_counter()
    res = compare_table(
        td,
        models=[kind],
        params=params or {},
        search=grid is not None,
        grids={kind: grid} if grid is not None else {},
        workers=workers,
        **split,
    )
    run = res.runs[0]
    t = run.result.track
    search = run.extra.get("search") or {}
    row = {
        "dataset": dataset,
        "protocol": protocol,
        "model": kind,
        "setting": "tuned" if grid is not None else ("tuned (fixed)" if params else "baseline"),
        "params": search.get("best_params", run.extra.get("params", {})),
        "cv_macro_f1": search.get("best_score_f1_macro"),
        "accuracy": t.accuracy,
        "macro_f1": t.macro_f1,
        "log_loss": t.log_loss,
        "fit_s": run.fit_time_s,
        "predict_ms_per_row": 1000 * run.predict_time_per_track_s,
        "n_test": run.result.n_tracks,
        "wall_s": time.perf_counter() - t0,
        "cpu_s": time.process_time() - cpu0,
        "split": res.split,
    }
    print(
        f"{dataset:22s} {protocol:18s} {kind:8s} {row['setting']:8s} acc {t.accuracy:.3f}  "
        f"F1 {t.macro_f1:.3f}  logloss {t.log_loss:.3f}  fit {run.fit_time_s:7.1f} s  "
        f"cpu {row['cpu_s']:7.1f} s  {row['params']}",
        flush=True,
    )
    return row


def spotify(data: Path, *, quick: bool, full: bool, workers: int) -> list[dict[str, Any]]:
    path = data / "spotify" / "spotify_songs.csv"
    td, report = load_table(path, label="playlist_genre", features="spotify")
    print(report.to_text(limit=2), flush=True)
    name = "spotify (12 audio)"
    baselines = ("logreg", "xgboost") if quick else ("logreg", "knn", "rf", "xgboost", "mlp")
    if full:
        baselines += ("svm",)  # 4 SVC fits on ~22k rows (probability calibration): many minutes
    rows = [
        _run(td, k, dataset=name, protocol="grouped by track", grid=None, workers=workers, group_by="track")
        for k in baselines
    ]
    if quick:  # no search: the parameters the default run's search chose
        kind, fixed, setting = "xgboost", QUICK_SPOTIFY_PARAMS, "tuned (preset)"
    else:
        grids = SPOTIFY_GRIDS if full else {"xgboost": SPOTIFY_GRIDS["xgboost"]}
        for k, grid in grids.items():
            rows.append(
                _run(
                    td,
                    k,
                    dataset=name,
                    protocol="grouped by track",
                    grid=grid,
                    workers=workers,
                    group_by="track",
                )
            )
        best = max((r for r in rows if r["setting"] == "tuned"), key=lambda r: r["cv_macro_f1"] or 0)
        kind, setting = best["model"], "tuned (reused)"
        fixed = {k.removeprefix("clf__"): v for k, v in best["params"].items()}

    # the stricter protocol, the automatic feature choice and the other duplicate policy: searched again with
    # --full; else with the parameters chosen above (on training data of the track-grouped split)
    def again(d: TabularData, ds: str, protocol: str, group_by: str) -> dict[str, Any]:
        if full:
            return _run(
                d,
                kind,
                dataset=ds,
                protocol=protocol,
                grid=SPOTIFY_GRIDS[kind],
                workers=workers,
                group_by=group_by,
            )
        r = _run(
            d,
            kind,
            dataset=ds,
            protocol=protocol,
            grid=None,
            workers=workers,
            group_by=group_by,
            params={kind: fixed},
        )
        r["setting"] = setting
        return r

    if quick:
        rows.append(again(td, name, "grouped by track", "track"))
    rows.append(again(td, name, "grouped by artist", "artist"))
    # the release year (track_album_release_date, read as its year): the table's own metadata
    year, _ = load_table(path, label="playlist_genre", features=[*td.features, "track_album_release_date"])
    rows.append(again(year, "spotify (12 + release year)", "grouped by track", "track"))
    rows.append(again(year, "spotify (12 + release year)", "grouped by artist", "artist"))
    if not quick:
        # numeric columns minus ids, and dates: + track_popularity and the release year
        auto, _ = load_table(path, label="playlist_genre")
        print(f"auto features: {auto.features}", flush=True)
        rows.append(again(auto, "spotify (auto: +popularity, +year)", "grouped by track", "track"))
        rows.append(again(auto, "spotify (auto: +popularity, +year)", "grouped by artist", "artist"))
        drop, _ = load_table(path, label="playlist_genre", features="spotify", duplicates="drop")
        print(f"duplicates='drop': {len(drop)} rows (majority: {len(td)})", flush=True)
        rows.append(again(drop, "spotify (12, dup=drop)", "grouped by track", "track"))
    return rows


def gtzan(data: Path, *, quick: bool, full: bool, workers: int) -> list[dict[str, Any]]:
    td, report = load_table(data / "gtzan_features" / "features_30_sec.csv", label="label")
    print(report.to_text(limit=2), flush=True)
    split = data / "gtzan_splits"
    baselines = ("logreg", "svm") if quick else ("logreg", "knn", "rf", "svm", "xgboost", "mlp")
    runs = [(kind, None) for kind in baselines] + list((QUICK_GTZAN_GRIDS if quick else GTZAN_GRIDS).items())
    rows = []
    for kind, grid in runs:  # the baselines at their defaults, then the searched grids
        rows.append(
            _run(
                td,
                kind,
                dataset="gtzan 30 s (57)",
                protocol="artist-filtered",
                grid=grid,
                workers=workers,
                split_file=split,
            )
        )
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    head = (
        "| data | split | model | setting | accuracy | macro-F1 | log loss | fit (s) | predict (ms/row) "
        "| params |"
    )
    out = [head, "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        params = ", ".join(f"{k.removeprefix('clf__')}={v}" for k, v in (r["params"] or {}).items())
        out.append(
            f"| {r['dataset']} | {r['protocol']} | {r['model']} | {r['setting']} | {r['accuracy']:.3f} | "
            f"{r['macro_f1']:.3f} | {r['log_loss']:.3f} | {r['fit_s']:.1f} | {r['predict_ms_per_row']:.3f} | "
            f"{params} |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    ap.add_argument("--quick", action="store_true", help="fewer models and grids (a few minutes)")
    ap.add_argument(
        "--full", action="store_true", help="also SVM on Spotify and a search per protocol (slow)"
    )
    ap.add_argument("--only", choices=("spotify", "gtzan"), default=None)
    ap.add_argument("--workers", type=int, default=1, help="parallel jobs of the searches and models")
    ap.add_argument("--json", type=Path, default=None, help="write every row as JSON here")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    if args.only in (None, "gtzan"):
        rows += gtzan(args.data, quick=args.quick, full=args.full, workers=args.workers)
    if args.only in (None, "spotify"):
        rows += spotify(args.data, quick=args.quick, full=args.full, workers=args.workers)
    print()
    print(markdown(rows))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s wall, load average at the end {load:.1f}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
