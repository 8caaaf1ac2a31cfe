"""Odd and broken tables, label maps, rows and grids: each gets a clear error or the right reading."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from genrekit.bundle import Bundle
from genrekit.cli import app
from genrekit.errors import ConfigError, DatasetError, ModelError
from genrekit.tabular import (
    compare_table,
    load_table,
    predict_rows,
    read_label_map,
    split_table,
    train_table,
)
from test_tabular import AUDIO, spotify_like


@pytest.fixture(scope="module")
def spotify_model():
    return train_table(
        spotify_like(n_per=20), label="playlist_genre", model="logreg", features="spotify"
    ).bundle


def test_a_rows_own_column_wins_over_an_alias_of_it(spotify_model):
    row = spotify_like(n_per=1).iloc[2][AUDIO].to_dict()
    plain = predict_rows(spotify_model, [row])[0]["probabilities"]
    assert predict_rows(spotify_model, [{**row, "duration": 3}])[0]["probabilities"] == plain
    assert predict_rows(spotify_model, [{**row, "duration": "3:20"}])[0]["probabilities"] == plain


def test_rows_are_held_to_the_training_rules(spotify_model):
    row = spotify_like(n_per=1).iloc[0][AUDIO].to_dict()
    with pytest.raises(ConfigError, match=r"row 0, column 'duration_ms': value -5 is a negative duration"):
        predict_rows(spotify_model, [{**row, "duration_ms": -5}])
    with pytest.raises(ConfigError, match=r"row 0, column 'tempo': value 1e\+39 is beyond float32's range"):
        predict_rows(spotify_model, [{**row, "tempo": 1e39}])


def test_values_beyond_float32_drop_their_row_with_a_report_line():
    df = spotify_like(n_per=10).astype(object)
    df.loc[0, "tempo"] = "1e39"
    data, report = load_table(df, label="playlist_genre", features="spotify")
    assert len(data) == 29 and np.isfinite(data.X).all()
    assert [(e.row, e.reason) for e in report.rows] == [(0, "out_of_range_value")]
    assert "value beyond float32's range '1e39' in column 'tempo'" in report.rows[0].message


def test_audio_bundle_given_rows_says_it_takes_audio(spotify_model):
    audio_model = Bundle(
        spotify_model.model, "logreg", spotify_model.labels, {"name": "handcrafted"}, feature_names=AUDIO
    )
    with pytest.raises(ModelError, match="trained on audio features, not on a table; classify audio"):
        predict_rows(audio_model, [{"tempo": 1.0}])


def test_named_features_match_case_insensitively_and_by_alias():
    df = spotify_like(n_per=10).rename(columns={"energy": "Energy", "duration_ms": "duration"})
    data, _ = load_table(df, label="playlist_genre", features="Energy,tempo,duration")
    assert data.features == ["energy", "tempo", "duration_ms"]
    np.testing.assert_allclose(data.X[:, 0], df["Energy"], rtol=1e-6)


def test_csv_quirks(tmp_path):
    trailing = tmp_path / "trailing.csv"  # a comma after the last cell of every data row
    trailing.write_text(
        "track_id,genre,tempo,energy\n" + "".join(f"t{i},{'ab'[i % 2]},{100 + i},0.{i},\n" for i in range(8))
    )
    data, _ = load_table(trailing, label="genre")
    assert data.features == ["tempo", "energy"] and list(data.track_ids[:2]) == ["t0", "t1"]
    assert data.counts() == {"a": 4, "b": 4}
    dup = tmp_path / "dup.csv"
    dup.write_text("id,genre,tempo,tempo\nt0,a,1,2\nt1,b,3,4\n")
    with pytest.raises(DatasetError, match=r"dup.csv: the table has duplicated column names: \['tempo'\]"):
        load_table(dup, label="genre")
    semi = tmp_path / "semi.csv"
    semi.write_text("id;genre;tempo\nt0;a;1\n")
    with pytest.raises(DatasetError, match="semi.csv: .*looks semicolon-separated"):
        load_table(semi, label="genre")
    scalar = tmp_path / "scalar.json"
    scalar.write_text("[1, 2, 3]")
    with pytest.raises(DatasetError, match="scalar.json: row 0 is a int"):
        load_table(scalar, label="genre")


def test_label_map_files(tmp_path):
    headerless = tmp_path / "map.csv"
    headerless.write_text("rock,Rock\npop,Pop\n")
    assert read_label_map(headerless) == {"rock": "Rock", "pop": "Pop"}
    with_header = tmp_path / "map2.csv"
    with_header.write_text("from,to\nrock,Rock\n")
    assert read_label_map(with_header) == {"rock": "Rock"}
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DatasetError, match="empty.csv: cannot read the label map"):
        read_label_map(empty)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("caf\xe9,Jazz\n".encode("latin-1"))
    with pytest.raises(DatasetError, match="latin.csv: cannot read the label map"):
        read_label_map(latin)


def test_numeric_labels_with_gaps_read_as_whole_numbers():
    df = spotify_like(n_per=10)
    df["cluster"] = [float(i % 3) for i in range(len(df))]
    df.loc[0, "cluster"] = np.nan  # parquet/JSON: an integer column with a gap is float
    data, report = load_table(
        df, label="cluster", features="spotify", label_map={"0": "zero", "1": "one", "2": "two"}
    )
    assert data.labels == ["one", "two", "zero"] and len(data) == 29
    assert [e.reason for e in report.rows] == ["missing_label"]


def test_a_date_column_of_mostly_bare_years_is_still_dates():
    df = spotify_like(n_per=10)
    df["released"] = [str(2000 + i % 19) for i in range(len(df))]
    df.loc[5, "released"] = "2019-06-14"
    data, report = load_table(df, label="playlist_genre")
    assert "released" in data.dates and report.rows == []
    assert data.X[5, data.features.index("released")] == 2019


def test_a_mostly_empty_column_is_left_out_not_every_row():
    df = spotify_like(n_per=10).astype(object)
    df["time_signature"] = ""
    df.loc[:1, "time_signature"] = "4"
    data, report = load_table(df, label="playlist_genre")
    assert "time_signature" not in data.features and len(data) == 30
    assert report.lines("sparse") == [
        "column 'time_signature': only 2 of 30 cells hold a value; not a feature (its empty cells would drop "
        "their rows; name it in features= to use it anyway)"
    ]


def test_small_tables_and_bad_grids_get_clear_errors():
    df = spotify_like(n_per=2, per_artist=1)  # 3 labels x 2 rows
    data, _ = load_table(df, label="playlist_genre", features="spotify")
    with pytest.raises(DatasetError, match=r"cannot cut 5 stratified folds from 6 rows .* rows per label"):
        split_table(data, group_by="track")
    with pytest.raises(DatasetError, match="cannot cut 5 stratified folds"):
        compare_table(data, models=["logreg"], folds=5, group_by="track")
    big, _ = load_table(spotify_like(n_per=10), label="playlist_genre", features="spotify")
    with pytest.raises(ConfigError, match=r"bad search grid for model 'logreg': 'C' must list its values"):
        train_table(big, model="logreg", search=True, grid={"C": 1}, group_by="track")
    with pytest.raises(ConfigError, match="bad search grid for model 'logreg'"):
        train_table(big, model="logreg", search=True, grid={"C": ["x"]}, group_by="track")


def test_cli_prints_brackets_in_genres_and_names_as_they_are(tmp_path):
    df = spotify_like(n_per=15)
    df["playlist_genre"] = df["playlist_genre"].replace({"rock": "rock [uk]"})
    table = tmp_path / "t.csv"
    df.to_csv(table, index=False)
    runner = CliRunner()
    out = tmp_path / "m"
    r = runner.invoke(app, ["tabular", "train", str(table), "--label", "playlist_genre", "--model", "logreg",
                            "--features", "spotify", "--out", str(out)])  # fmt: skip
    assert r.exit_code == 0, r.output
    rows = tmp_path / "rows.csv"
    df.iloc[[0]].assign(track_id="[live] take 1").to_csv(rows, index=False)
    r = runner.invoke(app, ["tabular", "predict", str(out), str(rows)])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("row 0 ([live] take 1): rock [uk]  (rock [uk] ")


def test_a_row_longer_than_the_header_is_refused_not_cut(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("id,genre,tempo\nt0,a,1,\nt1,b,2,99\n")  # every row one cell longer; one not empty
    with pytest.raises(DatasetError, match="long.csv: row 1 has 4 cells but the header names 3 columns"):
        load_table(path, label="genre")
    path.write_text("id,genre,tempo\nt0,a,1\nt1,b,2,99\n")  # pandas' own refusal, with the file named
    with pytest.raises(DatasetError, match="long.csv: cannot read the table .*Expected 3 fields in line 3"):
        load_table(path, label="genre")


def test_an_extractor_with_its_own_columns_named_as_a_string_is_accepted():
    pytest.importorskip("genrekit.features.handcrafted")
    from test_tabular import KAGGLE_57, gtzan_like

    res = train_table(
        gtzan_like(), label="label", model="logreg", extractor="handcrafted", features=",".join(KAGGLE_57),
        extractor_options={"segment_s": None}, test_size=0.25,
    )  # fmt: skip
    assert res.data.features == KAGGLE_57
    with pytest.raises(ConfigError, match="the features are its 57 columns; drop features="):
        train_table(gtzan_like(), label="label", model="logreg", extractor="handcrafted", features="tempo")
