"""Turn string answer columns into the integer codes the engine works on.

Codes follow the *sorted* names (plain string order), so the same set of names always gets the
same codes whatever the row order of the input; the lowest-code tie rule therefore means "first
label name in sorted order".

The work is done in Arrow's C++ kernels: each column is dictionary-encoded (hashing, once per
value), only the distinct names are sorted, and the codes are remapped to sorted order with a
lookup array. Columns that already arrive dictionary-encoded (the ``aggregate`` command reads
its CSV that way, see :func:`labeling.aggregation.cli.read_answer_table`) skip the hashing pass
over the rows. Arrow sorts strings by their UTF-8 bytes, which is the same order as Python's
(code point) string order, so the codes are those of ``pandas.factorize(sort=True)``. Names that
differ only in their last 7 bytes (``item0038851`` after the shared ``item``, ``w123``) are
sorted in that same order as one 64-bit integer each (:func:`_short_key_order`), several times
quicker than comparing strings. The native reader's tables
(:func:`table_with_codes`, used by :func:`labeling.aggregation.cli.read_answer_table`) arrive
already coded in this order, and :func:`encode` takes their codes as they are.

pandas is imported only where a pandas object has to be built or read (so importing the package
does not cost the pandas import); the names behind the codes stay Arrow arrays until asked for as
NumPy arrays (:attr:`EncodedAnswers.item_names` ...), see :meth:`EncodedAnswers.names_arrow`.
"""

from __future__ import annotations

import sys
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import native
from .textnorm import DEFAULT_TEXT_OPS, normalize_text

if TYPE_CHECKING:
    import pandas as pd

ANSWER_COLUMNS = ("item", "annotator", "label")


def _names(names: pa.Array) -> np.ndarray:
    return np.asarray(names.to_numpy(zero_copy_only=False), dtype=object)


class EncodedAnswers:
    """Answers as parallel code arrays plus the names behind the codes.

    ``item_names[items[j]]`` is the item of answer ``j``; likewise for annotators and labels.
    The names may be given as NumPy arrays or as Arrow string arrays; Arrow names are turned into
    NumPy object arrays only when first read (``names_arrow`` gives them without conversion).
    Immutable, like a frozen dataclass.
    """

    __slots__ = ("__weakref__", "_names", "annotators", "items", "labels")
    _NAME_FIELDS = ("item_names", "annotator_names", "label_names")

    def __init__(
        self,
        items: np.ndarray,
        annotators: np.ndarray,
        labels: np.ndarray,
        item_names: np.ndarray | pa.Array,
        annotator_names: np.ndarray | pa.Array,
        label_names: np.ndarray | pa.Array,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "items", items)
        set_(self, "annotators", annotators)
        set_(self, "labels", labels)
        set_(self, "_names", {"item_names": item_names, "annotator_names": annotator_names,
                              "label_names": label_names})

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"EncodedAnswers is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"EncodedAnswers is immutable; cannot delete {name!r}")

    def __repr__(self) -> str:
        return (f"EncodedAnswers(answers={len(self.items)}, n_items={self.n_items}, "
                f"n_annotators={self.n_annotators}, n_classes={self.n_classes})")

    def _numpy_names(self, field: str) -> np.ndarray:
        names = self._names[field]
        if isinstance(names, pa.Array):
            names = self._names[field] = _names(names)  # converted once, then kept
        return names

    @property
    def item_names(self) -> np.ndarray:
        return self._numpy_names("item_names")

    @property
    def annotator_names(self) -> np.ndarray:
        return self._numpy_names("annotator_names")

    @property
    def label_names(self) -> np.ndarray:
        return self._numpy_names("label_names")

    def names_arrow(self, column: str) -> pa.Array:
        """Names of ``column`` (``"item"``, ``"annotator"`` or ``"label"``) as an Arrow string
        array, without building Python strings when they were never converted."""
        names = self._names[f"{column}_names"]
        return names if isinstance(names, pa.Array) else pa.array(names, type=pa.string())

    def names_of(self, column: str, codes: np.ndarray) -> pa.Array:
        """The names of ``column`` for the given codes, as an Arrow string array: what
        ``names_arrow(column).take(pa.array(codes))`` gives (and raises), gathered by the native
        library (``native.take_strings``) when it is in use and the codes are an int64 array."""
        names = self.names_arrow(column)
        if isinstance(codes, np.ndarray):
            taken = native.take_strings(names, codes)
            if taken is not None:
                return taken
        return names.take(pa.array(codes))

    @property
    def n_items(self) -> int:
        return len(self._names["item_names"])

    @property
    def n_annotators(self) -> int:
        return len(self._names["annotator_names"])

    @property
    def n_classes(self) -> int:
        return len(self._names["label_names"])

    def arrays(self) -> dict[str, object]:
        """Keyword arguments for :func:`labeling.aggregation.aggregate` and friends."""
        return {
            "items": self.items,
            "annotators": self.annotators,
            "labels": self.labels,
            "n_items": self.n_items,
            "n_annotators": self.n_annotators,
            "n_classes": self.n_classes,
        }

    def encode_gold(self, gold: Mapping[str, str] | pd.Series) -> np.ndarray:
        """Per-item gold codes (-1 where unknown) from an item-name -> label-name mapping.

        Items or labels that do not occur in the answers are ignored.
        """
        import pandas as pd

        series = gold if isinstance(gold, pd.Series) else pd.Series(gold, dtype=object)
        item_pos = pd.Index(self.item_names).get_indexer(series.index.astype(str))
        label_pos = pd.Index(self.label_names).get_indexer(series.astype(str).to_numpy())
        keep = (item_pos >= 0) & (label_pos >= 0)
        out = np.full(self.n_items, -1, dtype=np.int64)
        out[item_pos[keep]] = label_pos[keep]
        return out


def _is_arrow_strings(values: object) -> bool:
    """True for an Arrow (chunked) array of strings, or of dictionary-encoded strings."""
    if not isinstance(values, (pa.Array, pa.ChunkedArray)):
        return False
    kind = values.type
    if pa.types.is_dictionary(kind) or pa.types.is_run_end_encoded(kind):
        kind = kind.value_type
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _arrow_strings(values: Iterable[object] | pd.Series | pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    """``values`` as an Arrow string column, compared as strings (``str(value)``).

    Arrow string columns are used as they are; anything else goes through pandas ``astype("str")``
    (which is what turns ``1`` into ``"1"``) and is then taken over without copying when pandas
    already stores it in Arrow. Missing values raise ValueError naming the first position.
    """
    if _is_arrow_strings(values):
        arr = values if isinstance(values, pa.ChunkedArray) else pa.chunked_array([values])
    else:
        import pandas as pd

        if isinstance(values, (pa.Array, pa.ChunkedArray)):
            values = values.to_pandas()
        series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object), dtype="str")
        if series.isna().any():
            raise ValueError(f"missing value at position {int(np.flatnonzero(series.isna().to_numpy())[0])}")
        arr = pa.array(series.astype("str"))  # zero-copy when pandas stores the strings in Arrow
        if not isinstance(arr, pa.ChunkedArray):
            arr = pa.chunked_array([arr])
    if pa.types.is_run_end_encoded(arr.type):
        if any(chunk.values.null_count for chunk in arr.chunks):  # the runs hold the nulls
            decoded = pa.chunked_array([pc.run_end_decode(chunk) for chunk in arr.chunks], type=arr.type.value_type)
            if decoded.null_count:
                raise ValueError(f"missing value at position {_first_null(decoded)}")
    elif arr.null_count:
        raise ValueError(f"missing value at position {_first_null(arr)}")
    return arr


def _first_null(arr: pa.ChunkedArray) -> int:
    return int(np.flatnonzero(pc.is_null(arr).to_numpy(zero_copy_only=False))[0])


#: A column is encoded run by run when it has at most this share of runs per value (a run: one
#: value on consecutive rows, as the items of a file grouped by item).
RUN_SHARE = 0.5


def find_runs(values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(run lengths, the value of each run) of a plain string array: consecutive equal values form
    one run. Adjacent values are compared byte by byte (no hashing); the same value may start
    several runs."""
    n = len(values)
    if n <= 1:
        return np.full(n, 1, dtype=np.int64), values
    lengths, starts = _run_bounds(values)
    return lengths, values.take(pa.array(starts))


def _run_bounds(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(run lengths, run starts) of a plain string array of two or more values."""
    differs = pc.not_equal(values[1:], values[:-1])  # values[j + 1] starts a run
    starts = np.empty(1 + differs.true_count, dtype=np.int64)
    starts[0] = 0
    np.add(pc.indices_nonzero(differs).to_numpy(), 1, out=starts[1:])
    return np.diff(starts, append=len(values)), starts


def run_end_encode(values: pa.Array | pa.ChunkedArray, share: float = RUN_SHARE) -> pa.Array | None:
    """``values`` (plain strings, no nulls) as a run-end encoded array, or None when it has more
    than ``share`` runs per value (then hashing every value is cheaper)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    n = len(values)
    if n <= 1:
        return None
    lengths, starts = _run_bounds(values)
    if len(starts) > share * n:
        return None
    ends = np.empty(len(starts), dtype=np.int32 if n < 2**31 else np.int64)
    ends[:-1] = starts[1:]  # a run ends where the next one starts
    ends[-1] = n
    return pa.RunEndEncodedArray.from_arrays(pa.array(ends), values.take(pa.array(starts)))


def _run_lengths(chunk: pa.RunEndEncodedArray) -> tuple[np.ndarray, pa.Array]:
    """(run lengths, run values) of a run-end encoded chunk, slices included."""
    first, count = chunk.find_physical_offset(), chunk.find_physical_length()
    ends = chunk.run_ends.to_numpy()[first:first + count].astype(np.int64)
    np.clip(ends - chunk.offset, 0, len(chunk), out=ends)
    return np.diff(ends, prepend=0), chunk.values.slice(first, count)


def _in_order(entries: pa.Array) -> bool:
    return len(entries) <= 1 or pc.all(pc.less_equal(entries[:-1], entries[1:])).as_py()


def _sort_indices(values: pa.Array) -> np.ndarray:
    """Indices that sort a string array without nulls in UTF-8 byte order, as
    ``pc.array_sort_indices`` (up to the order of equal values)."""
    if len(values) >= _KEY_SORT_MIN and not values.null_count:
        order = _short_key_order(values)
        if order is not None:
            return order
    return pc.array_sort_indices(values).to_numpy()


#: Smallest array sorted through integer keys (below it Arrow's sort is as quick).
_KEY_SORT_MIN = 256

_BYTE_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(8)], dtype=np.uint64)


def _short_key_order(values: pa.Array) -> np.ndarray | None:
    """Sort order of strings that differ only in their last 7 bytes or fewer, through one
    integer key per string, or None for other strings.

    The strings share a prefix of ``P = max length - 7`` bytes (at most 8, as ``"item"`` in
    ``item0038851``); the key holds the next bytes, big-endian and zero-padded, then the suffix
    length in its lowest byte, so that integer order is byte order (a shorter string before any
    longer one it starts, NUL bytes included). Sorting 64-bit integers is several times quicker
    than comparing strings.
    """
    if sys.byteorder != "little":  # the keys are built from little-endian words
        return None
    if pa.types.is_string(values.type):
        offset_type = np.int32
    elif pa.types.is_large_string(values.type):
        offset_type = np.int64
    else:
        return None
    n = len(values)
    buffers = values.buffers()
    offsets = np.frombuffer(buffers[1], dtype=offset_type, count=n + 1, offset=values.offset * np.dtype(offset_type).itemsize)
    lengths = np.diff(offsets)
    longest, shortest = int(lengths.max()), int(lengths.min())
    prefix = max(longest - 7, 0)
    if prefix > min(shortest, 8):
        return None
    first, size = int(offsets[0]), int(offsets[-1] - offsets[0])
    padded = np.zeros(size + 8, np.uint8)  # every 8-byte read stays inside
    if size:
        padded[:size] = np.frombuffer(buffers[2], dtype=np.uint8, count=size, offset=first)
    words = np.ndarray((size + 1,), dtype="<u8", buffer=padded, strides=(1,))  # 8 bytes from any byte
    starts = offsets[:-1] - first
    key = np.empty(n, np.uint64)
    if prefix:
        np.take(words, starts, out=key)
        key &= _BYTE_MASKS[prefix]
        if not (key == key[0]).all():
            return None
        starts += prefix
        lengths -= prefix
    np.take(words, starts, out=key)
    scratch = _BYTE_MASKS[lengths]
    key &= scratch
    key.byteswap(inplace=True)  # first byte most significant; the lowest byte is free
    np.copyto(scratch, lengths, casting="unsafe")
    key |= scratch
    return np.argsort(key)


def _sorted_lookup(entries: pa.Array, redundant: bool | None) -> tuple[np.ndarray, pa.Array]:
    """(sorted code of every entry, sorted distinct entries).

    When few entries repeat (``redundant=False``), sort them all and merge equal neighbours
    (nothing to sort when they already are in order, as the item names of a file in item order
    are); otherwise hash them first and sort only the distinct ones. ``redundant=None``: entries
    already in order are merged, others are hashed unless a sample of them hardly repeats.
    """
    in_order = None
    if redundant is None:
        in_order = _in_order(entries)
        if in_order:
            redundant = False
        else:
            sample = entries.slice(0, _SAMPLE)
            redundant = pc.count_distinct(sample).as_py() < 0.9 * len(sample)
    if redundant:
        encoded = pc.dictionary_encode(entries)
        distinct = encoded.dictionary
        order = _sort_indices(distinct)
        rank = np.empty(order.size, dtype=np.int64)
        rank[order] = np.arange(order.size, dtype=np.int64)
        return rank[encoded.indices.to_numpy(zero_copy_only=False)], distinct.take(pa.array(order))
    if in_order is None:
        in_order = _in_order(entries)
    if in_order:
        order, ordered = None, entries  # already in order: only merge equal neighbours
    else:
        order = _sort_indices(entries)
        ordered = entries.take(pa.array(order))
    new = np.ones(len(ordered), dtype=bool)  # first of a run of equal entries
    if len(ordered) > 1:
        new[1:] = pc.not_equal(ordered[1:], ordered[:-1]).to_numpy(zero_copy_only=False)
    if order is None:
        lookup = np.cumsum(new) - 1
    else:
        lookup = np.empty(len(ordered), dtype=np.int64)
        lookup[order] = np.cumsum(new) - 1
    return lookup, ordered if new.all() else ordered.filter(pa.array(new))


#: Entries looked at to tell whether unsorted names repeat (see :func:`_sorted_lookup`).
_SAMPLE = 4096


def _factorize_runs(lengths: np.ndarray, values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Codes and sorted names of a column given as runs: only the run values are looked up, and
    each run's code is repeated over its rows. Every name is used by at least one row."""
    lookup, names = _sorted_lookup(values, redundant=None)
    return np.repeat(lookup, lengths), names


def _factorize_arrow(arr: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """(int64 codes, sorted distinct names as an Arrow array) of a string column without nulls.

    A run-end encoded column, or a plain column whose equal values mostly come together (the
    items of a file grouped by item; found by comparing neighbours, :func:`find_runs`), is
    encoded run by run (:func:`_factorize_runs`). Otherwise every value is hashed once
    (``dictionary_encode``; skipped when the column is already dictionary-encoded, e.g. by the
    CSV reader), then work is done on the dictionaries only: their entries get sorted codes
    (:func:`_sorted_lookup`), and each chunk's indices are mapped to those codes through a small
    lookup array (one ``take`` per chunk).
    """
    if pa.types.is_run_end_encoded(arr.type):
        runs = [_run_lengths(chunk) for chunk in arr.chunks if len(chunk)]
        if not runs:
            return np.zeros(0, dtype=np.int64), pa.array([], type=arr.type.value_type)
        lengths = np.concatenate([r[0] for r in runs])
        values = pa.concat_arrays([r[1] for r in runs]) if len(runs) > 1 else runs[0][1]
        return _factorize_runs(lengths, values)
    if not pa.types.is_dictionary(arr.type):
        try:
            plain = arr.combine_chunks()
        except (pa.ArrowInvalid, pa.ArrowCapacityError):  # over 2 GB of text in a string array
            plain = None
        if plain is not None:
            lengths, values = find_runs(plain)
            if len(values) <= RUN_SHARE * len(plain):
                return _factorize_runs(lengths, values)
        arr = pc.dictionary_encode(arr)  # one dictionary, shared by every chunk
    chunks = [chunk for chunk in arr.chunks if len(chunk)]
    if not chunks:
        return np.zeros(0, dtype=np.int64), pa.array([], type=arr.type.value_type)
    first = chunks[0].dictionary
    shared = all(c.dictionary.equals(first) for c in chunks[1:])
    if shared:
        lookup, names = _sorted_lookup(first, redundant=False)
    else:
        # the CSV reader gives one dictionary per block. Names spread over the whole file (labels,
        # annotators, items of a shuffled file) repeat in many blocks: estimate the repetition
        # from the overlap of the first two blocks.
        second = chunks[1].dictionary
        overlap = pc.sum(pc.is_in(second, value_set=first)).as_py() or 0
        redundant = len(chunks) * overlap >= len(second)
        lookup, names = _sorted_lookup(pa.concat_arrays([c.dictionary for c in chunks]), redundant)
    # Arrow's take reads the int32 indices as they are (np.take would first copy them to int64)
    # and allocates from Arrow's memory pool, which keeps freed pages: a process that encodes
    # repeatedly does not page-fault on fresh memory every time.
    lookup_array = pa.array(lookup)
    parts = []
    entry = 0
    for chunk in chunks:
        size = len(chunk.dictionary)
        parts.append(pc.take(lookup_array.slice(entry, size), chunk.indices))
        entry += 0 if shared else size
    codes = _writable_int64(pa.concat_arrays(parts) if len(parts) > 1 else parts[0])
    used = np.zeros(len(names), dtype=bool)
    used[codes] = True
    if not used.all():
        # a dictionary may hold values no row uses (e.g. a sliced or filtered column): drop
        # them, as factorize does
        codes = (np.cumsum(used) - 1)[codes]
        names = names.filter(pa.array(used))
    return codes, names


def _writable_int64(values: pa.Array) -> np.ndarray:
    """An int64 Arrow array without nulls as a writable NumPy array over the same memory."""
    buffer = values.buffers()[1]
    if not buffer.is_mutable:
        return values.to_numpy(zero_copy_only=False).copy()
    return np.frombuffer(buffer, dtype=np.int64, count=len(values), offset=values.offset * 8)


def factorize_sorted(
    values: Iterable[object] | pd.Series | pa.Array | pa.ChunkedArray,
) -> tuple[np.ndarray, np.ndarray]:
    """Codes and sorted unique names of a string column (same result as pandas
    ``factorize(values.astype("str"), sort=True)``, computed with Arrow kernels)."""
    codes, names = _factorize_arrow(_arrow_strings(values))
    return codes, _names(names)


#: Codes handed over with a table by :func:`table_with_codes`, until :func:`encode` takes them
#: or the table is gone: id(table) -> (weak reference to the table, ((codes, names) per column)).
_HANDED_OVER: dict[int, tuple[weakref.ref, tuple[tuple[np.ndarray, pa.Array], ...]]] = {}


def table_with_codes(parsed: native.ParsedAnswers) -> pa.Table:
    """The answers table of a native parse (:func:`labeling.aggregation.native.parse_file`):
    columns ``item, annotator, label`` dictionary-encoded over the sorted distinct names, whose
    int64 indices are the codes :func:`encode` gives.

    The parse's codes already follow the sorted names for every column whose names came in
    sorted order or are all of at most 16 bytes (sorted in C); otherwise they follow the names'
    first appearance, and the names are sorted as the pyarrow path sorts them
    (:func:`_sort_indices`) and the codes remapped in place. :func:`encode` on the
    returned table takes these codes as they are, once (an Arrow table is immutable, so the same
    object still holds the same values); the codes it hands out share their memory with the
    table's indices, as a NumPy view would.
    """
    columns = []
    for codes, names, in_order in zip(parsed.codes, parsed.names, parsed.in_order):
        if not in_order:
            order = _sort_indices(names)
            rank = np.empty(order.size, dtype=np.int64)
            rank[order] = np.arange(order.size, dtype=np.int64)
            native.remap(codes, rank)
            names = names.take(pa.array(order))
        columns.append((codes, names))
    table = pa.table({
        column: pa.DictionaryArray.from_arrays(pa.array(codes), names, safe=False)
        for column, (codes, names) in zip(ANSWER_COLUMNS, columns)
    })
    key = id(table)
    _HANDED_OVER[key] = (weakref.ref(table, lambda _ref, key=key: _HANDED_OVER.pop(key, None)), tuple(columns))
    return table


def _handed_over(table: pa.Table) -> tuple[tuple[np.ndarray, pa.Array], ...] | None:
    """The codes :func:`table_with_codes` attached to this very table (taken once), or None."""
    entry = _HANDED_OVER.get(id(table))
    if entry is None or entry[0]() is not table:
        return None
    del _HANDED_OVER[id(table)]
    return entry[1]


def _answer_columns(data: pd.DataFrame | pa.Table) -> tuple[object, object, object]:
    names = data.column_names if isinstance(data, pa.Table) else data.columns
    missing = [c for c in ANSWER_COLUMNS if c not in names]
    if missing:
        raise ValueError(f"missing column(s): {', '.join(missing)}")
    if isinstance(data, pa.Table):
        return data.column("item"), data.column("annotator"), data.column("label")
    return data["item"], data["annotator"], data["label"]


def encode(
    data: pd.DataFrame | pa.Table | None = None,
    *,
    items: Iterable[object] | None = None,
    annotators: Iterable[object] | None = None,
    labels: Iterable[object] | None = None,
    label_names: Sequence[str] | None = None,
) -> EncodedAnswers:
    """Encode answers given as a DataFrame (or Arrow table) with columns ``item, annotator,
    label`` or as columns (sequences, Series or Arrow arrays).

    Values are compared as strings. ``label_names`` fixes the label vocabulary and its code order
    (e.g. a project's configured labels, so codes stay stable as answers arrive); a label outside
    it raises ValueError. Without it, codes follow the sorted distinct labels. Missing values
    raise ValueError.
    """
    handed = _handed_over(data) if isinstance(data, pa.Table) else None
    if handed is not None:  # the native reader's table: already coded in sorted-name order
        (item_codes, item_names), (annotator_codes, annotator_names), (label_codes, names) = handed
    else:
        if data is not None:
            items, annotators, labels = _answer_columns(data)
        if items is None or annotators is None or labels is None:
            raise ValueError("give a DataFrame or all of items, annotators and labels")
        item_codes, item_names = _factorize_arrow(_arrow_strings(items))
        annotator_codes, annotator_names = _factorize_arrow(_arrow_strings(annotators))
        label_codes, names = _factorize_arrow(_arrow_strings(labels))
    if label_names is not None:
        fixed = np.asarray([str(x) for x in label_names], dtype=object)
        code_of = {name: code for code, name in enumerate(fixed)}
        if len(code_of) != len(fixed):
            raise ValueError("label_names has duplicates")
        given = _names(names)
        position = np.array([code_of.get(name, -1) for name in given], dtype=np.int64)  # given label -> code
        if (position < 0).any():
            bad = given[label_codes[np.flatnonzero(position[label_codes] < 0)[0]]]
            raise ValueError(f"label {bad!r} is not one of label_names")
        label_codes, names = position[label_codes], fixed
    if not (item_codes.size == annotator_codes.size == label_codes.size):
        raise ValueError("items, annotators and labels differ in length")
    return EncodedAnswers(
        items=item_codes,
        annotators=annotator_codes,
        labels=label_codes,
        item_names=item_names,
        annotator_names=annotator_names,
        label_names=names,
    )


@dataclass(frozen=True, eq=False)
class OpenEncodedAnswers:
    """Free-text answers with *item-local* label codes.

    Label code ``c`` on item ``i`` is the ``c``-th distinct normalised text given on that item,
    in sorted order: ``texts[offsets[i] + c]``. ``n_classes`` is the largest number of distinct
    texts on one item, so the dense per-item tables stay small however many different texts
    exist overall. Codes mean nothing across items: use methods that do not learn per-label
    parameters (majority or one-coin with ``uniform_prior=True``, weighted), not Dawid-Skene.
    """

    items: np.ndarray
    annotators: np.ndarray
    labels: np.ndarray
    item_names: np.ndarray
    annotator_names: np.ndarray
    texts: np.ndarray
    offsets: np.ndarray

    @property
    def n_items(self) -> int:
        return len(self.item_names)

    @property
    def n_annotators(self) -> int:
        return len(self.annotator_names)

    @property
    def n_classes(self) -> int:
        return int(self.labels.max()) + 1 if self.labels.size else 1

    def arrays(self) -> dict[str, object]:
        """Keyword arguments for :func:`labeling.aggregation.aggregate` and friends."""
        return {
            "items": self.items,
            "annotators": self.annotators,
            "labels": self.labels,
            "n_items": self.n_items,
            "n_annotators": self.n_annotators,
            "n_classes": self.n_classes,
        }

    def label_texts(self, labels: np.ndarray) -> np.ndarray:
        """Text of each item's label code (one code per item, -1 -> None)."""
        labels = np.asarray(labels)
        out = np.full(labels.size, None, dtype=object)
        known = labels >= 0
        out[known] = self.texts[self.offsets[np.flatnonzero(known)] + labels[known]]
        return out


def encode_open(
    data: pd.DataFrame | pa.Table | None = None,
    *,
    items: Iterable[object] | None = None,
    annotators: Iterable[object] | None = None,
    texts: Iterable[object] | None = None,
    ops: Sequence[str] | None = None,
) -> OpenEncodedAnswers:
    """Encode free-text answers: normalise (see :func:`labeling.aggregation.normalize_text`;
    ``ops=None`` uses every operation) and give each distinct text an item-local code.

    ``data`` may be a DataFrame (or Arrow table) with columns ``item, annotator, label``.
    """
    if data is not None:
        items, annotators, texts = _answer_columns(data)
    if items is None or annotators is None or texts is None:
        raise ValueError("give a DataFrame or all of items, annotators and texts")
    item_codes, item_names = factorize_sorted(items)
    annotator_codes, annotator_names = factorize_sorted(annotators)
    if isinstance(texts, (pa.Array, pa.ChunkedArray)):
        texts = texts.to_pandas()
    text_codes, text_names = factorize_sorted(normalize_text(texts, DEFAULT_TEXT_OPS if ops is None else ops))
    if not (item_codes.size == annotator_codes.size == text_codes.size):
        raise ValueError("items, annotators and texts differ in length")
    n_texts = max(len(text_names), 1)
    pairs, pair_of_answer = np.unique(item_codes * n_texts + text_codes, return_inverse=True)
    offsets = np.searchsorted(pairs // n_texts, np.arange(len(item_names)))
    return OpenEncodedAnswers(
        items=item_codes,
        annotators=annotator_codes,
        labels=(pair_of_answer - offsets[item_codes]).astype(np.int64),
        item_names=item_names,
        annotator_names=annotator_names,
        texts=text_names[pairs % n_texts],
        offsets=offsets,
    )
