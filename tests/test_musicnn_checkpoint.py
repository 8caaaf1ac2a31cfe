"""The numpy-only TF-1 checkpoint reader, on the checkpoints shipped in the musicnn wheel."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from genrekit.errors import ModelError
from genrekit.features.musicnn.checkpoint import (
    _crc_python,
    crc32c,
    list_variables,
    mask_crc,
    read_checkpoint,
    read_index,
)

MUSICNN_SHAPES = {
    "batch_normalization": (1,),
    "batch_normalization_1": (204,),
    "batch_normalization_2": (204,),
    "batch_normalization_3": (51,),
    "batch_normalization_4": (51,),
    "batch_normalization_5": (51,),
    "batch_normalization_6": (64,),
    "batch_normalization_7": (64,),
    "batch_normalization_8": (64,),
    "batch_normalization_9": (1506,),
    "batch_normalization_10": (200,),
}
MUSICNN_KERNELS = {
    "conv2d": (7, 38, 1, 204),
    "conv2d_1": (7, 67, 1, 204),
    "conv2d_2": (128, 1, 1, 51),
    "conv2d_3": (64, 1, 1, 51),
    "conv2d_4": (32, 1, 1, 51),
    "conv2d_5": (7, 561, 1, 64),
    "conv2d_6": (7, 64, 1, 64),
    "conv2d_7": (7, 64, 1, 64),
    "dense": (1506, 200),
    "dense_1": (200, 50),
}


def _expected_musicnn() -> dict[str, tuple[int, ...]]:
    out: dict[str, tuple[int, ...]] = {"beta1_power": (), "beta2_power": ()}
    for scope, shape in MUSICNN_SHAPES.items():
        for leaf in ("beta", "gamma"):
            for suffix in ("", "/Adam", "/Adam_1"):
                out[f"{scope}/{leaf}{suffix}"] = shape
        out[f"{scope}/moving_mean"] = shape
        out[f"{scope}/moving_variance"] = shape
    for scope, shape in MUSICNN_KERNELS.items():
        for suffix in ("", "/Adam", "/Adam_1"):
            out[f"{scope}/kernel{suffix}"] = shape
            out[f"{scope}/bias{suffix}"] = (shape[-1],)
    return out


def _folder(name: str) -> Path:
    return Path(str(resources.files("musicnn"))) / name


@pytest.fixture
def ckpt_copy(tmp_path: Path) -> Path:
    """A private copy of the MSD_musicnn checkpoint (index + data) to damage."""
    dst = tmp_path / "MSD_musicnn"
    dst.mkdir()
    for f in (".index", ".data-00000-of-00001"):
        shutil.copy(_folder("MSD_musicnn") / f, dst / f)
    return dst


# ---- CRC32C ---------------------------------------------------------------------------------------------
def test_crc32c_known_vectors():
    assert crc32c(b"123456789") == 0xE3069283  # the standard CRC-32C check value
    assert crc32c(b"") == 0
    assert crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4: 32 bytes of zeros
    assert crc32c(b"\xff" * 32) == 0x62A8AB43  # RFC 3720 B.4: 32 bytes of 0xff


def test_crc32c_chunked_path_matches_bytewise(rng):
    for n in (8192, 8193, 50_000, 123_457):
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert crc32c(data) == _crc_python(data, 0xFFFFFFFF) ^ 0xFFFFFFFF
    arr = rng.standard_normal(5000).astype(np.float32)
    assert crc32c(arr) == crc32c(arr.tobytes())


def test_mask_crc_rotates_and_offsets():
    assert mask_crc(0) == 0xA282EAD8
    assert mask_crc(1 << 15) == (1 + 0xA282EAD8) & 0xFFFFFFFF  # bit 15 rotates to bit 0


# ---- reading --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["MSD_musicnn", "MTT_musicnn"])
def test_list_variables_names_shapes_dtypes(name):
    variables = list_variables(_folder(name))
    expected = _expected_musicnn()
    assert set(variables) == set(expected)
    for var, (dtype, shape) in variables.items():
        assert dtype == np.float32, var
        assert shape == expected[var], var
    n_params = sum(
        int(np.prod(shape))
        for var, (_, shape) in variables.items()
        if not var.endswith(("/Adam", "/Adam_1", "moving_mean", "moving_variance", "_power"))
    )
    assert n_params == 787_159


@pytest.mark.parametrize("name", ["MSD_vgg", "MTT_vgg"])
def test_list_variables_vgg(name):
    variables = list_variables(_folder(name))
    assert len(variables) == 86
    assert variables["1CNN/kernel"][1] == (3, 3, 1, 128)
    assert variables["5CNN/kernel"][1] == (3, 3, 128, 128)
    assert variables["dense/kernel"][1] == (256, 50)


@pytest.mark.parametrize("name", ["MSD_musicnn", "MTT_musicnn"])
def test_read_checkpoint_with_crc_check(name):
    tensors = read_checkpoint(_folder(name), verify_crc=True)
    assert len(tensors) == 150
    kernel = tensors["conv2d/kernel"]
    assert kernel.shape == (7, 38, 1, 204) and kernel.dtype == np.float32
    assert np.isfinite(kernel).all() and kernel.std() > 0
    var = tensors["batch_normalization_9/moving_variance"]
    assert (var > 0).all()
    # the scalar Adam step counters (0.9 ** steps, underflowed to 0 after long training) are stored too
    assert tensors["beta1_power"].shape == () and 0 <= float(tensors["beta1_power"]) < 1


def test_msd_and_mtt_weights_differ():
    a = read_checkpoint(_folder("MSD_musicnn"), select=lambda n: n == "dense_1/kernel")
    b = read_checkpoint(_folder("MTT_musicnn"), select=lambda n: n == "dense_1/kernel")
    assert list(a) == ["dense_1/kernel"]
    assert not np.allclose(a["dense_1/kernel"], b["dense_1/kernel"])


def test_prefix_as_string_with_trailing_separator():
    folder = str(_folder("MTT_musicnn")) + "/"
    assert "dense/kernel" in list_variables(folder)


# ---- damage ---------------------------------------------------------------------------------------------
def test_missing_checkpoint(tmp_path):
    with pytest.raises(ModelError, match="cannot read checkpoint index") as exc:
        read_checkpoint(tmp_path / "nothing")
    assert "nothing.index" in str(exc.value)


def test_not_a_table(tmp_path, rng):
    (tmp_path / "x.index").write_bytes(rng.integers(0, 256, 500, dtype=np.uint8).tobytes())
    with pytest.raises(ModelError, match="magic") as exc:
        list_variables(tmp_path / "x")
    assert "x.index" in str(exc.value)


def test_truncated_index(ckpt_copy):
    index = ckpt_copy / ".index"
    data = index.read_bytes()
    index.write_bytes(data[: len(data) - 20])
    with pytest.raises(ModelError, match="corrupt checkpoint index") as exc:
        read_checkpoint(ckpt_copy)
    assert str(index) in str(exc.value)


@pytest.mark.parametrize("where", [0.1, 0.5, 0.9])
def test_flipped_byte_in_index(ckpt_copy, where):
    index = ckpt_copy / ".index"
    data = bytearray(index.read_bytes())
    pos = int(where * (len(data) - 48))
    data[pos] ^= 0x5A
    index.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="corrupt checkpoint index: .* CRC32C") as exc:
        list_variables(ckpt_copy)
    assert str(index) in str(exc.value)


def test_truncated_data(ckpt_copy):
    data_file = ckpt_copy / ".data-00000-of-00001"
    data = data_file.read_bytes()
    data_file.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="truncated checkpoint data") as exc:
        read_checkpoint(ckpt_copy)
    assert str(data_file) in str(exc.value)


def test_flipped_byte_in_data_caught_by_crc(ckpt_copy):
    data_file = ckpt_copy / ".data-00000-of-00001"
    _, entries = read_index(ckpt_copy)
    entry = entries["dense/kernel"]
    data = bytearray(data_file.read_bytes())
    data[entry.offset + entry.size // 2] ^= 0x01
    data_file.write_bytes(bytes(data))
    # without the check the damage goes unnoticed (values just differ) ...
    tensors = read_checkpoint(ckpt_copy)
    clean = read_checkpoint(_folder("MSD_musicnn"), select=lambda n: n == "dense/kernel")
    assert not np.array_equal(tensors["dense/kernel"], clean["dense/kernel"])
    # ... with it, the variable is named
    with pytest.raises(ModelError, match="'dense/kernel' fails its CRC32C") as exc:
        read_checkpoint(ckpt_copy, verify_crc=True)
    assert str(data_file) in str(exc.value)


def test_missing_data_file(ckpt_copy):
    (ckpt_copy / ".data-00000-of-00001").unlink()
    with pytest.raises(ModelError, match="cannot read checkpoint data"):
        read_checkpoint(ckpt_copy)
