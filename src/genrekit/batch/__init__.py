"""Catalogue-scale batch runs: classify, or extract features of, many files -- locally or on Dask.

One job runs the same per-chunk function on one of four engines:

============  ==============================================================================================
engine        what runs the chunks
============  ==============================================================================================
serial        this process (``workers=1``)
processes     a ``concurrent.futures.ProcessPoolExecutor`` of ``workers`` spawned processes
dask-local    a ``distributed.LocalCluster(n_workers=dask_local, threads_per_worker=1)`` started for the run
dask          an existing Dask scheduler (``scheduler="tcp://host:8786"``); files and models must be visible
              to every worker under the same paths (a shared file system)
============  ==============================================================================================

The model (or extractor) is loaded once per worker process and cached; a chunk decodes its files in
groups of at most ``group_audio_s`` seconds of audio and hands each group to
``Classifier.predict_batch`` (the predict path itself; for ``features``, ``Extractor.extract_many``), so
that batching backbones (musicnn) see batches. The driver streams the input (a folder walk, a CSV
reader or a text file, never a full list in memory), keeps at most ``max_in_flight`` chunks submitted,
and writes every finished chunk as its own parquet part file, atomically.

Output layout (``OUT`` is a directory, readable by :func:`read_results` or ``pandas.read_parquet``)::

    OUT/_meta.json          kind, model id / extractor config, columns, feature names or labels
    OUT/part-00000.parquet  one per finished chunk, written to a temporary name then renamed
    OUT/_lock               present while a run writes (pid and host), removed at the end

Resume rule. A re-run with the same command skips every input whose latest row is ``ok`` and whose
file is unchanged: same ``(size, mtime_ns)``, or, when those differ, the same content hash. Rows with
status ``error`` are skipped too unless ``retry_errors``. A changed file is done again. A newer row of a
path supersedes older ones: :func:`read_results` keeps only the rows of each path's latest part, so
in the de-duplicated view every file appears exactly once (once per segment with ``per_segment``).
Resuming into an output written by another kind of job, model or extractor config is refused.

Layout
------
``genrekit.data.sources`` (what to process) <- ``job`` (a job, and one chunk's work in a worker) <-
``store`` (part files, meta, lock, reading results), ``engines`` (serial, processes, Dask) and
``progress`` <- ``run`` (plan, execute, summarise). This module re-exports the public names.
"""

from __future__ import annotations

from genrekit.batch.job import KINDS, STOP_AFTER_ENV, STOP_SIGNAL_ENV, BatchJob, ChunkResult, process_chunk
from genrekit.batch.progress import BatchProgress
from genrekit.batch.run import BatchResult, classify_batch, features_batch, run_batch
from genrekit.batch.store import (
    LOCK_NAME,
    META_NAME,
    ResultStore,
    export_csv,
    read_features,
    read_meta,
    read_results,
    rows_to_table,
)
from genrekit.data.sources import InputItem, InputSource

__all__ = [
    "export_csv",
    "KINDS",
    "LOCK_NAME",
    "META_NAME",
    "STOP_AFTER_ENV",
    "STOP_SIGNAL_ENV",
    "BatchJob",
    "BatchProgress",
    "BatchResult",
    "ChunkResult",
    "InputItem",
    "InputSource",
    "ResultStore",
    "classify_batch",
    "features_batch",
    "process_chunk",
    "read_features",
    "read_meta",
    "read_results",
    "rows_to_table",
    "run_batch",
]
