"""The demo's shipped recordings: small, licensed, decodable, classified like `genrekit classify`."""

from __future__ import annotations

import json

import soundfile as sf

from genrekit import demo


def test_shipped_recordings_are_small_licensed_and_decodable(monkeypatch):
    monkeypatch.delenv(demo.EXAMPLES_ENV, raising=False)
    recs = demo.demo_recordings()
    assert len(recs) == 3
    assert sum(p.stat().st_size for p, _ in recs) < 3 * 1024 * 1024
    licences = (demo.DEMO_AUDIO / "LICENSES.md").read_text(encoding="utf-8")
    index = json.loads((demo.DEMO_AUDIO / "index.json").read_text(encoding="utf-8"))
    for path, credit in recs:
        info = sf.info(path)
        assert 20.0 <= info.duration <= 30.0 and info.channels == 1
        assert f"`{path.name}`" in licences and index[path.name]["licence"] in credit
        assert index[path.name]["licence"] in ("CC BY 3.0", "Public Domain Mark 1.0")  # redistributable


def test_extra_folder_comes_after_the_shipped_ones(tmp_path, monkeypatch):
    (tmp_path / "b.wav").write_bytes(b"")
    (tmp_path / "a.ogg").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not audio")
    monkeypatch.setenv(demo.EXAMPLES_ENV, str(tmp_path))
    names = [p.name for p, _ in demo.demo_recordings()]
    assert names[3:] == ["a.ogg", "b.wav"] and len(names) == 5


def test_step_five_classifies_like_the_cli(monkeypatch):
    """The tagger gets the whole file through Classifier.predict, with no crop (as `classify FILE`)."""
    import genrekit.predict as predict_mod

    calls = []

    class Tagger:
        def predict(self, path, **kwargs):
            calls.append(kwargs)
            raise SystemExit(0)  # stop the demo at the first recording

    monkeypatch.setattr(predict_mod, "load_model", lambda path=None: Tagger())
    monkeypatch.delenv(demo.EXAMPLES_ENV, raising=False)
    try:
        demo._classify_real_recordings()
    except SystemExit:
        pass
    assert calls == [{}]
