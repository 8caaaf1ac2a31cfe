"""Kept for compatibility: the names of ``genrekit.datasets`` now live in :mod:`genrekit.data`.

Tracks and datasets are in :mod:`genrekit.data.tracks`, folder trees, manifests and scans in
:mod:`genrekit.data.folders`, and every split rule in :mod:`genrekit.data.splits`. New code imports
from there; this module only re-exports them so ``from genrekit.datasets import ...`` keeps working.
"""

from __future__ import annotations

from genrekit.data.folders import (
    MANIFEST_NAME,
    MANIFEST_OPTIONAL,
    MANIFEST_REQUIRED,
    ScanReport,
    from_folder,
    from_manifest,
    load_dataset,
    scan,
)
from genrekit.data.splits import (
    SPLIT_MISSING,
    assert_disjoint,
    grouped_kfold,
    split_from_files,
    train_val_test_indices,
    train_val_test_split,
)
from genrekit.data.tracks import (
    GROUP_BY,
    Dataset,
    Track,
    expand_segments,
    fingerprint,
    group_key,
    resolve_group_by,
    segment_table,
    track_id_for,
)

__all__ = [
    "GROUP_BY",
    "MANIFEST_NAME",
    "MANIFEST_OPTIONAL",
    "MANIFEST_REQUIRED",
    "SPLIT_MISSING",
    "Dataset",
    "ScanReport",
    "Track",
    "assert_disjoint",
    "expand_segments",
    "fingerprint",
    "from_folder",
    "from_manifest",
    "group_key",
    "grouped_kfold",
    "load_dataset",
    "resolve_group_by",
    "scan",
    "segment_table",
    "split_from_files",
    "track_id_for",
    "train_val_test_indices",
    "train_val_test_split",
]
