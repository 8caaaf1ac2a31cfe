"""Splits: which tracks (or table rows) train, validate and test, grouped and stratified.

Splits are grouped (a track, or an artist, is never on two sides: segments of one track, or tracks of one
artist, must not leak from training into evaluation) and stratified by label, and deterministic by
``seed``: :func:`train_val_test_split`, :func:`grouped_kfold`, :func:`split_from_files` (published split
lists such as the artist-filtered GTZAN lists). :func:`assert_disjoint` checks any split, down to segment
rows built with :func:`~genrekit.data.tracks.expand_segments` / :func:`~genrekit.data.tracks.segment_table`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genrekit.data.tracks import GROUP_BY, Dataset, _listing, resolve_group_by, track_id_for
from genrekit.errors import ConfigError, DatasetError, unknown_name


class Splits(tuple):
    """``(train, val, test)`` datasets; unpacks as a 3-tuple.

    Attributes
    ----------
    unassigned : tuple of str
        Track ids of the dataset that ended up on no side (only :func:`split_from_files` leaves any).
    missing : dict of str to int
        Split-list entries naming no track of the dataset, counted per list (``train``, ``val``,
        ``test``); only :func:`split_from_files` with ``missing="ignore"`` returns any.
    """

    unassigned: tuple[str, ...]
    missing: dict[str, int]

    def __new__(
        cls,
        train: Dataset,
        val: Dataset | None,
        test: Dataset,
        *,
        unassigned: Iterable[str] = (),
        missing: Mapping[str, int] | None = None,
    ) -> Splits:
        obj = super().__new__(cls, (train, val, test))
        obj.unassigned = tuple(unassigned)
        obj.missing = dict(missing or {})
        return obj

    def __getnewargs_ex__(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return tuple(self), {"unassigned": self.unassigned, "missing": self.missing}

    @property
    def train(self) -> Dataset:
        return self[0]

    @property
    def val(self) -> Dataset | None:
        return self[1]

    @property
    def test(self) -> Dataset:
        return self[2]


def _check_fraction(name: str, value: float) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= float(value) < 1.0:
        raise ConfigError(f"{name} must be a fraction in [0, 1), got {value!r}")
    return float(value)


def _group_matrix(dataset: Dataset, by: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(group_inv (n_tracks,), class_inv (n_tracks,), counts (n_groups, n_classes), classes)``."""
    groups = dataset.groups(by)
    _, g_inv = np.unique(groups, return_inverse=True)
    classes, y_inv = np.unique(dataset.y, return_inverse=True)
    counts = np.zeros((int(g_inv.max()) + 1, len(classes)))
    np.add.at(counts, (g_inv, y_inv), 1)
    return g_inv, y_inv, counts, classes


def train_val_test_indices(
    dataset: Dataset,
    *,
    test_size: float = 0.2,
    val_size: float = 0.16,
    seed: int = 0,
    group_by: str = "auto",
    small_classes: str = "error",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grouped, stratified train/validation/test split as track indices.

    scikit-learn has no splitter for this: ``StratifiedGroupKFold`` only makes ``1/k`` folds and
    ``GroupShuffleSplit`` does not stratify. This uses the same idea as ``StratifiedGroupKFold``'s
    heuristic, with target fractions: first every class gets one group on each requested side (the
    smallest groups that fit, chosen at random), then the other groups, largest first and in random
    order within a size, each go to the side where they reduce the squared error between the per-class
    (and overall) track counts and their targets the most.

    Parameters
    ----------
    dataset : Dataset
    test_size, val_size : float
        Fractions of all tracks for test and validation (``0`` for none); the default is 64/16/20.
    seed : int
        The split is a pure function of the dataset, the parameters and ``seed``.
    group_by : {"auto", "track", "artist"}
        See :meth:`Dataset.groups`.
    small_classes : {"error", "train"}
        What to do with a class that has fewer groups than requested sides (e.g. one track while test is
        requested): raise a DatasetError naming it, or keep all its tracks in train (with a warning).

    Returns
    -------
    train_idx, val_idx, test_idx : np.ndarray, int64, sorted
        Disjoint, together covering every track; no group on two sides.
    """
    t_frac, v_frac = _check_fraction("test_size", test_size), _check_fraction("val_size", val_size)
    if t_frac + v_frac >= 1.0:
        raise ConfigError(f"test_size + val_size must be < 1, got {t_frac} + {v_frac}")
    if small_classes not in ("error", "train"):
        raise unknown_name("small_classes policy", small_classes, ("error", "train"))
    if not len(dataset):
        raise DatasetError("cannot split an empty dataset", source=dataset.root)
    by = resolve_group_by(dataset, group_by)
    g_inv, _, gc, classes = _group_matrix(dataset, by)
    n_groups, n_classes = gc.shape
    fractions = np.array([1.0 - t_frac - v_frac, v_frac, t_frac])
    sides = [s for s in (2, 1, 0) if fractions[s] > 0]  # smallest sides first when seeding
    n_c = gc.sum(axis=0)
    target = fractions[:, None] * n_c[None, :]  # (3, n_classes)
    rng = np.random.default_rng(seed)
    tiebreak = rng.random(n_groups)
    assigned = np.full(n_groups, -1)
    filled = np.zeros((3, n_classes))

    def put(g: int, s: int) -> None:
        assigned[g] = s
        filled[s] += gc[g]

    groups_per_class = (gc > 0).sum(axis=0)
    short = [c for c in range(n_classes) if groups_per_class[c] < len(sides)]
    if short:
        desc = ", ".join(f"{str(classes[c])!r} ({groups_per_class[c]} {by}(s))" for c in short)
        names = ["train", "val", "test"]
        if small_classes == "error":
            raise DatasetError(
                f"class(es) {desc} cannot have a {by} on each of the {len(sides)} requested sides "
                f"({', '.join(names[s] for s in sorted(sides))}); add tracks, drop the class, group by "
                "track, set val_size/test_size to 0, or pass small_classes='train'",
                source=dataset.root,
            )
        warnings.warn(f"class(es) {desc} are too small to split and stay entirely in train", stacklevel=2)
        for c in short:
            for g in np.flatnonzero((gc[:, c] > 0) & (assigned < 0)):
                put(int(g), 0)

    # 1. seed: one group of every class on every requested side
    pure = (gc > 0).sum(axis=1) == 1
    for c in np.argsort(groups_per_class, kind="stable"):
        if c in short:
            continue
        for s in sides:
            if filled[s, c] > 0:
                continue
            cand = np.flatnonzero((gc[:, c] > 0) & (assigned < 0))
            if not cand.size:
                break
            fits = gc[cand, c] <= max(target[s, c], 1.0)
            order = np.lexsort((tiebreak[cand], gc[cand].sum(axis=1) * ~fits, ~pure[cand], ~fits))
            put(int(cand[order[0]]), s)

    # 2. greedy: biggest groups first, random order within a size
    rest = np.flatnonzero(assigned < 0)
    rest = rest[np.lexsort((tiebreak[rest], -gc[rest].sum(axis=1)))]
    # cost = sum over classes of ((filled - target) / n_c)^2 + n_classes * ((total - total target) / N)^2,
    # over the classes being split (those kept in train do not count against the train total)
    active = np.ones(n_classes, dtype=bool)
    active[short] = False
    weight = np.where(active, 1.0 / np.maximum(n_c, 1) ** 2, 0.0)
    total_target = fractions * n_c[active].sum()
    total_weight = active.sum() / max(n_c[active].sum(), 1.0) ** 2
    for g in rest:
        row = gc[g]
        size = row[active].sum()
        best, best_cost = -1, np.inf
        for s in sorted(sides):
            cost = np.sum((2 * (filled[s] - target[s]) * row + row**2) * weight)
            cost += (2 * (filled[s, active].sum() - total_target[s]) * size + size**2) * total_weight
            if cost < best_cost - 1e-12:
                best, best_cost = s, cost
        put(int(g), best)

    side_of_track = assigned[g_inv]
    for c in range(n_classes):
        if c in short:
            continue
        empty = [["train", "val", "test"][s] for s in sides if filled[s, c] == 0]
        if empty:
            warnings.warn(f"class {str(classes[c])!r} has no track in {', '.join(empty)}", stacklevel=2)
    return tuple(np.flatnonzero(side_of_track == s).astype(np.int64) for s in (0, 1, 2))  # type: ignore[return-value]


def train_val_test_split(
    dataset: Dataset,
    *,
    test_size: float = 0.2,
    val_size: float = 0.16,
    seed: int = 0,
    group_by: str = "auto",
    small_classes: str = "error",
) -> Splits:
    """Grouped, stratified train/validation/test split (default 64/16/20 of the tracks).

    See :func:`train_val_test_indices` for the parameters and the method. ``val`` is an empty dataset
    when ``val_size=0``.

    Returns
    -------
    Splits
        ``(train, val, test)`` datasets.
    """
    tr, va, te = train_val_test_indices(
        dataset,
        test_size=test_size,
        val_size=val_size,
        seed=seed,
        group_by=group_by,
        small_classes=small_classes,
    )
    return Splits(dataset.subset(tr), dataset.subset(va), dataset.subset(te))


def grouped_kfold(
    dataset: Dataset, *, k: int = 5, seed: int = 0, group_by: str = "auto"
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified grouped k-fold (scikit-learn ``StratifiedGroupKFold``, shuffled by ``seed``).

    Every track is in exactly one test fold; no group is in a fold's train and test. A class with
    fewer groups than ``k`` is missing from some test folds (a warning names it).

    Returns
    -------
    list of (train_idx, test_idx)
        ``k`` pairs of sorted int64 index arrays.

    Raises
    ------
    ConfigError
        ``k < 2``.
    DatasetError
        Fewer groups than ``k``.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    if not isinstance(k, (int, np.integer)) or k < 2:
        raise ConfigError(f"k must be an integer >= 2, got {k!r}")
    if not len(dataset):
        raise DatasetError("cannot split an empty dataset", source=dataset.root)
    by = resolve_group_by(dataset, group_by)
    groups = dataset.groups(by)
    _, _, gc, classes = _group_matrix(dataset, by)
    if gc.shape[0] < k:
        raise DatasetError(
            f"k={k} folds need at least {k} {by} groups, the dataset has {gc.shape[0]}", source=dataset.root
        )
    groups_per_class = (gc > 0).sum(axis=0)
    small = [
        f"{str(classes[c])!r} ({groups_per_class[c]})" for c in range(len(classes)) if groups_per_class[c] < k
    ]
    if small:
        warnings.warn(
            f"class(es) {', '.join(small)} have fewer {by} groups than k={k}: some test folds will lack them",
            stacklevel=2,
        )
    cv = StratifiedGroupKFold(n_splits=int(k), shuffle=True, random_state=int(seed))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        folds = list(cv.split(np.zeros((len(dataset), 1)), dataset.y, groups))
    return [(np.sort(tr).astype(np.int64), np.sort(te).astype(np.int64)) for tr, te in folds]


#: What :func:`split_from_files` does with list entries naming no track of the dataset.
SPLIT_MISSING: tuple[str, ...] = ("error", "ignore")


def _read_split_list(spec: str | os.PathLike | Iterable[str], name: str) -> list[str]:
    """Entries of a split list: a text file (one relative path per line, ``#`` comments) or strings."""
    if isinstance(spec, (str, os.PathLike)):
        path = Path(spec)
        if not path.is_file():
            raise DatasetError(f"{name} split list not found", source=path)
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    else:
        lines = [str(s) for s in spec]
    out = []
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def split_from_files(
    dataset: Dataset,
    train: str | os.PathLike | Iterable[str],
    test: str | os.PathLike | Iterable[str],
    val: str | os.PathLike | Iterable[str] | None = None,
    *,
    missing: str = "error",
) -> Splits:
    """Split by published lists of relative paths (e.g. the artist-filtered GTZAN lists).

    Entries like ``blues/blues.00012.wav`` are matched on the path without its audio extension (so a
    ``.wav`` list works over ``.flac`` or ``.au`` files) or on the track id.

    Parameters
    ----------
    dataset : Dataset
    train, test, val : path to a text file, or iterable of str
        One entry per line; blank lines and ``#`` comments are ignored.
    missing : {"error", "ignore"}
        What an entry naming no track of the dataset does (published lists name clips a user may not
        have): ``"error"`` raises; ``"ignore"`` skips it, counts it per list in ``Splits.missing`` and
        warns with the count.

    Returns
    -------
    Splits
        ``(train, val or None, test)``, each in dataset order. Tracks named in no list are left out:
        their ids are in ``Splits.unassigned`` and a warning gives their number.

    Raises
    ------
    DatasetError
        Entries that match no track (up to 10 listed, with the count) unless ``missing="ignore"``; a
        track in two lists; an unknown ``missing`` rule.
    """
    if missing not in SPLIT_MISSING:
        raise ConfigError(f"split-missing rule must be one of {', '.join(SPLIT_MISSING)}, got {missing!r}")
    lists = {"train": train, "val": val, "test": test}
    keys: dict[str, int] = {}
    for i, t in enumerate(dataset.tracks):
        keys.setdefault(track_id_for(t.relpath), i)
        keys.setdefault(t.track_id, i)
    side_of: dict[int, str] = {}
    absent: list[str] = []
    absent_per_list: dict[str, int] = {}
    clashes: list[str] = []
    chosen: dict[str, list[int]] = {}
    for name, spec in lists.items():
        if spec is None:
            continue
        idx: list[int] = []
        for entry in _read_split_list(spec, name):
            i = keys.get(track_id_for(entry))
            if i is None:
                absent.append(f"{entry} ({name})")
                absent_per_list[name] = absent_per_list.get(name, 0) + 1
                continue
            if i in side_of:
                if side_of[i] != name:
                    clashes.append(f"{entry} ({side_of[i]} and {name})")
                continue
            side_of[i] = name
            idx.append(i)
        chosen[name] = sorted(idx)
    if absent and missing == "error":
        example = dataset.tracks[0].relpath if len(dataset) else "(empty dataset)"
        raise DatasetError(
            f"{len(absent)} split-list entr{'y' if len(absent) == 1 else 'ies'} not in the dataset: "
            f"{_listing(absent)}; entries are matched on the path relative to the dataset root without "
            f"extension (the dataset has e.g. {example}); to take a list naming clips you do not have, "
            "ignore them (--split-missing ignore)",
            source=dataset.root,
        )
    if absent:
        per_list = ", ".join(f"{n} {name}" for name, n in absent_per_list.items())
        warnings.warn(
            f"{len(absent)} split-list entries name no track of the dataset and were ignored ({per_list}; "
            f"e.g. {_listing(absent, limit=3)})",
            stacklevel=2,
        )
    if clashes:
        raise DatasetError(
            f"{len(clashes)} track(s) in two split lists: {_listing(clashes)}", source=dataset.root
        )
    unassigned = [t.track_id for i, t in enumerate(dataset.tracks) if i not in side_of]
    if unassigned:
        warnings.warn(
            f"{len(unassigned)} of {len(dataset)} tracks are in no split list and were left out "
            f"(e.g. {_listing(unassigned, limit=3)})",
            stacklevel=2,
        )
    val_ds = dataset.subset(chosen["val"]) if val is not None else None
    return Splits(
        dataset.subset(chosen["train"]),
        val_ds,
        dataset.subset(chosen["test"]),
        unassigned=unassigned,
        missing=absent_per_list,
    )


def assert_disjoint(*splits: Dataset | Sequence[str] | np.ndarray | None, by: str = "track") -> None:
    """Check that no group is on two sides.

    Parameters
    ----------
    *splits : Dataset, array of group ids, or None
        Datasets are compared by ``Dataset.groups(by)``; arrays (e.g. the group column of segment rows)
        are compared as given; ``None`` (an absent validation set) is skipped.
    by : {"track", "artist", "auto"}
        Grouping for Dataset arguments.

    Raises
    ------
    DatasetError
        Naming the two splits (1-based) and up to 10 shared groups.
    """
    if by not in GROUP_BY:
        raise unknown_name("group_by", by, GROUP_BY)
    sets: list[tuple[int, set[str]]] = []
    for i, s in enumerate(splits, start=1):
        if s is None:
            continue
        ids = s.groups(by) if isinstance(s, Dataset) else np.asarray(s, dtype=str)
        sets.append((i, set(ids.tolist())))
    for a in range(len(sets)):
        for b in range(a + 1, len(sets)):
            shared = sets[a][1] & sets[b][1]
            if shared:
                raise DatasetError(
                    f"splits {sets[a][0]} and {sets[b][0]} share {len(shared)} group(s) "
                    f"(grouped by {by}): {_listing(sorted(shared))}"
                )
