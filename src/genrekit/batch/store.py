"""The output store of a batch run: parquet part files, the meta file, the lock, and reading results."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from genrekit.config import genrekit_version
from genrekit.errors import ConfigError, DatasetError
from genrekit.files import atomic_write_bytes

META_NAME = "_meta.json"


LOCK_NAME = "_lock"


PART_PREFIX = "part-"


FORMAT = "genrekit-batch"


FORMAT_VERSION = 1


# ========================================================================================================
# output store
# ========================================================================================================
def _schema(kind: str, per_segment: bool) -> Any:
    import pyarrow as pa

    cols = [
        ("path", pa.string()),
        ("label", pa.string()),
        ("size", pa.int64()),
        ("mtime_ns", pa.int64()),
        ("hash", pa.string()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("duration_s", pa.float64()),
        ("n_segments", pa.int32()),
    ]
    if kind == "classify":
        cols += [
            ("genre", pa.string()),
            ("confidence", pa.float64()),
            ("top_genres", pa.list_(pa.string())),
            ("top_probs", pa.list_(pa.float64())),
        ]
    else:
        if per_segment:
            cols += [("segment", pa.int32()), ("start_s", pa.float64()), ("end_s", pa.float64())]
        cols += [("features", pa.list_(pa.float32()))]
    cols += [("model", pa.string()), ("elapsed_s", pa.float64()), ("worker", pa.string())]
    return pa.schema(cols)


def rows_to_table(rows: list[dict[str, Any]], schema: Any) -> Any:
    """A pyarrow Table of ``rows`` with every column of ``schema`` (missing values are null)."""
    import pyarrow as pa

    arrays = []
    for f in schema:
        vals = [r.get(f.name) for r in rows]
        if pa.types.is_list(f.type) and pa.types.is_floating(f.type.value_type):
            vals = [
                None if v is None else np.asarray(v, dtype=f.type.value_type.to_pandas_dtype()) for v in vals
            ]
        arrays.append(pa.array(vals, type=f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


@dataclass(frozen=True)
class _Done:
    size: int | None
    mtime_ns: int | None
    hash: str | None
    status: str
    label: str | None = None


def _part_files(out: Path) -> list[Path]:
    return sorted(p for p in out.glob(f"{PART_PREFIX}*.parquet") if p.name[len(PART_PREFIX) : -8].isdigit())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ResultStore:
    """The output directory: meta, lock, atomic part files and the index of what is done.

    Raises
    ------
    ConfigError
        The location cannot be written, is a file, is a non-empty folder that is not a batch output, is
        in use by another live run, or holds results of a different job.
    """

    def __init__(self, out: str | os.PathLike) -> None:
        self.out = Path(os.path.abspath(out))
        self._created = False
        self._locked = False
        self._next = 0
        self.parts_written = 0

    # ---- location and lock ------------------------------------------------------------------------
    def acquire(self) -> None:
        out = self.out
        if out.exists() and not out.is_dir():
            raise ConfigError(
                "output exists and is not a folder; a batch output is a folder of parquet parts "
                "(give a new path, e.g. results.parquet, which becomes that folder)",
                source=out,
            )
        if out.is_dir():
            foreign = [
                p.name
                for p in out.iterdir()
                if p.name not in (META_NAME, LOCK_NAME) and not p.name.startswith((PART_PREFIX, ".part-"))
            ]
            if foreign and not (out / META_NAME).exists():
                raise ConfigError(
                    f"output folder is not empty and is not a genrekit batch output (it holds {foreign[0]!r}"
                    f"{' and more' if len(foreign) > 1 else ''}); give a new or empty folder",
                    source=out,
                )
        else:
            try:
                out.mkdir(parents=True)
            except OSError as exc:
                raise ConfigError(
                    f"cannot create the output folder: {exc.strerror or exc}", source=out
                ) from None
            self._created = True
        self._take_lock()
        for tmp in out.glob(".part-*.tmp"):  # left by a crashed run
            with contextlib.suppress(OSError):
                tmp.unlink()

    def _take_lock(self) -> None:
        lock = self.out / LOCK_NAME
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": _now()}
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    other = json.loads(lock.read_text())
                except (OSError, ValueError):
                    other = {}
                stale = other.get("host") == socket.gethostname() and not _pid_alive(
                    int(other.get("pid", -1))
                )
                if not stale:
                    raise ConfigError(
                        f"output is in use by another batch run (pid {other.get('pid', '?')} on "
                        f"{other.get('host', '?')}, started {other.get('started', '?')}); if no such run is "
                        f"alive, delete {lock}",
                        source=self.out,
                    ) from None
                with contextlib.suppress(OSError):
                    lock.unlink()
                continue
            except OSError as exc:
                raise ConfigError(
                    f"cannot write to the output folder: {exc.strerror or exc}", source=self.out
                ) from None
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self._locked = True
            return
        raise ConfigError("could not take the output lock", source=self.out)  # pragma: no cover

    def release(self, *, failed: bool = False) -> None:
        """Remove the lock (and the folder itself when this run created it and wrote nothing)."""
        if self._locked:
            with contextlib.suppress(OSError):
                (self.out / LOCK_NAME).unlink()
            self._locked = False
        if failed and self._created and not _part_files(self.out):
            for p in (self.out / META_NAME,):
                with contextlib.suppress(OSError):
                    p.unlink()
            with contextlib.suppress(OSError):
                self.out.rmdir()

    # ---- meta ---------------------------------------------------------------------------------------
    def open(self, signature: dict[str, Any], extra: dict[str, Any]) -> None:
        """Write ``_meta.json``, or check that an existing one describes the same job."""
        meta_path = self.out / META_NAME
        if meta_path.exists():
            meta = read_meta(self.out)
            old = meta.get("signature", {})
            if old != signature:
                diffs = sorted(k for k in set(old) | set(signature) if old.get(k) != signature.get(k))
                detail = "; ".join(
                    f"{k}: output has {old.get(k)!r}, this run {signature.get(k)!r}" for k in diffs
                )
                raise ConfigError(
                    f"output was written by a different job ({detail}); resume with the same command, or "
                    "give another --out",
                    source=self.out,
                )
        else:

            meta = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "signature": signature,
                "genrekit_version": genrekit_version(),
                "created": _now(),
                **extra,
            }
            atomic_write_bytes(meta_path, json.dumps(meta, indent=2).encode())
        parts = _part_files(self.out)
        self._next = int(parts[-1].name[len(PART_PREFIX) : -8]) + 1 if parts else 0

    def index(self) -> dict[str, _Done]:
        """Latest ``(size, mtime_ns, hash, status)`` per path over all parts (later parts win)."""
        import pyarrow.parquet as pq

        done: dict[str, _Done] = {}
        for part in _part_files(self.out):
            try:
                t = pq.read_table(part, columns=["path", "size", "mtime_ns", "hash", "status", "label"])
            except Exception as exc:  # noqa: BLE001 - a damaged part: say which
                raise DatasetError(
                    f"cannot read part file: {exc}; delete it to redo its files", source=part
                ) from None
            cols = t.to_pydict()
            for p, s, m, h, st, lab in zip(
                cols["path"],
                cols["size"],
                cols["mtime_ns"],
                cols["hash"],
                cols["status"],
                cols["label"],
                strict=True,
            ):
                done[p] = _Done(s, m, h, st, lab)  # later parts supersede earlier ones
        return done

    def write_part(self, table: Any) -> Path:
        """Write one part atomically (temporary name, fsync, rename)."""
        import pyarrow.parquet as pq

        name = f"{PART_PREFIX}{self._next:05d}.parquet"
        final = self.out / name
        tmp = self.out / f".{name}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            pq.write_table(table, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        self._next += 1
        self.parts_written += 1
        return final


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def read_meta(out: str | os.PathLike) -> dict[str, Any]:
    """The ``_meta.json`` of a batch output.

    Raises
    ------
    DatasetError
        No batch output there, or its meta file is unreadable or foreign.
    """
    path = Path(out) / META_NAME
    if not path.is_file():
        raise DatasetError(f"not a genrekit batch output (no {META_NAME})", source=out)
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DatasetError(f"unreadable {META_NAME}: {exc}", source=out) from None
    if meta.get("format") != FORMAT:
        raise DatasetError(f"{META_NAME} is not a genrekit batch description", source=out)
    return meta


def read_results(out: str | os.PathLike, *, all_attempts: bool = False) -> Any:
    """All rows of a batch output as a DataFrame, one attempt per file (the latest), sorted by path.

    Parameters
    ----------
    out : path
        The output folder.
    all_attempts : bool
        Keep superseded rows too, with a ``part`` column saying which part each row came from.

    Returns
    -------
    pandas.DataFrame
        The columns of the job's schema (see ``docs/batch.md``). With ``per_segment`` features, one row
        per (path, segment).
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta = read_meta(out)
    sig = meta.get("signature", {})
    schema = _schema(sig.get("kind", "classify"), bool(sig.get("per_segment")))
    tables = []
    for part in _part_files(Path(out)):
        t = pq.read_table(part)
        t = t.append_column("part", pa.array([int(part.name[len(PART_PREFIX) : -8])] * len(t), pa.int64()))
        tables.append(t)
    ints = {pa.int32(): pd.Int32Dtype(), pa.int64(): pd.Int64Dtype()}.get  # nullable: error rows
    if not tables:
        df = schema.empty_table().to_pandas(types_mapper=ints)
        return df.assign(part=pd.Series(dtype="Int64")) if all_attempts else df
    df = pa.concat_tables(tables, promote_options="default").to_pandas(types_mapper=ints)
    keys = ["path", "segment"] if "segment" in df.columns else ["path"]
    if not all_attempts:
        latest = df.groupby("path")["part"].transform("max")
        df = df[df["part"] == latest]
        df = df.drop_duplicates(subset=keys, keep="last").drop(columns="part")
    sort = keys + (["part"] if all_attempts else [])
    if "segment" in df.columns:
        df = df.assign(segment=df["segment"].fillna(-1))
    return df.sort_values(sort, kind="stable").reset_index(drop=True)


#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_CHARS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(v: Any) -> Any:
    """One cell for a CSV export: lists as JSON text, formula-leading text prefixed with ``'``."""
    if isinstance(v, np.ndarray | list | tuple):
        v = json.dumps(np.asarray(v).tolist())
    if isinstance(v, str) and v.startswith(FORMULA_CHARS):
        return "'" + v
    return v


def export_csv(df: Any, path: str | os.PathLike) -> None:
    """Write result rows to a CSV a spreadsheet opens safely.

    List columns (``top_genres``, ``top_probs``, ``features``) become JSON text (``["blues", "rock"]``);
    text cells starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return get a leading ``'``, so a
    file name or error message is never run as a formula (OWASP's CSV-injection rule). Numbers stay numbers.
    """
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or str(out[col].dtype) in ("string", "str"):
            out[col] = out[col].map(_csv_cell)
    out.to_csv(path, index=False, quoting=csv.QUOTE_NONNUMERIC)  # text quoted: a CR inside stays a cell


def read_features(out: str | os.PathLike) -> tuple[np.ndarray, Any, list[str]]:
    """The ``ok`` rows of a features output as a matrix.

    Returns
    -------
    X : np.ndarray, float32, shape (n_rows, dim)
    rows : pandas.DataFrame
        The other columns of those rows, in the same order.
    names : list of str
        The feature names.
    """
    meta = read_meta(out)
    if meta["signature"].get("kind") != "features":
        raise DatasetError("not a features output (written by `batch classify`)", source=out)
    df = read_results(out)
    df = df[df["status"] == "ok"].reset_index(drop=True)
    names = list(meta.get("feature_names", []))
    X = (
        np.stack(df["features"].to_numpy()).astype(np.float32)
        if len(df)
        else np.zeros((0, len(names)), np.float32)
    )
    return X, df.drop(columns="features"), names
