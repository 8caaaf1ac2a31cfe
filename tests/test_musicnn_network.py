"""The PyTorch musicnn: parity with the original TF graph, preprocessing, and the feature extractors.

``tests/fixtures/musicnn_parity.npz`` holds outputs of the original TensorFlow graphs (made once by
``tools/make_musicnn_fixture.py``); nothing here needs TensorFlow.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from genrekit.errors import AudioError, ConfigError, ModelError
from genrekit.features.musicnn import kernels, network
from genrekit.features.musicnn.checkpoint import read_checkpoint
from genrekit.features.musicnn.extractor import MusicnnConfig
from genrekit.features.musicnn.labels import MSD_TAGS, MTT_TAGS, tag_slug
from genrekit.features.musicnn.network import (
    MODELS,
    PooledConvBlock,
    build_model,
    conv_max_over_freq,
    load_musicnn,
    load_state_from_checkpoint,
    run,
)
from genrekit.features.musicnn.preprocess import (
    frames_span,
    logmel,
    logmel_window,
    mel_patches,
    n_frames,
    patch_bounds,
    patches_from_logmel,
)
from genrekit.features.registry import extractor_from_dict, get_extractor

FIXTURE = Path(__file__).parent / "fixtures" / "musicnn_parity.npz"
SR = 16000


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    with np.load(FIXTURE) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def msd():
    return load_musicnn("MSD_musicnn")


@pytest.fixture(scope="module")
def mtt():
    return load_musicnn("MTT_musicnn")


def _square(seconds: float, freq: float = 110.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return np.sign(np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _tone(seconds: float, freq: float = 440.0, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


# ---- parity with the original TensorFlow graph ------------------------------------------------------
def test_fixture_is_small_and_complete(ref):
    assert FIXTURE.stat().st_size < 1_000_000
    assert ref["patches"].shape == (4, 187, 96) and ref["patches"].dtype == np.float32
    for model in MODELS:
        assert ref[f"{model}/taggram"].shape == (4, 50)


@pytest.mark.parametrize("name", ["MSD_musicnn", "MTT_musicnn"])
def test_musicnn_parity_with_tensorflow(ref, name, request):
    model = request.getfixturevalue(name[:3].lower())
    out = run(model, ref["patches"], midend=True)
    np.testing.assert_allclose(out["taggram"], ref[f"{name}/taggram"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(out["logits"], ref[f"{name}/logits"], rtol=0, atol=1e-3)
    np.testing.assert_allclose(out["penultimate"], ref[f"{name}/penultimate"], rtol=0, atol=1e-3)
    for key in ("mean_pool", "max_pool"):  # mid-end values reach ~80: 1e-3 abs is ~1e-5 relative
        np.testing.assert_allclose(out[key], ref[f"{name}/{key}"], rtol=0, atol=1e-3)
    # the references are not degenerate: tags differ between patches and are not all ~0
    assert ref[f"{name}/taggram"].max() > 0.3
    assert np.abs(np.diff(ref[f"{name}/taggram"], axis=0)).max() > 0.05


@pytest.mark.parametrize("name", ["MSD_vgg", "MTT_vgg"])
def test_vgg_parity_with_tensorflow(ref, name):
    out = run(load_musicnn(name), ref["patches"])
    np.testing.assert_allclose(out["taggram"], ref[f"{name}/taggram"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(out["pool5"], ref[f"{name}/pool5"], rtol=0, atol=1e-3)


def test_preprocessing_parity_with_original_recipe(ref):
    np.testing.assert_allclose(logmel(ref["signal"]), ref["signal_logmel"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(mel_patches(ref["signal"])[0], ref["patches"][0], rtol=0, atol=1e-4)


# ---- the network --------------------------------------------------------------------------------------
def test_parameter_count(msd, mtt):
    for model in (msd, mtt):
        assert sum(p.numel() for p in model.parameters()) == 787_159
        assert not model.training
    assert sum(p.numel() for p in build_model("MSD_vgg").parameters()) == 605_748


def test_loaded_once_per_process(msd):
    assert load_musicnn("MSD_musicnn") is msd


def test_unknown_model_name_lists_valid_ones():
    with pytest.raises(ConfigError, match="MSD_musicnn.*MTT_musicnn"):
        load_musicnn("MSD_musicnn_big")


@pytest.mark.parametrize("n", [1, 2, 5])
def test_output_shapes_and_batch_independence(msd, ref, n):
    rng = np.random.default_rng(n)
    patches = (rng.random((n, 187, 96)) * 4).astype(np.float32)
    out = run(msd, patches, midend=True, batch_size=2)
    assert out["taggram"].shape == (n, 50)
    assert out["penultimate"].shape == (n, 200)
    assert out["mean_pool"].shape == (n, 753) and out["max_pool"].shape == (n, 753)
    assert ((out["taggram"] > 0) & (out["taggram"] < 1)).all()
    single = run(msd, patches[-1:])
    np.testing.assert_allclose(out["taggram"][-1], single["taggram"][0], atol=1e-5)


def test_zero_patches(msd):
    out = run(msd, np.zeros((0, 187, 96), dtype=np.float32))
    assert out["taggram"].shape == (0, 50) and out["penultimate"].shape == (0, 200)


def test_other_patch_lengths_work_for_musicnn(msd):
    out = run(msd, np.ones((2, 64, 96), dtype=np.float32))
    assert out["taggram"].shape == (2, 50) and np.isfinite(out["taggram"]).all()


def test_bad_input_shape(msd):
    with pytest.raises(ModelError, match=r"\(batch, time, 96\)"):
        run(msd, np.zeros((2, 187, 80), dtype=np.float32))
    with pytest.raises(ModelError, match=r"\(batch, 187, 96\)"):
        run(load_musicnn("MTT_vgg"), np.zeros((1, 100, 96), dtype=np.float32))


def test_no_nan_on_loud_and_silent_input(msd, mtt):
    loud = mel_patches(_square(3.5))[:1]  # full-scale square wave
    silent = mel_patches(np.zeros(3 * SR, dtype=np.float32))[:1]
    assert loud.max() > 5 and silent.max() == 0
    for model in (msd, mtt):
        out = run(model, np.concatenate([loud, silent]), midend=True)
        for v in out.values():
            assert np.isfinite(v).all()
        assert not np.allclose(out["taggram"][0], out["taggram"][1], atol=1e-3)


@pytest.mark.parametrize(
    ("kernel", "pad", "block"),
    [((7, 38), (3, 3), None), ((7, 38), (3, 3), 5), ((3, 10), (1, 1), 7), ((128, 1), (63, 64), None),
     ((32, 1), (15, 16), 5), ((5, 1), (2, 2), 64)],
)  # fmt: skip
def test_toeplitz_conv_equals_conv2d(kernel, pad, block):
    gen = torch.Generator().manual_seed(sum(kernel))
    x = torch.rand((2, 23, 96 if kernel[1] > 1 else 11), generator=gen)
    w = torch.randn((6, *kernel), generator=gen)
    got = conv_max_over_freq(x, w, pad, block=block)
    ref = F.conv2d(F.pad(x[:, None], (0, 0, *pad)), w[:, None]).amax(dim=3).transpose(1, 2)
    assert got.shape == ref.shape == (2, 23, 6)
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-4)


def test_pooled_block_shortcut_is_exact_for_both_bn_signs():
    torch.manual_seed(0)
    block = PooledConvBlock(8, (4, 3), (1, 2))  # TF "same" padding of an even kernel: one more after
    with torch.no_grad():
        block.bn.weight.copy_(torch.tensor([1.0, -1.0, 0.5, -2.0, 3.0, -0.1, 0.2, -0.7]))
        block.bn.bias.normal_()
        block.bn.running_mean.normal_()
        block.bn.running_var.uniform_(0.5, 2.0)
    x = torch.randn(3, 1, 20, 12)
    block.eval()
    with torch.inference_mode():
        fast = block(x)
        plain = block.bn(torch.relu(block.conv(F.pad(x, (0, 0, 1, 2))))).amax(dim=3)
    assert fast.shape == (3, 8, 20)
    torch.testing.assert_close(fast, plain, rtol=0, atol=1e-5)
    block.train()  # the training path is the plain order (batch statistics)
    assert block(x).shape == (3, 8, 20)


def test_checkpoint_must_match_architecture():
    tensors = read_checkpoint(network.weights_dir("MTT_musicnn"))
    model = build_model("MTT_musicnn")
    load_state_from_checkpoint(model, tensors)  # the real thing loads
    extra = {**tensors, "conv2d_99/kernel": np.zeros((1,), dtype=np.float32)}
    with pytest.raises(ModelError, match="unused variables.*conv2d_99/kernel"):
        load_state_from_checkpoint(build_model("MTT_musicnn"), extra)
    missing = {k: v for k, v in tensors.items() if k != "dense_1/bias"}
    with pytest.raises(ModelError, match=r"unfilled parameters \['dense_out.bias'\]"):
        load_state_from_checkpoint(build_model("MTT_musicnn"), missing)
    wrong = {**tensors, "dense_1/kernel": np.zeros((200, 10), dtype=np.float32)}
    with pytest.raises(ModelError, match="does not fit parameter 'dense_out.weight'"):
        load_state_from_checkpoint(build_model("MTT_musicnn"), wrong)
    with pytest.raises(ModelError, match="does not fit parameter 'bns.0.bias'"):
        load_state_from_checkpoint(build_model("MTT_vgg"), tensors)


def test_missing_musicnn_package_says_how_to_install(monkeypatch):
    def missing(_name):
        raise ModuleNotFoundError("No module named 'musicnn'")

    monkeypatch.setattr(network.resources, "files", missing)
    with pytest.raises(ModelError, match=r"pip install --no-deps musicnn==0\.1\.0"):
        network.weights_dir("MSD_musicnn")


def test_torch_threads_env(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("GENREKIT_TORCH_THREADS", "1")
        network.configure_threads()
        assert torch.get_num_threads() == 1
        monkeypatch.setenv("GENREKIT_TORCH_THREADS", "many")
        with pytest.raises(ConfigError, match="GENREKIT_TORCH_THREADS"):
            network.configure_threads()
    finally:
        torch.set_num_threads(before)


# ---- kernels and precision ------------------------------------------------------------------------------
@pytest.fixture
def private_msd(msd):
    """A copy of the pretrained MSD net whose kernel choices a test may change freely."""
    import copy

    return copy.deepcopy(msd)


def _front(model) -> dict:
    return kernels._front_blocks(model)


def _force(model, choice, precision="float32"):
    for block in _front(model).values():
        block.kernels[precision] = choice(block) if callable(choice) else choice


@pytest.mark.parametrize("kernel", ["gemm", "gemm2", "gemm8", "onednn", "onednn_cl"])
def test_every_kernel_gives_the_reference_tags(private_msd, ref, kernel):
    def name(block):
        if kernel in ("gemm2", "gemm8") and block.conv.kernel_size[1] == 1:
            return {"gemm2": "gemm8", "gemm8": "gemm32"}[kernel]  # the time blocks' block sizes
        return kernel

    _force(private_msd, "gemm")
    base = run(private_msd, ref["patches"], midend=True)
    _force(private_msd, name)
    out = run(private_msd, ref["patches"], midend=True)
    np.testing.assert_allclose(out["taggram"], base["taggram"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(out["max_pool"], base["max_pool"], rtol=0, atol=1e-3)
    np.testing.assert_allclose(out["taggram"], ref["MSD_musicnn/taggram"], rtol=0, atol=1e-4)


def test_kernel_env_forces_a_family_and_rejects_unknown(private_msd, monkeypatch):
    monkeypatch.setenv("GENREKIT_MUSICNN_KERNEL", "onednn_cl")
    chosen = kernels.select(private_msd)
    assert set(chosen.values()) == {"onednn_cl"} and len(chosen) == 5
    assert kernels.kernel_info("float32")["source"] == "forced"
    monkeypatch.setenv("GENREKIT_MUSICNN_KERNEL", "GEMM")
    chosen = kernels.select(private_msd)
    assert chosen["timbral.0"] == "gemm4" and chosen["temporal.0"] == "gemm16"
    monkeypatch.setenv("GENREKIT_MUSICNN_KERNEL", "fastest")
    with pytest.raises(ConfigError, match="GENREKIT_MUSICNN_KERNEL.*'fastest'"):
        kernels.select(private_msd)


def test_kernel_choice_is_timed_once_then_cached(private_msd, monkeypatch, tmp_path):
    monkeypatch.delenv("GENREKIT_MUSICNN_KERNEL", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls = []

    def fake_timing(blocks, precision):
        calls.append(precision)
        return {n: kernels.CANDIDATES[kernels._kind(b)][-1] for n, b in blocks.items()}

    monkeypatch.setattr(kernels, "_time_blocks", fake_timing)
    first = kernels.select(private_msd)
    assert calls == ["float32"] and first["timbral.0"] == "onednn_cl"
    assert private_msd.timbral[0].kernels["float32"] == "onednn_cl"
    stored = json.loads((tmp_path / "genrekit" / "musicnn_kernels.json").read_text())
    assert [k.endswith("|float32") for k in stored] == [True]
    assert kernels.select(private_msd) == first and calls == ["float32"]  # read from the cache
    assert kernels.kernel_info("float32")["source"] == "cached"
    (tmp_path / "genrekit" / "musicnn_kernels.json").write_text('{"oops": [1, 2')  # corrupt: timed again
    assert kernels.select(private_msd) == first and len(calls) == 2
    key = kernels.machine_key("float32")  # a tampered entry naming no real kernel is not used
    (tmp_path / "genrekit" / "musicnn_kernels.json").write_text(json.dumps({key: {"timbral.0": "os.system"}}))
    assert kernels.select(private_msd) == first and len(calls) == 3


def test_unwritable_cache_never_fails(private_msd, monkeypatch, tmp_path):
    monkeypatch.delenv("GENREKIT_MUSICNN_KERNEL", raising=False)
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    monkeypatch.setattr(kernels, "_time_blocks", lambda blocks, precision: dict.fromkeys(blocks, "gemm8"))
    assert kernels.select(private_msd)["temporal.1"] == "gemm8"
    assert kernels.kernel_info()["source"] == "timed"


def test_real_timing_picks_valid_candidates(private_msd, monkeypatch):
    blocks = _front(private_msd)
    chosen = kernels._time_blocks(blocks, "float32", n_patches=1, rounds=1)
    assert set(chosen) == set(blocks)
    assert all(v in kernels.CANDIDATES[kernels._kind(blocks[k])] for k, v in chosen.items())


def test_prepared_weights_follow_parameter_changes(private_msd):
    x = torch.rand(2, 1, 40, 96, generator=torch.Generator().manual_seed(1)) * 4
    block = private_msd.timbral[1]
    with torch.inference_mode():
        before = block.pooled(x, "gemm8")
    with torch.no_grad():
        block.bn.weight.mul_(-1.0)  # flips which channels take the min: stale weights would be wrong
        block.conv.weight.mul_(0.5)
    with torch.inference_mode():
        after = block.pooled(x, "gemm8")
        plain = block.bn(torch.relu(block.conv(F.pad(x, (0, 0, 3, 3))))).amax(dim=3)
    torch.testing.assert_close(after, plain, rtol=0, atol=1e-4)
    assert (after - before).abs().max() > 0.1


def test_bfloat16_tags_close_to_float32(msd, ref, monkeypatch):
    exact = run(msd, ref["patches"])
    half = run(msd, ref["patches"], precision="bfloat16")
    assert half["taggram"].dtype == np.float32
    np.testing.assert_allclose(half["taggram"], exact["taggram"], rtol=0, atol=0.02)
    assert np.abs(half["taggram"] - exact["taggram"]).max() > 0  # it did run in another arithmetic
    monkeypatch.setenv("GENREKIT_MUSICNN_PRECISION", "bf16")
    np.testing.assert_array_equal(run(msd, ref["patches"])["taggram"], half["taggram"])
    assert kernels.kernel_info()["precision"] == "bfloat16"


def test_precision_errors_name_the_setting(msd, monkeypatch):
    with pytest.raises(ConfigError, match="int8 is not offered"):
        run(msd, np.zeros((1, 187, 96), dtype=np.float32), precision="int8")
    monkeypatch.setenv("GENREKIT_MUSICNN_PRECISION", "float16")
    with pytest.raises(ConfigError, match="GENREKIT_MUSICNN_PRECISION.*'float16'"):
        kernels.precision_setting()


def test_kernel_info_reports_the_machine(msd):
    info = network.kernel_info("float32")
    assert info["precision"] == "float32" and info["torch"] == torch.__version__
    assert set(info["kernels"]) == {"timbral.0", "timbral.1", "temporal.0", "temporal.1", "temporal.2"}
    assert isinstance(info["extensions"], list) and info["cpu"]
    assert "musicnn: float32, kernels timbral.0=" in kernels.describe(info)


# ---- preprocessing --------------------------------------------------------------------------------------
@pytest.mark.slow  # importing librosa's STFT costs seconds (numba); the fixture test covers 3 s of audio
@pytest.mark.parametrize("n", [200, 300, 16000])
def test_logmel_equals_librosa_melspectrogram(n):
    import librosa

    y = (np.random.default_rng(n).standard_normal(n) * 0.3).astype(np.float32)
    mode = "reflect" if n > 256 else "constant"
    with warnings.catch_warnings():  # librosa warns that n_fft=512 exceeds the shortest signals
        warnings.simplefilter("ignore", UserWarning)
        mel = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=512, hop_length=256, n_mels=96, pad_mode=mode)
    np.testing.assert_allclose(logmel(y), np.log10(10000 * mel.T + 1), rtol=0, atol=1e-5)


def test_package_import_is_lazy():
    import subprocess
    import sys

    code = "import sys, genrekit.features.musicnn as m; m.MSD_TAGS; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_logmel_shape_and_range():
    spec = logmel(_tone(3.0))
    assert spec.shape == (n_frames(3 * SR), 96) == (188, 96)
    assert spec.dtype == np.float32 and spec.min() >= 0
    # 96 Slaney bands up to 8 kHz are ~31 Hz apart below 1 kHz: a 440 Hz tone peaks in band 13
    assert int(np.argmax(spec[90])) == 13


@pytest.mark.parametrize("n", [SR * 4, SR * 4 + 77, 3 * SR + 100])
def test_logmel_window_equals_the_whole_logmel(n):
    y = (np.random.default_rng(n).standard_normal(n) * 0.2).astype(np.float32)
    whole = logmel(y)
    last = len(whole)
    for first, count in [(0, 187), (3, 100), (last - 187, 187), (last - 40, 40), (last - 1, 1)]:
        lo, hi = frames_span(first, count, n)
        got = logmel_window(y[lo:hi], start=lo, n_samples=n, first=first, count=count)
        np.testing.assert_allclose(got, whole[first : first + count], rtol=0, atol=1e-4)
        a = max(0, lo - 999)
        wider = logmel_window(y[a:], start=a, n_samples=n, first=first, count=count)
        np.testing.assert_allclose(wider, got, rtol=0, atol=1e-4)
    with pytest.raises(ConfigError, match="cannot give frames"):
        logmel_window(y[300:], start=300, n_samples=n, first=0, count=10)  # misses the start
    with pytest.raises(ConfigError, match="cannot give frames"):
        logmel_window(y, start=0, n_samples=n, first=len(whole) - 5, count=10)  # past the last frame


def test_patches_of_30s_clip_no_overlap_and_overlap():
    y = _tone(30.0)
    assert n_frames(len(y)) == 1876
    assert mel_patches(y).shape == (10, 187, 96)  # tail of 6 frames dropped, as the original
    half = mel_patches(y, hop_frames=93)
    assert half.shape == (19, 187, 96)
    # patch 2 at hop 93 starts at frame 186, patch 1 at hop 187 starts at 187: they differ by one frame
    np.testing.assert_array_equal(half[2][1:], mel_patches(y)[1][:-1])


def test_short_clip_padding():
    spec = np.arange(50 * 96, dtype=np.float32).reshape(50, 96)
    rep = patches_from_logmel(spec, pad="repeat")
    assert rep.shape == (1, 187, 96)
    np.testing.assert_array_equal(rep[0, :50], spec)
    np.testing.assert_array_equal(rep[0, 50:100], spec)
    np.testing.assert_array_equal(rep[0, 150:187], spec[:37])
    zero = patches_from_logmel(spec, pad="zero")
    np.testing.assert_array_equal(zero[0, :50], spec)
    assert not zero[0, 50:].any()
    assert patches_from_logmel(spec, pad="drop").shape == (0, 187, 96)
    assert mel_patches(np.zeros(0, dtype=np.float32)).shape == (0, 187, 96)
    assert mel_patches(_tone(0.01)).shape == (1, 187, 96)


def test_tail_patch_rule():
    # 187 + 100 frames: a tail of >= half a patch gets its own (padded) patch, a shorter one does not
    assert patch_bounds(287).tolist() == [[0, 187], [187, 287]]
    assert patch_bounds(270).tolist() == [[0, 187]]
    assert patch_bounds(287, pad="drop").tolist() == [[0, 187]]


def test_logmel_rejects_bad_audio():
    with pytest.raises(AudioError, match="NaN or infinite"):
        logmel(np.array([0.0, np.nan, 0.0] * 200, dtype=np.float32))
    with pytest.raises(AudioError, match="mono"):
        logmel(np.zeros((100, 2), dtype=np.float32))


# ---- labels ---------------------------------------------------------------------------------------------
def test_labels_are_the_original_order():
    from musicnn import configuration  # constants only: imports no TensorFlow

    assert list(MSD_TAGS) == configuration.MSD_LABELS
    assert list(MTT_TAGS) == configuration.MTT_LABELS
    for tags in (MSD_TAGS, MTT_TAGS):
        assert len({tag_slug(t) for t in tags}) == 50
    assert tag_slug("Hip-Hop") == "hip_hop" and tag_slug("female vocalists") == "female_vocalists"


# ---- extractors -----------------------------------------------------------------------------------------
def test_extractor_via_registry_embedding():
    ext = get_extractor("musicnn-msd")
    y = _tone(9.5, sr=22050)
    feats = ext(y, 22050)
    times = ext.segment_times(len(y), 22050)
    assert feats.shape == (3, 200) == (len(times), ext.dim)
    assert ext.names[0] == "msd_emb_000" and ext.names[-1] == "msd_emb_199"
    np.testing.assert_allclose(times[:, 0], [0.0, 2.992, 5.984])
    np.testing.assert_allclose(times[:, 1], [2.992, 5.984, 8.976])
    again = extractor_from_dict(ext.to_dict())
    assert type(again) is type(ext) and again.config == ext.config
    np.testing.assert_array_equal(again(y, 22050), feats)


def test_extractor_tags_match_network(mtt):
    ext = get_extractor("musicnn-mtt", output="tags")
    y = _tone(3.2)
    probs = ext(y, SR)
    assert ext.names[:3] == ["mtt_tag_guitar", "mtt_tag_classical", "mtt_tag_slow"]
    assert ext.tags == {"mtt": MTT_TAGS}
    np.testing.assert_allclose(probs, run(mtt, mel_patches(y))["taggram"], atol=1e-6)
    assert ((probs >= 0) & (probs <= 1)).all()


def test_extractor_both_models_columns_and_midend():
    ext = get_extractor("musicnn", output="both", pooled_midend=True)
    per_model = 200 + 50 + 2 * 753
    assert ext.dim == 2 * per_model and len(set(ext.names)) == ext.dim
    assert ext.names[200] == "msd_tag_rock" and ext.names[per_model] == "mtt_emb_000"
    assert ext.names[250] == "msd_midmean_000" and ext.names[-1] == "mtt_midmax_752"
    feats = ext(_tone(3.0), SR)
    assert feats.shape == (1, ext.dim) and np.isfinite(feats).all()


def test_extract_many_batches_and_splits():
    ext = get_extractor("musicnn-msd", output="tags")
    signals = [_tone(6.1), _tone(1.0, 220.0), _tone(3.1, 880.0)]
    many = ext.extract_many(signals, SR)
    assert [m.shape for m in many] == [(2, 50), (1, 50), (1, 50)]
    for m, y in zip(many, signals, strict=True):
        np.testing.assert_allclose(m, ext(y, SR), atol=1e-5)
    assert ext.extract_many([], SR) == []


def test_segment_times_follow_patches_with_overlap():
    ext = get_extractor("musicnn-msd", hop_s=1.5)
    y = _tone(7.0)
    times = ext.segment_times(len(y), SR)
    # 438 frames, patches every 94 frames (1.5 s rounded to frames): starts 0, 94, 188; the 63-frame
    # tail after frame 375 is shorter than half a patch
    assert ext.config.hop_frames == 94
    assert len(times) == len(ext.patches(y)) == len(ext(y, SR)) == 3
    np.testing.assert_allclose(times[:, 0], np.arange(3) * 94 * 256 / SR)
    np.testing.assert_allclose(times[:, 1], (np.arange(3) * 94 + 187) * 256 / SR)
    short = ext.segment_times(SR, SR)  # 1 s: one padded patch covering the whole clip
    np.testing.assert_allclose(short, [[0.0, 1.0]])


def test_extractor_config_errors():
    with pytest.raises(ConfigError, match="sr=16000"):
        get_extractor("musicnn-msd", sr=22050)
    with pytest.raises(ConfigError, match="'embedding', 'tags', 'both'"):
        get_extractor("musicnn-msd", output="genres")
    with pytest.raises(ConfigError, match="segment_s"):
        MusicnnConfig(segment_s=None)
    with pytest.raises(ConfigError, match="bad option"):
        get_extractor("musicnn-msd", n_mels=128)
