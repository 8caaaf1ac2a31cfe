from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from genrekit.bundle import load_bundle
from genrekit.errors import ConfigError, DatasetError, ModelError
from genrekit.tabular import (
    SPOTIFY_FEATURES,
    compare_table,
    load_table,
    predict_rows,
    read_label_map,
    split_from_lists,
    split_table,
    train_table,
)

AUDIO = [f for f in SPOTIFY_FEATURES if f != "time_signature"]
# the Kaggle GTZAN features_30_sec.csv columns between filename/length and label
KAGGLE_57 = [
    "chroma_stft_mean", "chroma_stft_var", "rms_mean", "rms_var", "spectral_centroid_mean",
    "spectral_centroid_var", "spectral_bandwidth_mean", "spectral_bandwidth_var", "rolloff_mean",
    "rolloff_var", "zero_crossing_rate_mean", "zero_crossing_rate_var", "harmony_mean", "harmony_var",
    "perceptr_mean", "perceptr_var", "tempo",
    *[f"mfcc{i}_{s}" for i in range(1, 21) for s in ("mean", "var")],
]  # fmt: skip
CENTERS = {  # genre -> (danceability, energy, speechiness, instrumentalness, tempo)
    "rock": (0.45, 0.85, 0.05, 0.10, 130.0),
    "rap": (0.80, 0.60, 0.35, 0.01, 95.0),
    "edm": (0.70, 0.90, 0.06, 0.60, 126.0),
}


def spotify_like(seed: int = 0, n_per: int = 30, per_artist: int = 3) -> pd.DataFrame:
    """Spotify-API-shaped table: ids, names, popularity and the 12 audio features; genres separable."""
    rng = np.random.default_rng(seed)
    rows = []
    for g, (dance, energy, speech, instr, tempo) in CENTERS.items():
        for i in range(n_per):
            tid = f"{g}{i:03d}"
            rows.append(
                {
                    "id": tid,
                    "uri": f"spotify:track:{tid}",
                    "track_href": f"https://api.spotify.com/v1/tracks/{tid}",
                    "analysis_url": f"https://api.spotify.com/v1/audio-analysis/{tid}",
                    "type": "audio_features",
                    "track_id": tid,
                    "track_name": f"Song {i}",
                    "track_artist": f"{g} artist {i // per_artist}",
                    "track_popularity": int(rng.integers(0, 100)),
                    "playlist_genre": g,
                    "danceability": round(dance + 0.05 * rng.standard_normal(), 4),
                    "energy": round(energy + 0.04 * rng.standard_normal(), 4),
                    "key": int(rng.integers(0, 12)),
                    "loudness": round(-6 + rng.standard_normal(), 3),
                    "mode": int(rng.integers(0, 2)),
                    "speechiness": round(speech + 0.02 * rng.standard_normal(), 4),
                    "acousticness": round(float(rng.uniform(0, 0.3)), 4),
                    "instrumentalness": round(instr + 0.03 * rng.standard_normal(), 4),
                    "liveness": round(float(rng.uniform(0.05, 0.4)), 4),
                    "valence": round(float(rng.uniform(0.1, 0.9)), 4),
                    "tempo": round(tempo + 4 * rng.standard_normal(), 3),
                    "duration_ms": int(rng.integers(150_000, 260_000)),
                }
            )
    return pd.DataFrame(rows)


def gtzan_like(seed: int = 0, n_per: int = 12, genres=("blues", "jazz", "metal", "pop")) -> pd.DataFrame:
    """Kaggle-GTZAN-shaped table: filename, length, the 57 feature columns, label."""
    rng = np.random.default_rng(seed)
    offsets = {g: rng.normal(scale=3.0, size=len(KAGGLE_57)) for g in genres}
    rows = []
    for g in genres:
        for i in range(n_per):
            feats = offsets[g] + rng.standard_normal(len(KAGGLE_57))
            rows.append(
                {
                    "filename": f"{g}.{i:05d}.wav",
                    "length": 661794,
                    **dict(zip(KAGGLE_57, feats, strict=True)),
                    "label": g,
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------- loading
def test_auto_features_are_numeric_columns_minus_ids(tmp_path):
    path = tmp_path / "spotify.csv"
    spotify_like().to_csv(path, index=False)
    data, report = load_table(path, label="playlist_genre")
    assert data.features == ["track_popularity", *AUDIO]
    assert data.id_column == "track_id" and data.artist_column == "track_artist"
    reasons = {e.column: e.reason for e in report.columns}
    for col in ("id", "uri", "track_href", "analysis_url", "type", "track_name"):
        assert reasons[col] == "id_like"
    assert reasons["track_id"] == "id_column"
    assert reasons["track_artist"] == "artist_column"
    assert reasons["playlist_genre"] == "label_column"
    assert "column 'uri': identifies or names a track, not a feature" in report.lines("id_like")
    assert len(data) == 90 and report.rows == []
    assert data.counts() == {"edm": 30, "rap": 30, "rock": 30}
    assert data.X.dtype == np.float32 and data.X.shape == (90, 13)


def test_spotify_preset_and_duration_alias(tmp_path):
    df = spotify_like().rename(columns={"duration_ms": "duration"})
    df["duration"] = df["duration"] / 1000.0  # seconds
    data, report = load_table(df, label="playlist_genre", features="spotify")
    assert data.features == AUDIO  # time_signature absent: not required
    np.testing.assert_allclose(
        data.X[:, AUDIO.index("duration_ms")], spotify_like()["duration_ms"], rtol=1e-6
    )
    assert "column 'duration': read as 'duration_ms' (seconds x 1000)" in report.lines("renamed")
    assert any(e.column == "time_signature" and e.reason == "absent" for e in report.columns)


ERAS = {"rock": 1975, "rap": 2005, "edm": 2016}  # genre -> typical release year


def with_release_dates(df: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """``track_album_release_date`` as Spotify gives it: full dates, year-months and bare years, by era."""
    rng = np.random.default_rng(seed)
    out = df.copy()
    dates = []
    for i, g in enumerate(out["playlist_genre"]):
        year = ERAS[g] + int(rng.integers(-3, 4))
        dates.append((f"{year}-06-14", f"{year}-06", str(year))[i % 3])
    out["track_album_release_date"] = dates
    return out


def test_date_column_is_read_as_its_year(tmp_path):
    df = with_release_dates(spotify_like(n_per=10)).astype(object)
    df.loc[30] = {**df.loc[0], "track_id": "undated", "track_album_release_date": "14/06/2019"}
    df.loc[31] = {**df.loc[1], "track_id": "nodate", "track_album_release_date": "?"}
    df.loc[32] = {**df.loc[2], "track_id": "month13", "track_album_release_date": "2019-13-01"}
    path = tmp_path / "songs.csv"
    df.to_csv(path, index=False)
    data, report = load_table(path, label="playlist_genre")  # auto: numeric columns and dates
    assert data.features == ["track_popularity", *AUDIO, "track_album_release_date"]
    assert data.dates == ["track_album_release_date"]
    year = data.X[:, -1]
    expect = [int(str(d)[:4]) for d in df["track_album_release_date"][:30]]
    np.testing.assert_array_equal(year, expect)  # "1975-06-14", "1975-06" and "1975" all -> 1975
    first = df["track_album_release_date"][0]  # row 0 holds a full date
    assert report.lines("date") == [
        f"column 'track_album_release_date': dates, read as their year (e.g. '{first}' -> {first[:4]})"
    ]
    bad = {e.track_id: e for e in report.rows}
    assert set(bad) == {"undated", "nodate", "month13"}
    assert bad["undated"].reason == "bad_date" and bad["month13"].reason == "bad_date"
    assert "unreadable date (year first, e.g. 2019-06-14) '14/06/2019' in column" in bad["undated"].message
    assert bad["nodate"].reason == "sentinel_value"
    # named, and from a DataFrame holding datetimes (as parquet gives them)
    named = df.iloc[:30].copy()
    named["track_album_release_date"] = pd.to_datetime([f"{y}-01-02" for y in expect])
    d2, _ = load_table(named, label="playlist_genre", features=["energy", "track_album_release_date"])
    assert d2.dates == ["track_album_release_date"]
    np.testing.assert_array_equal(d2.X[:, 1], expect)
    # a text column that is mostly not dates stays out
    words = df.iloc[:30].assign(track_album_release_date="someday")
    d3, r3 = load_table(words, label="playlist_genre")
    assert "track_album_release_date" not in d3.features and d3.dates == []
    assert any(e.column == "track_album_release_date" and e.reason == "non_numeric" for e in r3.columns)


def test_release_year_alone_separates_eras_and_predicts_from_dates_or_years(tmp_path):
    rng = np.random.default_rng(3)
    df = with_release_dates(spotify_like(n_per=30))
    for col in AUDIO:  # audio features carry no genre information here: only the year does
        df[col] = rng.permutation(df[col].to_numpy())
    res = train_table(
        df, label="playlist_genre", model="logreg", out=tmp_path / "b", group_by="track",
        features=["energy", "tempo", "track_album_release_date"],
    )  # fmt: skip
    assert res.run is not None and res.run.result.track.accuracy >= 0.95
    b = load_bundle(tmp_path / "b")
    assert b.extra["tabular"]["dates"] == ["track_album_release_date"]
    base = {"energy": 0.7, "tempo": 120.0}
    rows = [
        {**base, "track_album_release_date": "1974-03-01"},
        {**base, "track_album_release_date": 2005},
        {**base, "track_album_release_date": "2017-09"},
    ]
    assert [o["genre"] for o in predict_rows(b, rows)] == ["rock", "rap", "edm"]
    with pytest.raises(ConfigError, match=r"row 1, column 'track_album_release_date': value 'last year' is "
                       r"not a date \(year first"):  # fmt: skip
        predict_rows(b, [rows[0], {**base, "track_album_release_date": "last year"}])


def _dirty_table() -> pd.DataFrame:
    """30 clean rows (rock 0-9, rap 10-19, edm 20-29) and one row per cleaning rule after them."""
    df = spotify_like(n_per=10).astype(object)
    extra = []

    def add(base: int, **changes):
        row = df.iloc[base].to_dict()
        row.update(changes)
        extra.append(row)

    add(0)  # 30: exact duplicate of row 0
    add(1, track_id="bad31", tempo="?")  # 31
    add(1, track_id="bad32", energy="")  # 32
    add(1, track_id="bad33", loudness="NaN")  # 33
    add(1, track_id="bad34", duration_ms=-1)  # 34
    add(1, track_id="bad35", valence="loud", tempo="?")  # 35: two bad cells
    add(1, track_id="bad36", playlist_genre="")  # 36
    add(2, track_popularity=1)  # 37: same track as row 2, same label
    add(3, track_popularity=2, playlist_genre="rap")  # 38: track of row 3 (rock) ...
    add(3, track_popularity=3, playlist_genre="rap")  # 39: ... twice as rap: majority rap
    add(4, track_popularity=4, playlist_genre="rap")  # 40: track of row 4 as rap: tie
    add(5, track_id="solo41", playlist_genre="jazz")  # 41: a label with one member
    return pd.concat([df, pd.DataFrame(extra)], ignore_index=True)


def test_every_cleaning_rule_reports_its_rows(tmp_path):
    path = tmp_path / "dirty.csv"
    _dirty_table().to_csv(path, index=False)
    data, report = load_table(path, label="playlist_genre")
    assert report.lines("exact_duplicate") == ["row 30 (track_id rock000): exact duplicate of row 0"]
    assert report.lines("sentinel_value") == [
        "row 31 (track_id bad31): sentinel value '?' in column 'tempo'",
        "row 32 (track_id bad32): empty value '' in column 'energy'",
        "row 34 (track_id bad34): sentinel duration '-1' in column 'duration_ms'",
    ]
    assert report.lines("missing_value") == [
        "row 33 (track_id bad33): missing value 'NaN' in column 'loudness'"
    ]
    assert report.lines("non_numeric_value") == [
        "row 35 (track_id bad35): non-numeric value 'loud' in column 'valence' (and 1 more column)"
    ]
    assert report.lines("missing_label") == [
        "row 36 (track_id bad36): missing label in column 'playlist_genre'"
    ]
    majority = "same track as row 38; labels 'rap' x2, 'rock' x1: kept the majority 'rap'"
    assert report.lines("duplicate_track") == [
        "row 37 (track_id rock002): same track as row 2 (kept)",
        f"row 3 (track_id rock003): {majority}",
        f"row 39 (track_id rock003): {majority}",
    ]
    tie = "track listed 2 times with labels 'rock' x1, 'rap' x1 (no majority): all dropped"
    assert report.lines("conflicting_labels") == [
        f"row 4 (track_id rock004): {tie}",
        f"row 40 (track_id rock004): {tie}",
    ]
    assert report.lines("rare_label") == ["row 41 (track_id solo41): label 'jazz' has 1 row(s), fewer than 2"]
    # nothing is dropped silently: every missing row has exactly one entry
    dropped = sorted(e.row for e in report.rows)
    assert dropped == sorted(set(range(42)) - set(data.rows.tolist()))
    assert report.n_rows_in == 42 and report.n_rows_out == len(data) == 42 - len(dropped) == 29
    assert sum(report.dropped_rows.values()) == 13
    # the majority row was kept with its label; its track id appears once
    kept = dict(zip(data.track_ids.tolist(), data.y.tolist(), strict=True))
    assert kept["rock003"] == "rap" and "rock004" not in kept and len(set(data.track_ids)) == len(data)
    assert data.rows[data.track_ids.tolist().index("rock003")] == 38
    text = report.to_text(limit=1)
    assert "rows dropped: exact_duplicate 1" in text and "... and 1 more conflicting_labels rows" in text
    assert report.to_dict()["entries"][-1]["reason"] == "rare_label"


def test_duplicates_drop_policy_drops_every_conflicting_track():
    data, report = load_table(_dirty_table(), label="playlist_genre", duplicates="drop")
    assert "rock003" not in set(data.track_ids) and "rock004" not in set(data.track_ids)
    assert len(report.lines("conflicting_labels")) == 5  # rows 3, 38, 39 and 4, 40
    assert "(duplicates='drop'): all dropped" in report.lines("conflicting_labels")[0]
    with pytest.raises(ConfigError, match="valid duplicates policys: drop, majority"):
        load_table(_dirty_table(), label="playlist_genre", duplicates="first")


def test_unknown_label_column_lists_the_columns():
    with pytest.raises(
        ConfigError, match=r"label column 'genre' is not in the table; its columns are: id, uri"
    ):
        load_table(spotify_like(n_per=3), label="genre")


def test_unknown_feature_column_is_named():
    with pytest.raises(ConfigError, match=r"feature column\(s\) \['speed'\] are not in the table"):
        load_table(spotify_like(n_per=3), label="playlist_genre", features=["tempo", "speed"])


def test_table_without_usable_feature_column():
    df = pd.DataFrame(
        {
            "track_id": ["a", "b", "c", "d"],
            "track_name": ["w", "x", "y", "z"],
            "mood": ["up", "down", "up", "x"],
            "genre": ["rock", "rock", "pop", "pop"],
        }
    )
    with pytest.raises(DatasetError, match="no usable feature column") as err:
        load_table(df, label="genre")
    assert "column 'mood': not numeric (e.g. 'up')" in str(err.value)


def test_label_with_one_member_is_dropped_or_fails_when_it_leaves_one_label():
    df = spotify_like(n_per=4)
    df.loc[0, "playlist_genre"] = "polka"
    data, report = load_table(df, label="playlist_genre")
    assert "polka" not in data.labels and report.dropped_rows == {"rare_label": 1}
    two = df[df.playlist_genre.isin(["rock", "polka"])]
    with pytest.raises(DatasetError, match=r"1 label\(s\) left after cleaning \(\['rock'\]\)"):
        load_table(two, label="playlist_genre")


def test_label_map_from_csv_and_json(tmp_path):
    df = spotify_like(n_per=4)
    csv = tmp_path / "map.csv"
    csv.write_text("from,to\nrock,Rock\nrap,Hip-Hop\nedm,\n")
    data, report = load_table(df, label="playlist_genre", label_map=csv)
    assert data.counts() == {"Hip-Hop": 4, "Rock": 4}
    assert report.lines("unmapped_label")[0] == "row 8 (track_id edm000): label 'edm' is mapped to nothing"
    js = tmp_path / "map.json"
    js.write_text(json.dumps({"rock": "Rock", "edm": "Dance/Electronic"}))
    data, report = load_table(df, label="playlist_genre", label_map=js)
    assert data.labels == ["Dance/Electronic", "Rock"]
    assert "row 4 (track_id rap000): label 'rap' is not in the label map" in report.lines("unmapped_label")
    assert read_label_map({" a ": "X", "b": None}) == {"a": "X", "b": None}


# ---------------------------------------------------------------------------------------------- splits
def test_split_is_grouped_by_artist_and_stratified():
    data, _ = load_table(spotify_like(n_per=30), label="playlist_genre")
    split = split_table(data, test_size=0.2, seed=3)
    tr_art, te_art = set(data.artists[split.train]), set(data.artists[split.test])
    assert not tr_art & te_art
    assert len(split.train) + len(split.test) == len(data)
    assert set(data.y[split.test]) == {"rock", "rap", "edm"}
    assert 12 <= len(split.test) <= 24
    by_track = split_table(data, test_size=0.25, group_by="track")
    assert "grouped by track" in by_track.description and "grouped by artist" in split.description


def test_split_lists_match_file_name_stems(tmp_path):
    data, report = load_table(gtzan_like(n_per=6), label="label")
    assert data.features == KAGGLE_57 and data.id_column == "filename"
    assert {e.column: e.reason for e in report.columns}["length"] == "metadata"
    d = tmp_path / "splits"
    d.mkdir()
    genres = ("blues", "jazz", "metal", "pop")
    (d / "train_filtered.txt").write_text(
        "".join(f"{g}/{g}.0000{i}.wav\n" for g in genres for i in (0, 1, 2))
    )
    (d / "valid_filtered.txt").write_text("".join(f"{g}/{g}.00003.wav\n" for g in genres))
    (d / "test_filtered.txt").write_text("".join(f"{g}/{g}.0000{i}.wav\n" for g in genres for i in (4,)))
    split = split_from_lists(data, d)
    assert sorted(data.track_ids[split.test]) == [f"{g}.00004.wav" for g in genres]
    assert len(split.train) == 16
    assert sorted(set(split.search_groups)) == ["train", "valid"]
    assert split.notes == ["4 row(s) in no split list were left out"]  # the .00005 rows


# ---------------------------------------------------------------------------------------- train/predict
def test_train_bundle_round_trip_and_predict_rows(tmp_path):
    df = spotify_like(n_per=30)
    res = train_table(df, label="playlist_genre", model="logreg", out=tmp_path / "b", features="spotify")
    assert res.run is not None and res.run.result.track.accuracy > 0.9
    assert (tmp_path / "b" / "cleaning.txt").is_file()
    b = load_bundle(tmp_path / "b")
    assert b.extractor is None and b.feature_names == AUDIO
    assert b.extra["tabular"]["label_column"] == "playlist_genre"
    assert b.extra["tabular"]["group_by"] == "artist"
    assert b.metrics["test"]["n_tracks"] == len(res.split.test)
    rows = df.iloc[[0, 40, 80]]
    out = predict_rows(b, rows, top_k=2)
    direct = res.bundle.model.predict_proba(rows[AUDIO].to_numpy(np.float32))
    assert [o["genre"] for o in out] == ["rock", "rap", "edm"]
    assert [o["id"] for o in out] == ["rock000", "rap010", "edm020"]
    for o, p in zip(out, direct, strict=True):
        assert list(o["probabilities"].values()) == sorted(o["probabilities"].values(), reverse=True)
        assert o["probabilities"]["rock"] == pytest.approx(p[list(b.labels).index("rock")], abs=1e-6)
        assert len(o["top_k"]) == 2 and o["top_k"][0]["genre"] == o["genre"]
    # the same from a path and from a list of dicts, with the duration given in seconds under an alias
    records = rows[AUDIO].to_dict("records")
    for r in records:
        r["duration"] = r.pop("duration_ms") / 1000
    again = predict_rows(tmp_path / "b", records, top_k=2)
    assert [a["probabilities"] for a in again] == [o["probabilities"] for o in out]


def test_predict_rows_errors_name_columns_and_rows(tmp_path):
    res = train_table(
        spotify_like(n_per=10), label="playlist_genre", model="knn", features="spotify", test_size=0
    )
    row = spotify_like(n_per=1).iloc[0][AUDIO].to_dict()
    del row["tempo"], row["valence"]
    with pytest.raises(ConfigError, match=r"lack the feature column\(s\) \['valence', 'tempo'\]"):
        predict_rows(res.bundle, [row])
    good = spotify_like(n_per=1).iloc[0][AUDIO].to_dict()
    with pytest.raises(ConfigError, match=r"row 1, column 'energy': value 'high' is not a number"):
        predict_rows(res.bundle, [good, {**good, "energy": "high"}])
    with pytest.raises(ConfigError, match="row 0, column 'key': value None is missing"):
        predict_rows(res.bundle, [{**good, "key": None}])
    with pytest.raises(ConfigError, match="no rows"):
        predict_rows(res.bundle, [])
    audio_like = res.bundle
    audio_like.feature_names = None
    with pytest.raises(ModelError, match="no feature column names"):
        predict_rows(audio_like, [good])


def test_search_with_custom_grid_reports_the_transform():
    data, _ = load_table(spotify_like(n_per=24), label="playlist_genre", features="spotify")
    res = train_table(
        data, model="logreg", search=True, grid={"transform": ["standard", "power"], "C": [0.1, 1.0]}, seed=1
    )
    search = res.bundle.extra["search"]
    assert set(search["best_params"]) == {"clf__C", "transform"}
    assert search["best_params"]["transform"] in ("standard", "power")
    assert res.bundle.params["transform"] == search["best_params"]["transform"]
    step = res.bundle.model.named_steps["scale"]
    assert (
        type(step).__name__
        == {"standard": "StandardScaler", "power": "PowerTransformer"}[search["best_params"]["transform"]]
    )
    with pytest.raises(ConfigError, match="bad search grid for model 'logreg'"):
        train_table(data, model="logreg", search=True, grid={"nonsense": [1]})


def test_compare_writes_report_with_cleaning(tmp_path):
    res = compare_table(
        _dirty_table(),
        label="playlist_genre",
        models=["logreg", "knn"],
        report=tmp_path / "rep",
        test_size=0.25,
    )
    assert [r.name for r in res.runs] == ["logreg", "knn"]
    for r in res.runs:
        assert r.result.n_tracks == r.result.n_segments  # one row, one track
        assert r.fit_time_s is not None and r.result.track.log_loss > 0
    assert (tmp_path / "rep" / "report.md").is_file()
    assert "exact duplicate of row 0" in (tmp_path / "rep" / "cleaning.txt").read_text()
    assert json.loads((tmp_path / "rep" / "cleaning.json").read_text())["n_rows_out"] == 29
    assert "Cleaning" in (tmp_path / "rep" / "report.md").read_text()
    folds = compare_table(spotify_like(n_per=12), label="playlist_genre", models=["logreg"], folds=3)
    assert folds.runs[0].result.n_tracks == 36 and folds.runs[0].extra["folds"]["n_folds"] == 3


# --------------------------------------------------------------------------------- audio via extractor
@pytest.mark.slow
def test_gtzan_table_bundle_classifies_audio(tmp_path, tone_440):
    pytest.importorskip("genrekit.features.handcrafted")
    from genrekit.features.registry import get_extractor
    from genrekit.predict import classifier_from_bundle

    ext = get_extractor("handcrafted", segment_s=None, extended=False, summary=None)  # the Kaggle table's
    assert list(ext.names) == KAGGLE_57
    res = train_table(
        gtzan_like(), label="label", model="logreg", extractor="handcrafted",
        extractor_options={"segment_s": None}, out=tmp_path / "g", test_size=0.25,
    )  # fmt: skip
    assert res.data.features == KAGGLE_57
    assert {e.column: e.reason for e in res.cleaning.columns}["length"] == "excluded"
    bundle = load_bundle(tmp_path / "g")
    assert bundle.extractor["name"] == "handcrafted" and bundle.extractor["config"]["segment_s"] is None
    clf = classifier_from_bundle(bundle)
    y, sr = tone_440
    pred = clf.predict_audio(y, sr)
    assert len(pred.segments) == 1 and pred.genre in bundle.labels
    feats = ext(y, sr)[0]
    rows = predict_rows(bundle, [dict(zip(ext.names, feats.tolist(), strict=True))])
    assert rows[0]["genre"] == pred.genre
    assert rows[0]["probabilities"][pred.genre] == pytest.approx(pred.probabilities[pred.genre], abs=1e-5)
    with pytest.raises(ConfigError, match="not in the table"):
        train_table(gtzan_like().drop(columns=["tempo"]), label="label", model="knn", extractor="handcrafted")


def test_pure_tabular_bundle_refuses_audio(tmp_path):
    from genrekit.predict import load_model

    train_table(spotify_like(n_per=6), label="playlist_genre", model="knn", test_size=0, out=tmp_path / "s")
    with pytest.raises(ModelError, match="tabular model with no audio feature extractor"):
        load_model(tmp_path / "s")


# ------------------------------------------------------------------------------------------------- CLI
@pytest.mark.slow
def test_cli_train_predict_compare(tmp_path):
    from genrekit.cli import app

    runner = CliRunner()
    table = tmp_path / "songs.csv"
    spotify_like(n_per=20).to_csv(table, index=False)
    r = runner.invoke(
        app, ["tabular", "train", str(table), "--label", "playlist_genre", "--model", "logreg",
              "--features", "spotify", "--out", str(tmp_path / "m")],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "test accuracy" in r.output and (tmp_path / "m" / "bundle.json").is_file()
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps(spotify_like(n_per=1)[["track_id", *AUDIO]].to_dict("records")))
    r = runner.invoke(app, ["tabular", "predict", str(tmp_path / "m"), str(rows), "--top-k", "2", "--json"])
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
    assert [x["genre"] for x in lines] == ["rock", "rap", "edm"] and all(len(x["top_k"]) == 2 for x in lines)
    r = runner.invoke(app, ["tabular", "predict", str(tmp_path / "m"), str(rows)])
    assert r.exit_code == 0 and "row 0 (rock000): rock" in r.stdout
    bad = tmp_path / "bad.csv"
    spotify_like(n_per=1).drop(columns=["tempo"]).to_csv(bad, index=False)
    r = runner.invoke(app, ["tabular", "predict", str(tmp_path / "m"), str(bad)])
    assert r.exit_code == 2 and "['tempo']" in r.output
    r = runner.invoke(app, ["tabular", "train", str(table), "--label", "genre", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "its columns are: id, uri" in r.output
    r = runner.invoke(
        app, ["tabular", "compare", str(table), "--label", "playlist_genre", "--models", "logreg,knn",
              "-p", "logreg:C=0.5", "--report", str(tmp_path / "rep")],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert (tmp_path / "rep" / "cleaning.txt").is_file() and "report:" in r.stdout
    r = runner.invoke(
        app, ["tabular", "compare", str(table), "--label", "playlist_genre", "--models", "logreg,knn",
              "--report", str(tmp_path / "rep2"), "--format", "json", "--output-dir", str(tmp_path / "o")],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    runs = json.loads(r.stdout)  # stdout is the results alone; notes went to stderr
    assert sorted(row["model"] for row in runs) == ["knn", "logreg"]
    assert all(0.0 <= row["track_accuracy"] <= 1.0 for row in runs) and "report:" in r.stderr
    assert json.loads((tmp_path / "o" / "tabular-compare.json").read_text()) == runs
    r = runner.invoke(app, ["tabular", "clean", str(table), "--label", "playlist_genre", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["n_rows_out"] == 60
