"""Splits: which tracks (or table rows) train, validate and test -- every split rule, and the one type.

Splits are grouped (a track, or an artist, is never on two sides: segments of one track, or tracks of one
artist, must not leak from training into evaluation) and stratified by label, and deterministic by
``seed``. Every rule returns a :class:`Split`:

- datasets: :func:`train_val_test_split` (random, stratified and grouped), :func:`split_from_files`
  (published lists such as the artist-filtered GTZAN lists); :func:`grouped_kfold` for folds;
- audio training and robustness: :func:`make_split` (lists or random) gives the track ids of each side;
- tables: :func:`split_table` (a grouped stratified holdout) and :func:`split_from_lists` give row indices;
  :func:`make_split` picks one for a table too.

Published lists are read by :func:`read_split_lists` and matched by :func:`match_lists`, for datasets and
tables alike. :func:`assert_disjoint` checks any split, down to segment rows built with
:func:`~genrekit.data.tracks.expand_segments` / :func:`~genrekit.data.tracks.segment_table`.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np

from genrekit.data.tracks import GROUP_BY, Dataset, _listing, resolve_group_by, track_id_for
from genrekit.errors import ConfigError, DatasetError, unknown_name

if TYPE_CHECKING:
    from genrekit.data.tables import TabularData

#: The sides of a split, in the order they unpack and lists are matched.
SIDES: tuple[str, ...] = ("train", "val", "test")
#: What :func:`split_from_files` does with list entries naming no track of the dataset.
SPLIT_MISSING: tuple[str, ...] = ("error", "ignore")

S = TypeVar("S")


@dataclass(frozen=True, eq=False)
class Split(Generic[S]):
    """Which tracks or rows train, validate and test: the one split type; unpacks as ``train, val, test``.

    The sides are what was split: datasets (:func:`train_val_test_split`, :func:`split_from_files`),
    track ids (:func:`make_split` on a dataset: audio training, evaluation and robustness) or row
    indices (:func:`split_table`, :func:`split_from_lists`: tables).

    Attributes
    ----------
    train, test : datasets, lists of track ids, or int64 arrays of row indices
    val : same, or None
        ``None`` when no validation list was given to :func:`split_from_files`; empty when no validation
        side was asked for (track ids) or kept (tables merge a valid list into ``train``).
    description : str
        How the split was made, for reports and bundles.
    notes : list of str
        What the split left out (table rows in no list, list entries matching no row).
    missing : dict of str to int
        Split-list entries naming no track of the dataset, counted per list (``train``, ``val``,
        ``test``); only lists taken with ``missing="ignore"`` have any.
    unassigned : tuple of str
        Track ids of the dataset that ended up on no side (only :func:`split_from_files` leaves any).
    search_groups : np.ndarray of object, shape (len(train),), or None
        Grouping of the training rows for grid-search folds when a table knows no artists: the list
        each row came from (``"train"`` or ``"valid"``; the filtered GTZAN lists are artist-disjoint).
    """

    train: S
    test: S
    val: S | None = field(default_factory=list)  # type: ignore[assignment]
    description: str = ""
    notes: list[str] = field(default_factory=list)
    missing: dict[str, int] = field(default_factory=dict)
    unassigned: tuple[str, ...] = ()
    search_groups: np.ndarray | None = None

    def __iter__(self) -> Iterator[Any]:
        return iter((self.train, self.val, self.test))


# --------------------------------------------------------------------------------------------------------
# random splits of a dataset
# --------------------------------------------------------------------------------------------------------


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


@dataclass
class _Deal:
    """Groups being dealt to the sides (0 train, 1 val, 2 test) of :func:`train_val_test_indices`.

    Attributes
    ----------
    gc : np.ndarray, shape (n_groups, n_classes)
        Tracks of each class in each group.
    sides : list of int
        The requested sides, smallest first (the order classes are seeded in).
    target : np.ndarray, shape (3, n_classes)
        Tracks of each class each side should get.
    tiebreak : np.ndarray, shape (n_groups,)
        The seeded random order among equals.
    assigned : np.ndarray of int, shape (n_groups,)
        The side of each group, -1 while undealt.
    filled : np.ndarray, shape (3, n_classes)
        Tracks of each class dealt to each side so far.
    """

    gc: np.ndarray
    sides: list[int]
    target: np.ndarray
    tiebreak: np.ndarray
    assigned: np.ndarray
    filled: np.ndarray

    def put(self, g: int, s: int) -> None:
        self.assigned[g] = s
        self.filled[s] += self.gc[g]


def _small_classes(
    deal: _Deal, classes: np.ndarray, by: str, small_classes: str, root: Path | None
) -> list[int]:
    """Classes with fewer groups than requested sides: raise, or deal all their groups to train."""
    gc = deal.gc
    groups_per_class = (gc > 0).sum(axis=0)
    short = [c for c in range(gc.shape[1]) if groups_per_class[c] < len(deal.sides)]
    if not short:
        return short
    desc = ", ".join(f"{str(classes[c])!r} ({groups_per_class[c]} {by}(s))" for c in short)
    if small_classes == "error":
        raise DatasetError(
            f"class(es) {desc} cannot have a {by} on each of the {len(deal.sides)} requested sides "
            f"({', '.join(SIDES[s] for s in sorted(deal.sides))}); add tracks, drop the class, group by "
            "track, set val_size/test_size to 0, or pass small_classes='train'",
            source=root,
        )
    warnings.warn(f"class(es) {desc} are too small to split and stay entirely in train", stacklevel=3)
    for c in short:
        for g in np.flatnonzero((gc[:, c] > 0) & (deal.assigned < 0)):
            deal.put(int(g), 0)
    return short


def _seed_sides(deal: _Deal, short: list[int]) -> None:
    """Give every class one group on every requested side: the smallest that fit, in random order."""
    gc, target = deal.gc, deal.target
    groups_per_class = (gc > 0).sum(axis=0)
    pure = (gc > 0).sum(axis=1) == 1
    for c in np.argsort(groups_per_class, kind="stable"):
        if c in short:
            continue
        for s in deal.sides:
            if deal.filled[s, c] > 0:
                continue
            cand = np.flatnonzero((gc[:, c] > 0) & (deal.assigned < 0))
            if not cand.size:
                break
            fits = gc[cand, c] <= max(target[s, c], 1.0)
            order = np.lexsort((deal.tiebreak[cand], gc[cand].sum(axis=1) * ~fits, ~pure[cand], ~fits))
            deal.put(int(cand[order[0]]), s)


def _deal_rest(deal: _Deal, short: list[int], fractions: np.ndarray) -> None:
    """Deal the other groups, biggest first (random order within a size), where they cut the error most.

    The error is the sum over the classes being split of ``((filled - target) / n_c)^2``, plus
    ``n_classes * ((total - total target) / N)^2`` (classes kept in train do not count against the
    train total).
    """
    gc, filled, target = deal.gc, deal.filled, deal.target
    n_c = gc.sum(axis=0)
    rest = np.flatnonzero(deal.assigned < 0)
    rest = rest[np.lexsort((deal.tiebreak[rest], -gc[rest].sum(axis=1)))]
    active = np.ones(gc.shape[1], dtype=bool)
    active[short] = False
    weight = np.where(active, 1.0 / np.maximum(n_c, 1) ** 2, 0.0)
    total_target = fractions * n_c[active].sum()
    total_weight = active.sum() / max(n_c[active].sum(), 1.0) ** 2
    for g in rest:
        row = gc[g]
        size = row[active].sum()
        best, best_cost = -1, np.inf
        for s in sorted(deal.sides):
            cost = np.sum((2 * (filled[s] - target[s]) * row + row**2) * weight)
            cost += (2 * (filled[s, active].sum() - total_target[s]) * size + size**2) * total_weight
            if cost < best_cost - 1e-12:
                best, best_cost = s, cost
        deal.put(int(g), best)


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
    deal = _Deal(
        gc=gc,
        sides=[s for s in (2, 1, 0) if fractions[s] > 0],  # smallest sides first when seeding
        target=fractions[:, None] * gc.sum(axis=0)[None, :],
        tiebreak=np.random.default_rng(seed).random(n_groups),
        assigned=np.full(n_groups, -1),
        filled=np.zeros((3, n_classes)),
    )
    short = _small_classes(deal, classes, by, small_classes, dataset.root)
    _seed_sides(deal, short)  # 1. one group of every class on every requested side
    _deal_rest(deal, short, fractions)  # 2. greedy: biggest groups first
    side_of_track = deal.assigned[g_inv]
    for c in range(n_classes):
        if c in short:
            continue
        empty = [SIDES[s] for s in deal.sides if deal.filled[s, c] == 0]
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
) -> Split[Dataset]:
    """Grouped, stratified train/validation/test split (default 64/16/20 of the tracks).

    See :func:`train_val_test_indices` for the parameters and the method. ``val`` is an empty dataset
    when ``val_size=0``.

    Returns
    -------
    Split of Dataset
        ``train, val, test`` datasets.
    """
    tr, va, te = train_val_test_indices(
        dataset,
        test_size=test_size,
        val_size=val_size,
        seed=seed,
        group_by=group_by,
        small_classes=small_classes,
    )
    return Split(train=dataset.subset(tr), val=dataset.subset(va), test=dataset.subset(te))


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


# --------------------------------------------------------------------------------------------------------
# published split lists
# --------------------------------------------------------------------------------------------------------


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


def read_split_lists(split_file: str | os.PathLike) -> dict[str, list[str]]:
    """The lists of a split folder, or one list of test tracks.

    Parameters
    ----------
    split_file : path
        A folder holding ``train*.txt``, optionally ``valid*.txt`` (or ``val*.txt``) and ``test*.txt``
        (the GTZAN artist-filtered split layout; the first file of each name is taken), or one text file
        listing the test tracks.

    Returns
    -------
    dict of str to list of str
        Entries per side (``train``, ``val``, ``test``; only ``test`` for a single file), without blank
        lines and ``#`` comments.
    """
    p = Path(split_file)
    if p.is_file():
        return {"test": _read_split_list(p, "test")}
    if not p.is_dir():
        raise DatasetError("split file not found", source=p)
    prefixes = {"train": ("train",), "val": ("valid", "val"), "test": ("test",)}
    found = {}
    for side, starts in prefixes.items():
        hits = sorted(f for f in p.iterdir() if f.suffix == ".txt" and f.name.startswith(starts))
        if hits:
            found[side] = hits[0]
    if "train" not in found or "test" not in found:
        raise DatasetError("split directory needs train*.txt and test*.txt lists", source=p)
    return {side: _read_split_list(f, side) for side, f in found.items()}


@dataclass
class ListMatch:
    """Where the entries of split lists landed (:func:`match_lists`).

    Attributes
    ----------
    side : np.ndarray of int, shape (n_items,)
        Side of every item: an index into :data:`SIDES` (0 train, 1 val, 2 test), or -1 when no list
        names it.
    absent : dict of str to list of str
        Entries naming no item, per list, in list order.
    clashes : list of (str, int, str, str)
        ``(entry, item, first list, second list)`` for every entry naming an item already on another side.
    """

    side: np.ndarray
    absent: dict[str, list[str]]
    clashes: list[tuple[str, int, str, str]]


def match_lists(
    lists: Mapping[str, Sequence[str]], index: Mapping[str, int], key: Callable[[str], str], n_items: int
) -> ListMatch:
    """Match split-list entries to items (dataset tracks, table rows): the one list matcher.

    Parameters
    ----------
    lists : mapping of str to list of str
        Entries per side name in :data:`SIDES`; absent sides are not matched.
    index : mapping of str to int
        Item position by match key.
    key : callable
        Turns an entry into its match key (:func:`~genrekit.data.tracks.track_id_for` for datasets,
        file-name stems for tables).
    n_items : int

    Returns
    -------
    ListMatch
        An entry repeated within one list is harmless; one naming an item already on another side is a
        clash (the item stays on the first side).
    """
    side = np.full(n_items, -1)
    absent: dict[str, list[str]] = {}
    clashes: list[tuple[str, int, str, str]] = []
    for code, name in enumerate(SIDES):
        for entry in lists.get(name) or ():
            i = index.get(key(entry))
            if i is None:
                absent.setdefault(name, []).append(entry)
            elif side[i] not in (-1, code):
                clashes.append((entry, i, SIDES[side[i]], name))
            else:
                side[i] = code
    return ListMatch(side, absent, clashes)


def split_from_files(
    dataset: Dataset,
    train: str | os.PathLike | Iterable[str],
    test: str | os.PathLike | Iterable[str],
    val: str | os.PathLike | Iterable[str] | None = None,
    *,
    missing: str = "error",
) -> Split[Dataset]:
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
        have): ``"error"`` raises; ``"ignore"`` skips it, counts it per list in ``Split.missing`` and
        warns with the count.

    Returns
    -------
    Split of Dataset
        ``train, val or None, test``, each in dataset order. Tracks named in no list are left out:
        their ids are in ``Split.unassigned`` and a warning gives their number.

    Raises
    ------
    DatasetError
        Entries that match no track (up to 10 listed, with the count) unless ``missing="ignore"``; a
        track in two lists; an unknown ``missing`` rule.
    """
    if missing not in SPLIT_MISSING:
        raise ConfigError(f"split-missing rule must be one of {', '.join(SPLIT_MISSING)}, got {missing!r}")
    specs = {"train": train, "val": val, "test": test}
    lists = {name: _read_split_list(spec, name) for name, spec in specs.items() if spec is not None}
    keys: dict[str, int] = {}
    for i, t in enumerate(dataset.tracks):
        keys.setdefault(track_id_for(t.relpath), i)
        keys.setdefault(t.track_id, i)
    match = match_lists(lists, keys, track_id_for, len(dataset))
    absent = [f"{entry} ({name})" for name, entries in match.absent.items() for entry in entries]
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
        per_list = ", ".join(f"{len(entries)} {name}" for name, entries in match.absent.items())
        warnings.warn(
            f"{len(absent)} split-list entries name no track of the dataset and were ignored ({per_list}; "
            f"e.g. {_listing(absent, limit=3)})",
            stacklevel=2,
        )
    if match.clashes:
        clashes = [f"{entry} ({first} and {second})" for entry, _, first, second in match.clashes]
        raise DatasetError(
            f"{len(clashes)} track(s) in two split lists: {_listing(clashes)}", source=dataset.root
        )
    unassigned = [dataset.tracks[i].track_id for i in np.flatnonzero(match.side < 0)]
    if unassigned:
        warnings.warn(
            f"{len(unassigned)} of {len(dataset)} tracks are in no split list and were left out "
            f"(e.g. {_listing(unassigned, limit=3)})",
            stacklevel=2,
        )
    train_ds, val_ds, test_ds = (dataset.subset(np.flatnonzero(match.side == code)) for code in range(3))
    return Split(
        train=train_ds,
        val=val_ds if val is not None else None,
        test=test_ds,
        unassigned=tuple(unassigned),
        missing={name: len(entries) for name, entries in match.absent.items()},
    )


# --------------------------------------------------------------------------------------------------------
# the split of a workflow: lists or random, for a dataset or a table
# --------------------------------------------------------------------------------------------------------


def make_split(
    data: Dataset | TabularData,
    *,
    split_file: str | os.PathLike | None = None,
    test_size: float = 0.2,
    val_size: float = 0.16,
    seed: int = 0,
    group_by: str = "auto",
    split_missing: str = "error",
) -> Split[Any]:
    """Decide which tracks (or table rows) train and which test: the split of every workflow.

    ``split_file`` is either a directory holding ``train*.txt`` / ``valid*.txt`` / ``test*.txt`` lists
    (the GTZAN artist-filtered split layout) or one list of test tracks (everything else trains); without
    it the split is random, grouped and stratified.

    For a :class:`~genrekit.data.tracks.Dataset` the sides are lists of track ids (validation merged
    into training by classical models): :func:`train_val_test_split`, or the lists through
    :func:`split_from_files`. ``split_missing="ignore"`` takes lists that name tracks the dataset lacks
    (they are counted in ``Split.missing`` and warned about); ``"error"`` refuses them. Only the lists
    and the dataset's paths are read, so a bad list fails before any feature is extracted.

    For a :class:`~genrekit.data.tables.TabularData` the sides are row indices: :func:`split_table`
    (``val_size`` is not used), or the lists through :func:`split_from_lists`.
    """
    if not isinstance(data, Dataset):
        if split_file is not None:
            return split_from_lists(data, split_file)
        return split_table(data, test_size=test_size, seed=seed, group_by=group_by)
    if split_file is not None:
        return _dataset_split_from_lists(data, Path(split_file), split_missing)
    train, val, test = train_val_test_split(
        data, test_size=test_size, val_size=val_size, seed=seed, group_by=group_by
    )
    by = resolve_group_by(data, group_by)
    grouping = (
        "grouped by artist"
        if by == "artist"
        else "grouped by track only: no artist information, so one artist's tracks may be on both sides"
        if not data.any_artists
        else "grouped by track"
    )
    return Split(
        train=list(train.track_ids),
        val=list(val.track_ids),
        test=list(test.track_ids),
        description=(f"stratified split (test {test_size:.0%}, val {val_size:.0%}, seed {seed}), {grouping}"),
    )


def _dataset_split_from_lists(dataset: Dataset, p: Path, split_missing: str) -> Split[list[str]]:
    """Track ids of each side from a split folder's lists, or from one test list (the rest trains)."""
    lists = read_split_lists(p)
    if "train" in lists:
        sides = split_from_files(
            dataset, train=lists["train"], test=lists["test"], val=lists.get("val"), missing=split_missing
        )
        train, val, test = sides
    else:
        with warnings.catch_warnings():  # with one test list every other track trains: none is left out
            warnings.filterwarnings("ignore", message=".*in no split list", category=UserWarning)
            sides = split_from_files(dataset, train=[], test=lists["test"], missing=split_missing)
        test = sides.test
        test_ids = set(test.track_ids)
        train = dataset.subset([i for i, t in enumerate(dataset.tracks) if t.track_id not in test_ids])
        val = None
    if not len(test) and not len(train):
        raise DatasetError("the split lists name none of the dataset's tracks", source=p)
    n_missing = sum(sides.missing.values())
    desc = f"split file {p}"
    if n_missing:
        desc += f" ({n_missing} listed tracks not in the dataset ignored)"
    return Split(
        train=list(train.track_ids),
        val=list(val.track_ids) if val is not None else [],
        test=list(test.track_ids),
        description=desc,
        missing=dict(sides.missing),
    )


# --------------------------------------------------------------------------------------------------------
# tables: row indices
# --------------------------------------------------------------------------------------------------------


def grouped_folds(
    k: int, seed: int, y: np.ndarray, groups: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds that keep every group on one side, as ``(train_idx, test_idx)`` pairs.

    ``StratifiedGroupKFold``, or ``StratifiedKFold`` when every group is a single row: the same guarantee
    without StratifiedGroupKFold's per-group Python loop (~20 s for ~27k single-row groups).
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    X = np.zeros((len(y), 1))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        try:
            if len(np.unique(groups)) == len(groups):
                return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(X, y))
            return list(StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(X, y, groups))
        except ValueError as exc:
            counts = dict(sorted(Counter(np.asarray(y).tolist()).items()))
            raise DatasetError(
                f"cannot cut {k} stratified folds from {len(y)} rows ({exc}); rows per label: {counts}. "
                "Use fewer folds or a larger test_size, or give the labels more rows"
            ) from None


def split_table(
    data: TabularData, *, test_size: float = 0.2, seed: int = 0, group_by: str = "auto"
) -> Split[np.ndarray]:
    """Stratified grouped holdout: one of ``round(1 / test_size)`` stratified grouped folds as test.

    Groups are artists (``group_by="artist"``, or ``"auto"`` with an artist column) or track ids; no group
    is on both sides. The sides are sorted row indices (``val`` is empty).
    """
    if not 0.0 < test_size < 1.0:
        raise ConfigError(f"test_size must be a fraction in (0, 1), got {test_size!r}")
    k = max(2, int(round(1.0 / test_size)))
    by = data.resolve_group_by(group_by)
    groups = data.groups(by)
    n_groups = len(np.unique(groups))
    if n_groups < k:
        raise DatasetError(
            f"a {test_size:.0%} test side needs at least {k} {by} groups; the table has {n_groups}"
        )
    train, test = grouped_folds(k, seed, data.y, groups)[0]
    return Split(
        train=np.sort(train),
        test=np.sort(test),
        val=np.empty(0, dtype=np.int64),
        description=(
            f"stratified holdout grouped by {by} (1 of {k} grouped stratified folds as test, seed {seed})"
        ),
    )


def split_from_lists(data: TabularData, split_file: str | os.PathLike) -> Split[np.ndarray]:
    """Split by published lists matched on file-name stems (``blues/blues.00012.wav`` ~ ``blues.00012.wav``).

    ``split_file`` is a folder with ``train*.txt`` (and optionally ``valid*.txt``, merged into training)
    and ``test*.txt``, or one list of test tracks (every other row trains). Rows in no list are left out
    and counted in ``notes``. With a valid list and no artist column, grid searches use the train and
    valid sides as their two folds (``search_groups``): the lists of the filtered GTZAN split are
    artist-disjoint, a random k-fold on the training side is not.
    """
    from genrekit.data.cells import _stem  # cells needs pandas: imported when a table is split

    p = Path(split_file)
    lists = read_split_lists(p)
    if data.id_column is None:
        raise DatasetError(
            "matching a split list needs an id column naming the files (e.g. filename)", source=p
        )
    index = {_stem(t): i for i, t in enumerate(data.track_ids)}
    match = match_lists(lists, index, _stem, len(data))
    notes: list[str] = []
    for name in ("train", "test", "val"):
        missing = match.absent.get(name, [])
        if missing:
            notes.append(
                f"{len(missing)} {'valid' if name == 'val' else name} list entr"
                f"{'y' if len(missing) == 1 else 'ies'} not among the table's rows after cleaning "
                f"(e.g. {missing[:3]})"
            )
    if match.clashes:
        clash = [data.track_ids[i] for _, i, _, _ in match.clashes]
        raise DatasetError(f"{len(clash)} row(s) are in two split lists, e.g. {clash[:3]}", source=p)
    side = match.side
    if "train" not in lists:
        side[side == -1] = 0
    if not np.any(side == 2):
        example = data.track_ids[0] if len(data) else "(no rows)"
        raise DatasetError(
            f"no test-list entry matches a row's {data.id_column} (matched on file-name stems; the table has "
            f"e.g. {example!r})",
            source=p,
        )
    out = int(np.sum(side == -1))
    if out:
        notes.append(f"{out} row(s) in no split list were left out")
    train = np.flatnonzero((side == 0) | (side == 1))
    return Split(
        train=train,
        test=np.flatnonzero(side == 2),
        val=np.empty(0, dtype=np.int64),
        description=f"split lists {p}" + (" (valid merged into train)" if "val" in lists else ""),
        notes=notes,
        search_groups=np.where(side[train] == 1, "valid", "train").astype(object) if "val" in lists else None,
    )


# --------------------------------------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------------------------------------


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
