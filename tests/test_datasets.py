from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from genrekit.data import folders, splits, tracks
from genrekit.data.tracks import Dataset, Track
from genrekit.errors import ConfigError, DatasetError

SR = 22050


def _wav(path: Path, seconds: float = 0.1, seed: int = 0, fmt: str | None = None) -> Path:
    """Write ``seconds`` of quiet noise (0.1 s by default)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    y = (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)
    sf.write(path, y, SR, format=fmt)
    return path


def _synthetic(
    n_per_class: dict[str, int], *, artists_per_class: int | None = None, seed: int = 0
) -> Dataset:
    """A dataset of Track records (no files): enough for the split logic."""
    rng = np.random.default_rng(seed)
    recs = []
    for label, n in n_per_class.items():
        for i in range(n):
            rel = f"{label}/{label}.{i:05d}.wav"
            artist = (
                None if artists_per_class is None else f"{label}-artist-{rng.integers(artists_per_class)}"
            )
            recs.append(Track(Path("/data") / rel, label, tracks.track_id_for(rel), artist, rel))
    return Dataset(tuple(recs), root=Path("/data"))


# ------------------------------------------------------------------------------------------------------
# folder layout
# ------------------------------------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    _wav(root / "blues" / "b1.wav")
    _wav(root / "blues" / "live" / "1999" / "b2.wav", seed=1)  # nested two levels down
    _wav(root / "rock" / "r1.flac", fmt="FLAC")
    _wav(root / "rock" / "r2.WAV", seed=2)  # upper-case extension
    _wav(root / "rock" / ".hidden.wav")
    _wav(root / "rock" / ".cache" / "x.wav")
    (root / "rock" / "notes.txt").write_text("liner notes")
    _wav(root / "stray.wav")  # directly in root: ignored
    (root / ".DS_Store").write_bytes(b"\0\0")
    _wav(root / ".git" / "objects.wav")
    return root


def test_from_folder_labels_nested_hidden_and_stray(tree: Path):
    ds = folders.from_folder(tree)
    assert ds.relpaths == ["blues/b1.wav", "blues/live/1999/b2.wav", "rock/r1.flac", "rock/r2.WAV"]
    assert ds.track_ids == ["blues/b1", "blues/live/1999/b2", "rock/r1", "rock/r2"]
    assert ds.y.tolist() == ["blues", "blues", "rock", "rock"]
    assert ds.labels == ["blues", "rock"]
    assert ds.counts() == {"blues": 2, "rock": 2}
    assert all(p.is_file() for p in ds.paths)
    assert ds.root == tree and len(ds) == 4
    assert ds.artists == [None] * 4
    notes = " | ".join(ds.notes)
    assert "stray.wav" in notes and "notes.txt" in notes and ".hidden.wav" in notes


def test_folder_layout_and_batch_inputs_walk_the_same_files(tree: Path):
    from genrekit.data.sources import InputSource

    (tree / "rock" / "loop").symlink_to(tree / "rock", target_is_directory=True)  # a link back up
    ds = folders.from_folder(tree)
    src = InputSource(tree / "rock")
    assert [it.path for it in src] == [str(p) for p in ds.paths if p.parent.name == "rock"]
    assert src.ignored == 3  # .cache, .hidden.wav, notes.txt: the dataset's notes name the same three
    assert sum(n in " ".join(ds.notes) for n in ("rock/.cache", "rock/.hidden.wav", "rock/notes.txt")) == 3


def test_from_folder_ids_are_stable_across_roots(tree: Path, tmp_path: Path):
    copy = tmp_path / "elsewhere" / "copy"
    shutil.copytree(tree, copy)
    a, b = folders.from_folder(tree), folders.from_folder(copy)
    assert a.track_ids == b.track_ids and a.relpaths == b.relpaths
    assert tracks.fingerprint(a) == tracks.fingerprint(b)


def test_track_id_for_strips_only_audio_extensions():
    assert tracks.track_id_for("blues/blues.00012.wav") == "blues/blues.00012"
    assert tracks.track_id_for("blues/blues.00012.mp3") == "blues/blues.00012"
    assert tracks.track_id_for("./blues/blues.00012.FLAC") == "blues/blues.00012"
    assert tracks.track_id_for("blues\\blues.00012.au") == "blues/blues.00012"
    assert tracks.track_id_for("blues/blues.00012") == "blues/blues.00012"


def test_from_folder_errors(tmp_path: Path):
    with pytest.raises(DatasetError, match="not found"):
        folders.from_folder(tmp_path / "nope")
    f = _wav(tmp_path / "file.wav")
    with pytest.raises(DatasetError, match="not a folder"):
        folders.from_folder(f)
    only_text = tmp_path / "text"
    (only_text / "jazz").mkdir(parents=True)
    (only_text / "jazz" / "readme.txt").write_text("x")
    with pytest.raises(DatasetError, match="no audio files"):
        folders.from_folder(only_text)
    empty_genre = tmp_path / "eg"
    _wav(empty_genre / "pop" / "p.wav")
    (empty_genre / "metal").mkdir()
    with pytest.raises(DatasetError, match="metal"):
        folders.from_folder(empty_genre)
    flat = tmp_path / "flat"
    _wav(flat / "song.wav")
    with pytest.raises(DatasetError, match="1 audio file.* sit directly in the folder"):
        folders.from_folder(flat)
    two_formats = tmp_path / "tf"
    _wav(two_formats / "pop" / "p.wav")
    _wav(two_formats / "pop" / "p.flac", fmt="FLAC")
    with pytest.raises(DatasetError, match="two formats"):
        folders.from_folder(two_formats)


# ------------------------------------------------------------------------------------------------------
# manifests
# ------------------------------------------------------------------------------------------------------


def test_from_manifest_relative_paths_artist_and_track_id(tmp_path: Path):
    audio = tmp_path / "audio"
    _wav(audio / "a.wav")
    _wav(audio / "sub" / "b.wav")
    outside = _wav(tmp_path / "other" / "c.wav")
    man = tmp_path / "audio" / "list.csv"
    man.write_text(
        "\ufeffLabel, Path ,artist,track_id\n"  # BOM, column order and case do not matter
        "jazz,a.wav,Miles Davis,\n"
        "\n"
        "rock,sub/b.wav,,custom-7\n"
        f"jazz,{outside},miles  davis,\n",
        encoding="utf-8",
    )
    ds = folders.from_manifest(man)
    assert ds.root == audio
    by_rel = {t.relpath: t for t in ds}
    assert set(by_rel) == {"a.wav", "sub/b.wav", outside.as_posix()}
    assert by_rel["a.wav"].track_id == "a" and by_rel["a.wav"].artist == "Miles Davis"
    assert by_rel["sub/b.wav"].track_id == "custom-7" and by_rel["sub/b.wav"].artist is None
    assert by_rel["sub/b.wav"].path == audio / "sub" / "b.wav"
    # same artist however it is spelt: one group
    g = dict(zip(ds.relpaths, ds.groups("artist"), strict=True))
    assert g["a.wav"] == g[outside.as_posix()] != g["sub/b.wav"]
    # one track without an artist does not turn artist grouping off: it is its own group
    assert not ds.has_artists and ds.any_artists and tracks.resolve_group_by(ds, "auto") == "artist"
    assert list(ds.groups("auto")) == list(ds.groups("artist"))


def test_from_manifest_root_argument(tmp_path: Path):
    _wav(tmp_path / "music" / "x.wav")
    man = tmp_path / "lists" / "m.csv"
    man.parent.mkdir()
    man.write_text("path,label\nx.wav,pop\n")
    with pytest.raises(DatasetError, match="file not found"):
        folders.from_manifest(man)
    ds = folders.from_manifest(man, root=tmp_path / "music")
    assert ds.relpaths == ["x.wav"] and ds.track_ids == ["x"]


def test_from_manifest_missing_column_lists_present_columns(tmp_path: Path):
    man = tmp_path / "m.csv"
    man.write_text("file,genre,artist\na.wav,pop,x\n")
    with pytest.raises(DatasetError, match=r"missing required column\(s\) path, label.*file, genre, artist"):
        folders.from_manifest(man)


def test_from_manifest_reports_every_bad_row_together(tmp_path: Path):
    _wav(tmp_path / "a.wav")
    _wav(tmp_path / "b.wav")
    man = tmp_path / "m.csv"
    man.write_text(
        "path,label\n"
        "a.wav,pop\n"  # row 2: fine
        "b.wav,\n"  # row 3: empty label
        "missing.wav,rock\n"  # row 4: missing file
        "a.wav,jazz\n"  # row 5: duplicated path
        ",rock\n"  # row 6: empty path
    )
    with pytest.raises(DatasetError) as exc:
        folders.from_manifest(man)
    msg = str(exc.value)
    assert "4 problem(s)" in msg
    assert "row 3: empty label" in msg
    assert "row 4: file not found" in msg and "missing.wav" in msg
    assert "row 5: duplicated path a.wav (also on row 2)" in msg
    assert "row 6: empty path" in msg
    assert "row 2" not in msg.replace("also on row 2", "")


def test_from_manifest_duplicate_track_id_and_empty(tmp_path: Path):
    _wav(tmp_path / "a.wav")
    _wav(tmp_path / "a.flac", fmt="FLAC")
    man = tmp_path / "m.csv"
    man.write_text("path,label\na.wav,pop\na.flac,pop\n")
    with pytest.raises(DatasetError, match=r"row 3: duplicated track id 'a' \(also on row 2\)"):
        folders.from_manifest(man)
    man.write_text("path,label\n")
    with pytest.raises(DatasetError, match="lists no tracks"):
        folders.from_manifest(man)
    with pytest.raises(DatasetError, match="manifest file not found"):
        folders.from_manifest(tmp_path / "none.csv")


def test_load_dataset_picks_the_layout(tree: Path):
    (tree / "manifest.csv").write_text(
        "path,label,artist\nblues/b1.wav,blues,Lead Belly\nrock/r1.flac,rock,X\n"
    )
    assert len(folders.load_dataset(tree)) == 4  # folder layout; manifest.csv is a stray root file
    by_manifest = folders.load_dataset(tree, layout="manifest")
    assert by_manifest.relpaths == ["blues/b1.wav", "rock/r1.flac"] and by_manifest.has_artists
    assert folders.load_dataset(tree / "manifest.csv").track_ids == by_manifest.track_ids
    assert folders.load_dataset(by_manifest) is by_manifest
    with pytest.raises(DatasetError, match="not found"):
        folders.load_dataset(tree / "missing")
    with pytest.raises(DatasetError, match="folder.*or a .csv"):
        folders.load_dataset(tree / "blues" / "b1.wav")
    with pytest.raises(ConfigError, match="valid layouts"):
        folders.load_dataset(tree, layout="zip")


def test_to_manifest_round_trip(tmp_path: Path, tree: Path):
    ds = folders.from_folder(tree)
    with_artists = Dataset(
        tuple(Track(t.path, t.label, t.track_id, f"artist {i % 2}", t.relpath) for i, t in enumerate(ds)),
        root=ds.root,
    )
    back = folders.from_manifest(with_artists.to_manifest(tree / "out.csv"))
    assert back.track_ids == with_artists.track_ids
    assert back.artists == with_artists.artists and back.y.tolist() == with_artists.y.tolist()


# ------------------------------------------------------------------------------------------------------
# scan
# ------------------------------------------------------------------------------------------------------


def test_scan_lists_broken_files_and_counts_the_good_ones(tmp_path: Path):
    root = tmp_path / "ds"
    for i in range(3):
        _wav(root / "pop" / f"p{i}.wav", seed=i)
        _wav(root / "rock" / f"r{i}.wav", seed=10 + i)
    (root / "pop" / "empty.wav").write_bytes(b"")
    (root / "pop" / "text.wav").write_text("this is not audio\n" * 20)
    good = (root / "rock" / "r0.wav").read_bytes()
    (root / "rock" / "truncated.wav").write_bytes(good[: len(good) // 3])
    (root / "rock" / "image.wav").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(300))
    (root / "rock" / "cover.jpg").write_bytes(b"\xff\xd8\xff")
    (root / "jazz").mkdir()  # empty genre folder: reported, not fatal
    _wav(root / "loose.wav")

    rep = folders.scan(root)
    problems = dict(rep.problems)
    assert set(problems) == {"pop/empty.wav", "pop/text.wav", "rock/truncated.wav", "rock/image.wav", "jazz/"}
    assert "empty" in problems["pop/empty.wav"]
    assert "not an audio file" in problems["pop/text.wav"]
    assert "not an audio file" in problems["rock/image.wav"]
    assert "truncated" in problems["rock/truncated.wav"]
    assert "no audio files" in problems["jazz/"]
    assert all(problems.values())
    assert rep.counts == {"pop": 3, "rock": 3}
    assert rep.n_files == 10 and rep.n_ok == 6 and not rep.ok
    assert rep.duration_s == pytest.approx(0.6, abs=1e-3)
    assert rep.durations["pop"] == pytest.approx(0.3, abs=1e-3)
    assert rep.skipped == ["rock/cover.jpg"] and "loose.wav" in rep.ignored
    text = rep.to_text()
    assert "pop" in text and "rock/truncated.wav" in text and "problems:" in text
    d = json.loads(json.dumps(rep.to_dict()))
    assert d["n_ok"] == 6 and len(d["problems"]) == 5

    listing = folders.scan(root, check_audio=False)  # no header reads: every audio file counts
    assert listing.counts == {"pop": 5, "rock": 5} and listing.duration_s is None


def test_scan_decode_catches_corrupt_data_behind_a_good_header(tmp_path: Path):
    root = tmp_path / "ds"
    flac = _wav(root / "folk" / "f.flac", seconds=1.0, fmt="FLAC")
    data = flac.read_bytes()
    flac.write_bytes(data[: len(data) // 2])
    _wav(root / "folk" / "ok.wav")
    assert folders.scan(root).ok  # the flac header is intact
    rep = folders.scan(root, decode=True)
    assert [p for p, _ in rep.problems] == ["folk/f.flac"] and rep.counts == {"folk": 1}


def test_scan_manifest_and_dataset_sources(tmp_path: Path):
    _wav(tmp_path / "a.wav")
    (tmp_path / "b.wav").write_text("nope")
    man = tmp_path / "m.csv"
    man.write_text("path,label\na.wav,pop\nb.wav,pop\n")
    rep = folders.scan(man)
    assert rep.counts == {"pop": 1} and [p for p, _ in rep.problems] == ["b.wav"]
    assert folders.scan(folders.from_manifest(man)).counts == {"pop": 1}
    # rows the loader refuses are listed too, and the rest still counted
    _wav(tmp_path / "c.wav")
    man.write_text("path,label\na.wav,pop\ngone.wav,pop\na.wav,rock\nc.wav,\nc.wav,jazz\n")
    with pytest.raises(DatasetError, match="4 problem"):
        folders.from_manifest(man)
    rep = folders.scan(man)
    assert rep.counts == {"pop": 1} and rep.n_files == 5
    assert [p for p, _ in rep.problems] == ["row 3", "row 4", "row 5", "row 6"]
    assert "file not found" in rep.problems[0][1] and "duplicated path" in rep.problems[1][1]


# ------------------------------------------------------------------------------------------------------
# splits
# ------------------------------------------------------------------------------------------------------

COUNTS = {"blues": 50, "classical": 40, "jazz": 30, "metal": 20, "rare": 5}


def _check_partition(ds: Dataset, parts: list[np.ndarray]) -> None:
    allidx = np.concatenate(parts)
    assert len(allidx) == len(ds) and len(np.unique(allidx)) == len(ds)  # no overlap, full coverage


def test_train_val_test_split_is_stratified_grouped_and_complete():
    ds = _synthetic(COUNTS)
    tr, va, te = splits.train_val_test_indices(ds, seed=3)
    _check_partition(ds, [tr, va, te])
    n = len(ds)
    assert abs(len(tr) / n - 0.64) < 0.03 and abs(len(va) / n - 0.16) < 0.03 and abs(len(te) / n - 0.2) < 0.03
    for label, total in COUNTS.items():
        for idx, frac in ((tr, 0.64), (va, 0.16), (te, 0.2)):
            got = int(np.sum(ds.y[idx] == label))
            assert got >= 1  # every class on every side, even the 5-track one
            assert abs(got - frac * total) <= 1.0, (label, frac, got)
    train, val, test = splits.train_val_test_split(ds, seed=3)
    assert train.track_ids == [ds.track_ids[i] for i in tr]
    assert test.root == ds.root
    splits.assert_disjoint(train, val, test)


def test_split_reproducible_by_seed():
    ds = _synthetic(COUNTS)
    a = splits.train_val_test_indices(ds, seed=11)
    b = splits.train_val_test_indices(ds, seed=11)
    c = splits.train_val_test_indices(ds, seed=12)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[2], c[2])


def test_split_by_artist_keeps_artists_on_one_side():
    ds = _synthetic({"a": 60, "b": 60, "c": 40}, artists_per_class=8, seed=5)
    assert ds.has_artists and tracks.resolve_group_by(ds, "auto") == "artist"
    train, val, test = splits.train_val_test_split(ds, seed=0)  # auto -> artist
    sides = [set(s.artists) for s in (train, val, test)]
    assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])
    splits.assert_disjoint(train, val, test, by="artist")
    assert len(train) + len(val) + len(test) == len(ds)
    for s in (train, val, test):
        assert set(s.labels) == {"a", "b", "c"}
    assert abs(len(test) / len(ds) - 0.2) < 0.08
    # by track the same data would put one artist's tracks on several sides
    t_tr, _, t_te = splits.train_val_test_split(ds, seed=0, group_by="track")
    with pytest.raises(DatasetError, match="share"):
        splits.assert_disjoint(t_tr, t_te, by="artist")


def test_segments_never_leak_across_splits():
    ds = _synthetic({"a": 30, "b": 20}, artists_per_class=5, seed=2)
    n_seg = np.random.default_rng(0).integers(1, 11, size=len(ds))  # 1-10 segments per track
    table = tracks.segment_table(ds, n_seg, group_by="artist")
    assert len(table) == n_seg.sum()
    assert table.groupby("track_index")["group"].nunique().max() == 1  # a track's segments share its group
    assert table.groupby("track_index")["segment"].max().tolist() == (n_seg - 1).tolist()
    tr, va, te = splits.train_val_test_indices(ds, seed=1, group_by="artist")
    rows = {
        name: table.index[table.track_index.isin(idx)] for name, idx in (("tr", tr), ("va", va), ("te", te))
    }
    assert sum(len(r) for r in rows.values()) == len(table)
    groups = table["group"].to_numpy()
    splits.assert_disjoint(groups[rows["tr"]], groups[rows["va"]], groups[rows["te"]])
    for a, b in (("tr", "va"), ("tr", "te"), ("va", "te")):
        assert not set(table.loc[rows[a], "track_id"]) & set(table.loc[rows[b], "track_id"])
    # a naive segment-level shuffle leaks, and the check catches it
    perm = np.random.default_rng(0).permutation(len(table))
    with pytest.raises(DatasetError, match="share"):
        splits.assert_disjoint(groups[perm[: len(perm) // 2]], groups[perm[len(perm) // 2 :]])


def test_expand_segments():
    seg = tracks.expand_segments([4, 7, 9], [2, 0, 3])
    assert seg.tolist() == [4, 4, 9, 9, 9] and seg.dtype == np.int64
    assert tracks.expand_segments(np.array([1, 2]), 2).tolist() == [1, 1, 2, 2]
    with pytest.raises(ConfigError):
        tracks.expand_segments([1, 2], [1, 2, 3])
    with pytest.raises(ConfigError):
        tracks.expand_segments([1], [-1])


def test_split_small_classes_and_bad_sizes():
    ds = _synthetic({"big": 20, "solo": 1, "duo": 2})
    with pytest.raises(DatasetError, match=r"'duo' \(2 track\(s\)\), 'solo' \(1 track\(s\)\)"):
        splits.train_val_test_split(ds)
    with pytest.warns(UserWarning, match="stay entirely in train"):
        train, val, test = splits.train_val_test_split(ds, small_classes="train")
    assert {"solo", "duo"} <= set(train.labels) and "solo" not in test.labels + val.labels
    assert test.counts()["big"] == 4 and val.counts()["big"] == 3
    # two sides only: 'duo' fits, 'solo' does not
    with pytest.raises(DatasetError, match="'solo'"):
        splits.train_val_test_split(ds, val_size=0)
    tr, va, te = splits.train_val_test_split(_synthetic({"x": 10, "y": 10}), val_size=0, test_size=0.3)
    assert len(va) == 0 and len(te) == 6 and te.counts() == {"x": 3, "y": 3}
    for bad in ({"test_size": 1.2}, {"test_size": -0.1}, {"test_size": 0.5, "val_size": 0.5}):
        with pytest.raises(ConfigError):
            splits.train_val_test_split(ds, **bad)
    with pytest.raises(ConfigError, match="valid group_bys"):
        splits.train_val_test_split(ds, group_by="album")
    with pytest.raises(DatasetError, match="empty"):
        splits.train_val_test_split(Dataset(()))


def test_grouped_kfold_covers_every_track_once():
    ds = _synthetic({"a": 25, "b": 15, "c": 10}, artists_per_class=6, seed=9)
    for by in ("track", "artist"):
        folds = splits.grouped_kfold(ds, k=5, seed=4, group_by=by)
        assert len(folds) == 5
        tests = np.concatenate([te for _, te in folds])
        assert np.array_equal(np.sort(tests), np.arange(len(ds)))  # each track exactly once as test
        g = ds.groups(by)
        for tr, te in folds:
            _check_partition(ds, [tr, te])
            assert not set(g[tr]) & set(g[te])
    folds = splits.grouped_kfold(ds, k=5, seed=4, group_by="track")
    for _, te in folds:  # stratified: 5/3/2 per fold of 25/15/10
        counts = {lab: int(np.sum(ds.y[te] == lab)) for lab in "abc"}
        assert counts == {"a": 5, "b": 3, "c": 2}
    again = splits.grouped_kfold(ds, k=5, seed=4, group_by="track")
    other = splits.grouped_kfold(ds, k=5, seed=5, group_by="track")
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(folds, again, strict=True))
    assert any(not np.array_equal(x[1], y[1]) for x, y in zip(folds, other, strict=True))
    with pytest.raises(ConfigError):
        splits.grouped_kfold(ds, k=1)
    with pytest.raises(DatasetError, match="at least 5"):
        splits.grouped_kfold(_synthetic({"a": 2, "b": 2}), k=5)
    with pytest.warns(UserWarning, match="'b'"):
        splits.grouped_kfold(_synthetic({"a": 10, "b": 3}), k=5)


# ------------------------------------------------------------------------------------------------------
# split files
# ------------------------------------------------------------------------------------------------------


@pytest.fixture
def flac_tree(tmp_path: Path) -> Dataset:
    root = tmp_path / "gtzan"
    for genre in ("blues", "rock"):
        for i in range(5):
            _wav(root / genre / f"{genre}.{i:05d}.flac", seed=i, fmt="FLAC")
    return folders.from_folder(root)


def _write_list(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_split_from_files_matches_wav_names_over_flac(flac_tree: Dataset, tmp_path: Path):
    tr = _write_list(
        tmp_path / "train.txt",
        [
            "# artist-filtered",
            "blues/blues.00000.wav",
            "blues/blues.00001.wav",
            "",
            "rock/rock.00000.wav",
            "rock/rock.00001.wav",
            "rock/rock.00001.wav",
        ],  # a repeat within one list is harmless
    )
    va = _write_list(tmp_path / "valid.txt", ["blues/blues.00002.wav", "rock/rock.00002.wav"])
    te = ["blues/blues.00003.wav", "rock/rock.00003.wav"]  # a list of strings works too
    with pytest.warns(UserWarning, match="2 of 10 tracks are in no split list"):
        sp = splits.split_from_files(flac_tree, train=tr, test=te, val=va)
    train, val, test = sp
    assert train.relpaths == [
        "blues/blues.00000.flac",
        "blues/blues.00001.flac",
        "rock/rock.00000.flac",
        "rock/rock.00001.flac",
    ]
    assert val.track_ids == ["blues/blues.00002", "rock/rock.00002"]
    assert test.track_ids == ["blues/blues.00003", "rock/rock.00003"]
    assert sp.unassigned == ("blues/blues.00004", "rock/rock.00004") and sp.test is test
    again = pickle.loads(pickle.dumps(sp))  # e.g. sent to a joblib/Dask worker
    assert again.unassigned == sp.unassigned and again.val == val
    splits.assert_disjoint(train, val, test)
    with pytest.warns(UserWarning):
        no_val = splits.split_from_files(flac_tree, train=tr, test=te)
    assert no_val.val is None and len(no_val.unassigned) == 4


def test_split_from_files_missing_entries(flac_tree: Dataset):
    missing = [f"jazz/jazz.{i:05d}.wav" for i in range(12)]
    with pytest.raises(DatasetError) as exc:
        splits.split_from_files(
            flac_tree, train=["blues/blues.00000.wav", *missing], test=["rock/rock.00000.wav"]
        )
    msg = str(exc.value)
    assert "12 split-list entries not in the dataset" in msg and "(12 in all)" in msg
    assert "jazz/jazz.00009.wav" in msg and "jazz/jazz.00010.wav" not in msg  # lists at most 10
    assert "blues/blues.00000.flac" in msg  # shows what the dataset's paths look like


def test_split_from_files_track_in_two_lists(flac_tree: Dataset):
    with pytest.raises(
        DatasetError, match=r"1 track\(s\) in two split lists: rock/rock.00001.wav \(train and test\)"
    ):
        splits.split_from_files(
            flac_tree,
            train=["blues/blues.00000.wav", "rock/rock.00001.wav"],
            test=["rock/rock.00001.wav", "blues/blues.00001.wav"],
        )


def test_split_from_files_missing_list_file(flac_tree: Dataset, tmp_path: Path):
    with pytest.raises(DatasetError, match="train split list not found"):
        splits.split_from_files(flac_tree, train=tmp_path / "nope.txt", test=[])


def test_split_lists_are_read_and_matched_once_for_datasets_and_tables(flac_tree: Dataset, tmp_path: Path):
    d = tmp_path / "lists"
    d.mkdir()
    _write_list(d / "train_filtered.txt", ["# comment", "blues/blues.00000.wav", "rock/rock.00000.wav"])
    _write_list(d / "valid_filtered.txt", ["blues/blues.00001.wav"])
    _write_list(d / "test_filtered.txt", ["rock/rock.00001.wav", "jazz/jazz.00000.wav"])
    lists = splits.read_split_lists(d)
    assert lists == {
        "train": ["blues/blues.00000.wav", "rock/rock.00000.wav"],
        "val": ["blues/blues.00001.wav"],
        "test": ["rock/rock.00001.wav", "jazz/jazz.00000.wav"],
    }
    assert splits.read_split_lists(d / "test_filtered.txt") == {"test": lists["test"]}
    with pytest.raises(DatasetError, match="needs train"):
        splits.read_split_lists(tmp_path)  # no train*.txt / test*.txt there
    with pytest.raises(DatasetError, match="split file not found"):
        splits.read_split_lists(tmp_path / "nope")
    index = {tid: i for i, tid in enumerate(flac_tree.track_ids)}
    match = splits.match_lists(
        {**lists, "test": [*lists["test"], "blues/blues.00000.wav"]},
        index,
        tracks.track_id_for,
        len(flac_tree),
    )
    assert match.side.tolist() == [0, 1, -1, -1, -1, 0, 2, -1, -1, -1]
    assert match.absent == {"test": ["jazz/jazz.00000.wav"]}
    assert match.clashes == [("blues/blues.00000.wav", 0, "train", "test")]


def test_make_split_one_type_for_tracks_and_lists(flac_tree: Dataset, tmp_path: Path):
    sp = splits.make_split(flac_tree, test_size=0.2, val_size=0.2, seed=1)
    train, val, test = sp
    assert isinstance(sp, splits.Split) and sorted(train + val + test) == sorted(flac_tree.track_ids)
    assert len(test) == 2 and len(val) == 2 and "stratified split" in sp.description
    with pytest.raises(AttributeError):
        sp.train = []  # frozen
    one = splits.make_split(flac_tree, split_file=_write_list(tmp_path / "test.txt", ["rock/rock.00002.wav"]))
    assert one.test == ["rock/rock.00002"] and len(one.train) == 9 and one.val == []
    assert one.description == f"split file {tmp_path / 'test.txt'}"


# ------------------------------------------------------------------------------------------------------
# dataset object, fingerprint
# ------------------------------------------------------------------------------------------------------


def test_dataset_selection_helpers():
    ds = _synthetic({"a": 3, "b": 2}, artists_per_class=1)
    sub = ds.subset([4, 0])
    assert sub.track_ids == ["b/b.00001", "a/a.00000"] and sub.root == ds.root
    assert ds.subset(ds.y == "b").counts() == {"b": 2}
    assert ds.indices_of(sub).tolist() == [4, 0]
    with pytest.raises(DatasetError, match="not in this dataset"):
        ds.indices_of(["zzz"])
    with pytest.raises(ConfigError):
        ds.subset([5])
    assert ds.groups("artist").tolist() == ["artist:a-artist-0"] * 3 + ["artist:b-artist-0"] * 2
    assert ds.groups("track")[0] == "track:a/a.00000"
    assert ds[1].track_id == "a/a.00001" and "n_tracks=5" in repr(ds)
    with pytest.raises(DatasetError, match="more than one track"):
        Dataset((ds[0], ds[0]))
    frame = ds.to_frame()
    assert frame.shape == (5, 5) and frame["label"].tolist() == ds.y.tolist()


def test_fingerprint_changes_with_labels_and_content(tree: Path):
    ds = folders.from_folder(tree)
    fp = tracks.fingerprint(ds)
    assert len(fp) == 32 and fp == tracks.fingerprint(ds.subset(np.arange(len(ds))[::-1]))  # order-free
    relabelled = Dataset(
        tuple(
            Track(t.path, "x" if i == 0 else t.label, t.track_id, None, t.relpath) for i, t in enumerate(ds)
        ),
        root=ds.root,
    )
    assert tracks.fingerprint(relabelled) != fp
    assert tracks.fingerprint(ds.subset([0, 1, 2])) != fp
    _wav(tree / "blues" / "b1.wav", seconds=0.2)  # same name, different content size
    assert tracks.fingerprint(ds) != fp
    (tree / "blues" / "b1.wav").unlink()
    with pytest.raises(DatasetError, match="missing"):
        tracks.fingerprint(ds)


def test_datasets_module_re_exports_the_data_floor():
    from genrekit import datasets

    assert datasets.Dataset is Dataset and datasets.load_dataset is folders.load_dataset
    assert datasets.split_from_files is splits.split_from_files and set(datasets.__all__) <= set(
        dir(datasets)
    )
