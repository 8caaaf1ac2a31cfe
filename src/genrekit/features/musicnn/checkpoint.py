"""Read TensorFlow-1 checkpoints (tensor bundles) with numpy only, no TensorFlow.

A checkpoint ``PREFIX`` is two files: ``PREFIX.index``, a LevelDB-style sorted string table mapping each
variable name to a ``BundleEntryProto`` (dtype, shape, shard, offset, size, masked CRC32C), and
``PREFIX.data-00000-of-00001`` with the raw little-endian tensor bytes. The musicnn wheel stores its
models as ``musicnn/<MODEL>/.index`` etc., i.e. with the *directory* as prefix (the basename is empty).

Layout of the ``.index`` table (what this module decodes):

- a 48-byte footer: metaindex block handle, index block handle (two varints each), zero padding,
  then the magic number 0xdb4775248b80fb57 as a little-endian uint64;
- blocks of prefix-compressed entries ``varint shared, varint non_shared, varint value_len, key delta,
  value``, then ``uint32`` restart offsets and their ``uint32`` count; each block is followed by a
  5-byte trailer: compression type (0 = none) and the masked CRC32C of block + type byte;
- the index block maps separator keys to data-block handles; the data blocks map variable names to
  ``BundleEntryProto`` messages; the empty key holds the ``BundleHeaderProto`` (shard count, endianness).

The CRC32C (Castagnoli) is table-driven, vectorised over chunks with numpy for large tensors; the
index blocks (a few KB) are always checked, the tensor data only with ``verify_crc=True``.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genrekit.errors import ModelError

__all__ = [
    "TensorEntry",
    "crc32c",
    "list_variables",
    "mask_crc",
    "read_checkpoint",
    "read_index",
]

_MAGIC = 0xDB4775248B80FB57
_FOOTER_LEN = 48
_TRAILER_LEN = 5

#: TensorFlow ``DataType`` enum -> numpy dtype (little-endian); DT_STRING, DT_BFLOAT16 etc. unsupported.
#: A table of facts from TensorFlow's ``types.proto``, one a line: its rows are alike in shape only.
_DTYPES: dict[int, np.dtype] = {
    1: np.dtype("<f4"),  # DT_FLOAT
    2: np.dtype("<f8"),  # DT_DOUBLE
    3: np.dtype("<i4"),  # DT_INT32
    4: np.dtype("u1"),  # DT_UINT8
    5: np.dtype("<i2"),  # DT_INT16
    6: np.dtype("i1"),  # DT_INT8
    9: np.dtype("<i8"),  # DT_INT64
    10: np.dtype("?"),  # DT_BOOL
    17: np.dtype("<u2"),  # DT_UINT16
    19: np.dtype("<f2"),  # DT_HALF
    22: np.dtype("<u4"),  # DT_UINT32
    23: np.dtype("<u8"),  # DT_UINT64
}


# ---- CRC32C ---------------------------------------------------------------------------------------------
def _make_table() -> np.ndarray:
    poly = 0x82F63B78  # Castagnoli, reflected
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table[i] = c
    return table


_TABLE = _make_table()
_TABLE_LIST = [int(v) for v in _TABLE]


def _crc_python(data: bytes | memoryview, crc: int = 0) -> int:
    """Raw reflected CRC32C register update (no init/final xor) over ``data``."""
    t = _TABLE_LIST
    for b in bytes(data):
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def _advance_matrix(n_zero_bytes: int) -> list[int]:
    """Images of the 32 basis register states after ``n_zero_bytes`` zero bytes (a GF(2) matrix)."""
    s = (np.uint32(1) << np.arange(32, dtype=np.uint32)).astype(np.uint32)
    for _ in range(n_zero_bytes):
        s = _TABLE[s & 0xFF] ^ (s >> np.uint32(8))
    return [int(v) for v in s]


def _apply(matrix: list[int], state: int) -> int:
    out = 0
    b = 0
    while state:
        if state & 1:
            out ^= matrix[b]
        state >>= 1
        b += 1
    return out


def crc32c(data: bytes | bytearray | memoryview | np.ndarray) -> int:
    """CRC32C (Castagnoli) of ``data``, as used by LevelDB and TensorFlow (init and final xor 0xFFFFFFFF).

    Large buffers are cut into equal chunks whose raw CRCs are computed in parallel with numpy and then
    combined through the linear "advance by L zero bytes" operator, so a 10 MB tensor takes tens of ms.

    Parameters
    ----------
    data : bytes-like or np.ndarray
        The bytes (an array is taken as its raw bytes).

    Returns
    -------
    int
        The unmasked CRC, 0 <= crc < 2**32.
    """
    buf = (
        np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
        if not isinstance(data, np.ndarray)
        else (np.ascontiguousarray(data).reshape(-1).view(np.uint8))
    )
    n = buf.size
    if n < 8192:
        return _crc_python(buf.tobytes(), 0xFFFFFFFF) ^ 0xFFFFFFFF
    # init 0xFFFFFFFF == complementing the first 4 bytes from a zero register (reflected CRC);
    # leading zero bytes leave a zero register unchanged, so pad at the front to a multiple of L.
    chunk = max(256, int(np.sqrt(0.3 * n)))
    n_chunks = -(-n // chunk)
    msg = np.zeros(n_chunks * chunk, dtype=np.uint8)
    msg[msg.size - n :] = buf
    msg[msg.size - n : msg.size - n + 4] ^= 0xFF
    rows = msg.reshape(n_chunks, chunk).T.copy()  # (chunk, n_chunks): row j = byte j of every chunk
    state = np.zeros(n_chunks, dtype=np.uint32)
    shift = np.uint32(8)
    for j in range(chunk):
        state = _TABLE[(state ^ rows[j]) & 0xFF] ^ (state >> shift)
    matrix = _advance_matrix(chunk)
    crc = 0
    for part in state.tolist():
        crc = _apply(matrix, crc) ^ part
    return crc ^ 0xFFFFFFFF


def mask_crc(crc: int) -> int:
    """TensorFlow/LevelDB CRC mask: rotate right by 15 bits and add 0xa282ead8 (mod 2**32)."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


# ---- protobuf / table decoding --------------------------------------------------------------------------
class _Corrupt(Exception):
    """Internal: raised while parsing; turned into ModelError naming the file."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise _Corrupt("varint runs past the end of its buffer")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise _Corrupt("varint longer than 10 bytes")


def _fields(buf: bytes) -> Iterable[tuple[int, int, int | bytes]]:
    """Yield ``(field_number, wire_type, value)`` of a protobuf message (varint, 64-bit, bytes, 32-bit)."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            if pos + 8 > len(buf):
                raise _Corrupt("truncated fixed64 field")
            value = struct.unpack_from("<Q", buf, pos)[0]
            pos += 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > len(buf):
                raise _Corrupt("length-delimited field runs past its message")
            value = bytes(buf[pos : pos + length])
            pos += length
        elif wire == 5:
            if pos + 4 > len(buf):
                raise _Corrupt("truncated fixed32 field")
            value = struct.unpack_from("<I", buf, pos)[0]
            pos += 4
        else:
            raise _Corrupt(f"unsupported protobuf wire type {wire}")
        yield field, wire, value


def _signed64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


@dataclass(frozen=True)
class TensorEntry:
    """One variable of a checkpoint, as described by its ``BundleEntryProto``."""

    name: str
    dtype: int  # TensorFlow DataType enum value
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c_masked: int | None

    @property
    def np_dtype(self) -> np.dtype:
        if self.dtype not in _DTYPES:
            raise _Corrupt(f"variable {self.name!r} has unsupported TensorFlow dtype {self.dtype}")
        return _DTYPES[self.dtype]


def _parse_shape(buf: bytes) -> tuple[int, ...]:
    dims: list[int] = []
    for field, wire, value in _fields(buf):
        if field == 2 and wire == 2:
            size = 0
            for f2, w2, v2 in _fields(value):  # type: ignore[arg-type]
                if f2 == 1 and w2 == 0:
                    size = _signed64(int(v2))  # type: ignore[arg-type]
            if size < 0:
                raise _Corrupt("tensor shape with unknown (negative) dimension")
            dims.append(size)
        elif field == 3 and value:
            raise _Corrupt("tensor shape of unknown rank")
    return tuple(dims)


def _parse_entry(name: str, buf: bytes) -> TensorEntry:
    dtype, shape, shard, offset, size, crc = 0, (), 0, 0, 0, None
    for field, wire, value in _fields(buf):
        if field == 1 and wire == 0:
            dtype = int(value)  # type: ignore[arg-type]
        elif field == 2 and wire == 2:
            shape = _parse_shape(value)  # type: ignore[arg-type]
        elif field == 3 and wire == 0:
            shard = int(value)  # type: ignore[arg-type]
        elif field == 4 and wire == 0:
            offset = _signed64(int(value))  # type: ignore[arg-type]
        elif field == 5 and wire == 0:
            size = _signed64(int(value))  # type: ignore[arg-type]
        elif field == 6 and wire == 5:
            crc = int(value)  # type: ignore[arg-type]
        elif field == 7:
            raise _Corrupt(f"variable {name!r} is stored as slices, which are not supported")
    if offset < 0 or size < 0:
        raise _Corrupt(f"variable {name!r} has a negative offset or size")
    return TensorEntry(name, dtype, shape, shard, offset, size, crc)


def _block(data: bytes, offset: int, size: int, *, what: str) -> bytes:
    """Contents of the block at ``offset`` (``size`` bytes + 5-byte trailer), its checksum verified."""
    end = offset + size
    if offset < 0 or end + _TRAILER_LEN > len(data):
        raise _Corrupt(f"{what} block [{offset}, {end}) lies outside the file ({len(data)} bytes)")
    contents = data[offset:end]
    ctype = data[end]
    if ctype != 0:
        raise _Corrupt(f"{what} block uses compression type {ctype}; only uncompressed blocks are supported")
    stored = struct.unpack_from("<I", data, end + 1)[0]
    actual = mask_crc(_crc_python(data[offset : end + 1], 0xFFFFFFFF) ^ 0xFFFFFFFF)
    if stored != actual:
        raise _Corrupt(f"{what} block at offset {offset} fails its CRC32C check")
    return contents


def _block_entries(block: bytes) -> list[tuple[bytes, bytes]]:
    if len(block) < 4:
        raise _Corrupt("block shorter than its restart count")
    n_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    limit = len(block) - 4 - 4 * n_restarts
    if limit < 0:
        raise _Corrupt("block restart array larger than the block")
    entries: list[tuple[bytes, bytes]] = []
    pos = 0
    key = b""
    while pos < limit:
        shared, pos = _varint(block, pos)
        non_shared, pos = _varint(block, pos)
        value_len, pos = _varint(block, pos)
        if shared > len(key) or pos + non_shared + value_len > limit:
            raise _Corrupt("block entry runs past its block")
        key = key[:shared] + block[pos : pos + non_shared]
        pos += non_shared
        entries.append((key, block[pos : pos + value_len]))
        pos += value_len
    return entries


def _files(prefix: str | os.PathLike) -> tuple[str, str]:
    """``(prefix string, index path)``; a directory given as prefix means the empty basename."""
    p = os.fspath(prefix)
    if os.path.isdir(p) and not p.endswith(os.sep):
        p += os.sep
    return p, p + ".index"


def read_index(prefix: str | os.PathLike) -> tuple[int, dict[str, TensorEntry]]:
    """Parse ``PREFIX.index``.

    Parameters
    ----------
    prefix : str or path
        Checkpoint prefix; an existing directory stands for ``directory/`` (empty basename).

    Returns
    -------
    num_shards : int
    entries : dict of str to TensorEntry
        In the table's (sorted) order.

    Raises
    ------
    ModelError
        Missing, truncated or corrupt index file (the message names it).
    """
    _, index_path = _files(prefix)
    try:
        data = Path(index_path).read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read checkpoint index: {exc.strerror}", source=index_path) from None
    try:
        if len(data) < _FOOTER_LEN:
            raise _Corrupt(f"file of {len(data)} bytes is shorter than the 48-byte table footer")
        footer = data[-_FOOTER_LEN:]
        if struct.unpack_from("<Q", footer, 40)[0] != _MAGIC:
            raise _Corrupt("bad table magic number (not a TensorFlow checkpoint index, or truncated)")
        meta_off, pos = _varint(footer, 0)
        meta_size, pos = _varint(footer, pos)
        idx_off, pos = _varint(footer, pos)
        idx_size, pos = _varint(footer, pos)
        body = data[: len(data) - _FOOTER_LEN]
        _block(body, meta_off, meta_size, what="metaindex")  # unused by bundles, but checked
        index_block = _block(body, idx_off, idx_size, what="index")
        num_shards = 1
        entries: dict[str, TensorEntry] = {}
        for _, handle in _block_entries(index_block):
            off, p = _varint(handle, 0)
            size, _ = _varint(handle, p)
            for key, value in _block_entries(_block(body, off, size, what="data")):
                if key == b"":
                    for field, wire, v in _fields(value):
                        if field == 1 and wire == 0:
                            num_shards = int(v)  # type: ignore[arg-type]
                        elif field == 2 and wire == 0 and v != 0:
                            raise _Corrupt("checkpoint written big-endian; only little-endian is supported")
                    continue
                name = key.decode("utf-8")
                entries[name] = _parse_entry(name, value)
        if num_shards < 1:
            raise _Corrupt(f"header claims {num_shards} shards")
        for e in entries.values():
            if not 0 <= e.shard_id < num_shards:
                raise _Corrupt(f"variable {e.name!r} is in shard {e.shard_id} of {num_shards}")
    except (_Corrupt, UnicodeDecodeError, struct.error, IndexError) as exc:
        raise ModelError(f"corrupt checkpoint index: {exc}", source=index_path) from None
    return num_shards, entries


def list_variables(prefix: str | os.PathLike) -> dict[str, tuple[np.dtype, tuple[int, ...]]]:
    """Names, numpy dtypes and shapes of the variables of a checkpoint (reads only the index).

    Returns
    -------
    dict of str to (np.dtype, tuple of int)
    """
    _, entries = read_index(prefix)
    out: dict[str, tuple[np.dtype, tuple[int, ...]]] = {}
    for name, e in entries.items():
        try:
            out[name] = (e.np_dtype, e.shape)
        except _Corrupt as exc:
            raise ModelError(str(exc), source=_files(prefix)[1]) from None
    return out


def read_checkpoint(
    prefix: str | os.PathLike,
    *,
    verify_crc: bool = False,
    select: Callable[[str], bool] | None = None,
) -> dict[str, np.ndarray]:
    """Read the variables of a TF-1 checkpoint into numpy arrays.

    Parameters
    ----------
    prefix : str or path
        Checkpoint prefix (``PREFIX.index`` and ``PREFIX.data-SSSSS-of-NNNNN`` must exist); an existing
        directory stands for ``directory/``, the layout of the musicnn wheel.
    verify_crc : bool
        Check every tensor against the masked CRC32C stored in the index (about 0.1 s per 10 MB).
    select : callable, optional
        Read only the variables whose name it accepts (e.g. skip optimizer slots).

    Returns
    -------
    dict of str to np.ndarray
        Name -> array of the stored dtype and shape (a writable copy).

    Raises
    ------
    ModelError
        Missing, truncated or corrupt index or data file, or a CRC mismatch (the message names the file).
    """
    p, _ = _files(prefix)
    num_shards, entries = read_index(prefix)
    wanted = [e for e in entries.values() if select is None or select(e.name)]
    out: dict[str, np.ndarray] = {}
    shards: dict[int, bytes] = {}
    for e in wanted:
        path = f"{p}.data-{e.shard_id:05d}-of-{num_shards:05d}"
        if e.shard_id not in shards:
            try:
                shards[e.shard_id] = Path(path).read_bytes()
            except OSError as exc:
                raise ModelError(f"cannot read checkpoint data: {exc.strerror}", source=path) from None
        data = shards[e.shard_id]
        try:
            dtype = e.np_dtype
        except _Corrupt as exc:
            raise ModelError(str(exc), source=path) from None
        n_items = int(np.prod(e.shape, dtype=np.int64))
        if n_items * dtype.itemsize != e.size:
            raise ModelError(
                f"variable {e.name!r}: shape {e.shape} of {dtype} needs {n_items * dtype.itemsize} bytes "
                f"but the index records {e.size}",
                source=path,
            )
        if e.offset + e.size > len(data):
            raise ModelError(
                f"truncated checkpoint data: variable {e.name!r} needs bytes "
                f"[{e.offset}, {e.offset + e.size}) but the file has {len(data)}",
                source=path,
            )
        raw = memoryview(data)[e.offset : e.offset + e.size]
        if verify_crc and e.crc32c_masked is not None and mask_crc(crc32c(raw)) != e.crc32c_masked:
            raise ModelError(
                f"corrupt checkpoint data: variable {e.name!r} fails its CRC32C check", source=path
            )
        out[e.name] = np.frombuffer(raw, dtype=dtype).reshape(e.shape).copy()
    return out
