"""The Arrow encoder and CSV reader give exactly what the pandas path gave before.

The reference below is the previous implementation: ``pd.read_csv(dtype=str, engine="pyarrow",
keep_default_na=False, na_values=[""])`` and ``pd.factorize(column.astype("str"), sort=True)``
per column. The fast path must give the same codes, the same (sorted) name order, and keep every
value as the string in the file.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from labeling.aggregation import aggregate, encode, encode_open
from labeling.aggregation.cli import CLIError, read_answer_table, read_answers, run_aggregate
from labeling.aggregation.encoding import _sorted_lookup, factorize_sorted

FIELDS = ("items", "annotators", "labels", "item_names", "annotator_names", "label_names")

#: Values that trip up readers and sorters: CSV syntax inside fields, non-ASCII (accents,
#: combining marks, full-width and astral-plane letters, emoji), strings that look like numbers
#: or like missing values, whitespace.
TRICKY = [
    "cat", "Cat", "CAT", "dog", "a,b", 'say "hi"', "two\nlines", " padded ", "é", "É", "e\u0301",
    "ß", "Ａ", "𝔸", "🐈", "中文", "007", "7", "7.0", "1e3", "-0", "NA", "null", "None", "nan",
    "N/A", "NULL", "NaN", "#N/A", "TRUE", "false", "\t",
]


def _reference_factorize(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(values.astype("str"), sort=True)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


def _reference_encode(path: Path) -> dict[str, np.ndarray]:
    df = pd.read_csv(path, dtype=str, engine="pyarrow", keep_default_na=False, na_values=[""])
    out = {}
    for column, plural in (("item", "items"), ("annotator", "annotators"), ("label", "labels")):
        codes, names = _reference_factorize(df[column])
        out[plural], out[f"{column}_names"] = codes, names
    return out


def _assert_same(enc, expected: dict[str, np.ndarray]) -> None:
    for field in FIELDS:
        got, want = getattr(enc, field), expected[field]
        assert got.dtype == want.dtype, field
        assert got.tolist() == want.tolist(), field


def _write_csv(path: Path, rows: list[tuple[str, str, str]], header=("item", "annotator", "label")) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_tricky_values_survive_the_csv_reader_and_encoder(tmp_path: Path) -> None:
    rows = [(f"q{i % 7}" if i % 3 else TRICKY[(i * 5) % len(TRICKY)], TRICKY[(i * 3) % len(TRICKY)], value)
            for i, value in enumerate(TRICKY * 3)]
    path = _write_csv(tmp_path / "tricky.csv", rows)
    enc = encode(read_answer_table(path))
    _assert_same(enc, _reference_encode(path))
    assert set(enc.label_names) == set(TRICKY)  # every value kept as the string in the file
    assert enc.label_names.tolist() == sorted(TRICKY)  # Python string (code point) order
    # row j's names are the file's row j
    decoded = list(zip(enc.item_names[enc.items], enc.annotator_names[enc.annotators], enc.label_names[enc.labels]))
    assert decoded == rows
    # the pandas form the command used before gives the same
    _assert_same(encode(read_answers(path)), _reference_encode(path))


def test_numeric_and_missing_looking_values_stay_strings(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(
        "item,annotator,label\n007,1,NA\n7,01,null\n007,1.0,None\n\"7\",1,nan\n0.50,1,N/A\n", encoding="utf-8"
    )
    enc = encode(read_answer_table(path))
    assert enc.item_names.tolist() == ["0.50", "007", "7"]
    assert enc.annotator_names.tolist() == ["01", "1", "1.0"]
    assert enc.label_names.tolist() == ["N/A", "NA", "None", "nan", "null"]
    assert enc.items.tolist() == [1, 2, 1, 2, 0]
    assert enc.labels.tolist() == [1, 4, 2, 3, 0]
    _assert_same(enc, _reference_encode(path))


def test_quoted_fields(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_bytes(
        b'item,annotator,label\n"q,1","ann ""x""","multi\nline"\n"q,1",bob,plain\nq2,"ann ""x""",plain\n'
    )
    enc = encode(read_answer_table(path))
    assert enc.item_names.tolist() == ["q,1", "q2"]
    assert enc.annotator_names.tolist() == ['ann "x"', "bob"]
    assert enc.label_names.tolist() == ["multi\nline", "plain"]
    _assert_same(enc, _reference_encode(path))


def test_utf8_byte_order_is_python_string_order() -> None:
    # astral-plane characters sort after U+FFxx by code point (as in Python), though UTF-16
    # would put them before
    values = ["𝔸", "Ａ", "z", "é", "e\u0301", "Z", "ß", "🐈", "\uffff", "a"]
    codes, names = factorize_sorted(pa.array(values))
    assert names.tolist() == sorted(values)
    assert codes.tolist() == [sorted(values).index(v) for v in values]


@pytest.mark.parametrize("seed", range(5))
def test_random_files_match_the_previous_encoder(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    pool = np.array(TRICKY + [f"w{i}" for i in range(40)], dtype=object)
    n = int(rng.integers(1, 400))
    rows = [tuple(rng.choice(pool, size=3)) for _ in range(n)]
    path = _write_csv(tmp_path / f"r{seed}.csv", rows)
    expected = _reference_encode(path)
    _assert_same(encode(read_answer_table(path)), expected)
    _assert_same(encode(read_answer_table(path, dictionary=False)), expected)
    df = pd.DataFrame(rows, columns=["item", "annotator", "label"])
    _assert_same(encode(df), expected)
    _assert_same(encode(items=df["item"].tolist(), annotators=df["annotator"].tolist(),
                        labels=df["label"].to_numpy()), expected)


@pytest.mark.parametrize("grouped", [False, True])
def test_large_file_read_in_several_blocks(tmp_path: Path, grouped: bool) -> None:
    """Over the reader's 1 MB block size, each block gets its own dictionary; the codes must
    still follow one sorted order over the whole file, whether names repeat across blocks
    (annotators, labels, items of a shuffled file) or hardly at all (items of a file grouped by
    item)."""
    rng = np.random.default_rng(3)
    n = 70_000
    item_codes = rng.integers(0, 20_000, n)
    if grouped:
        item_codes = np.sort(item_codes)[::-1]  # grouped, in reverse order of the names
    items = np.char.add("item", item_codes.astype(str))
    annotators = np.char.add("ann-é-", rng.integers(0, 300, n).astype(str))
    labels = np.array(["bird", "cat", "dog", "NA", "007"])[rng.integers(0, 5, n)]
    path = tmp_path / "big.csv"
    pd.DataFrame({"item": items, "annotator": annotators, "label": labels}).to_csv(path, index=False)
    assert path.stat().st_size > 1_500_000
    table = read_answer_table(path)
    assert table.column("item").num_chunks > 1
    assert pa.types.is_dictionary(table.column("item").type)
    enc = encode(table)
    _assert_same(enc, _reference_encode(path))
    assert (enc.item_names[enc.items] == items).all() and (enc.label_names[enc.labels] == labels).all()


def test_chunked_dictionaries_with_unused_entries() -> None:
    values = ["b", "a", "c", "b", "d", "a"]
    dict_type = pa.dictionary(pa.int32(), pa.string())
    chunks = [
        pa.DictionaryArray.from_arrays(pa.array([0, 1, 2], pa.int32()), pa.array(["b", "a", "c", "zz"])),
        pa.DictionaryArray.from_arrays(pa.array([1, 0, 2], pa.int32()), pa.array(["d", "b", "a"])),
    ]
    column = pa.chunked_array(chunks, type=dict_type)
    assert column.to_pylist() == values
    codes, names = factorize_sorted(column)
    want_codes, want_names = _reference_factorize(pd.Series(values))
    assert names.tolist() == want_names.tolist() == ["a", "b", "c", "d"]  # "zz" is used by no row
    assert codes.tolist() == want_codes.tolist()
    # a slice keeps the full dictionaries: only the names of the sliced rows remain
    codes, names = factorize_sorted(column.slice(1, 2))
    assert names.tolist() == ["a", "c"] and codes.tolist() == [0, 1]
    # dictionaries without common names (hardly any repetition across chunks)
    disjoint = pa.chunked_array([pa.array(["q", "b", "q"]).dictionary_encode(),
                                 pa.array(["a", "c", "a", "z"]).dictionary_encode()], type=dict_type)
    codes, names = factorize_sorted(disjoint)
    assert names.tolist() == ["a", "b", "c", "q", "z"] and codes.tolist() == [3, 1, 3, 0, 2, 0, 4]
    # one shared dictionary (pyarrow's own dictionary_encode of a chunked column)
    shared = pa.chunked_array([["b", "a"], ["c", "b"], ["a"]]).dictionary_encode()
    codes, names = factorize_sorted(shared)
    assert names.tolist() == ["a", "b", "c"] and codes.tolist() == [1, 0, 2, 1, 0]


def test_non_string_inputs_are_compared_as_strings() -> None:
    enc = encode(items=[10, 2, 1, 10], annotators=[1.5, 2.0, 1.5, 3], labels=[True, "x", False, True])
    items = pd.Series([10, 2, 1, 10])
    want_codes, want_names = _reference_factorize(items)
    assert enc.item_names.tolist() == want_names.tolist() == ["1", "10", "2"]
    assert enc.items.tolist() == want_codes.tolist()
    assert enc.annotator_names.tolist() == ["1.5", "2.0", "3"]
    assert enc.label_names.tolist() == ["False", "True", "x"]


def test_missing_values_raise() -> None:
    with pytest.raises(ValueError, match="missing value at position 1"):
        encode(items=["a", None], annotators=["x", "y"], labels=["c", "d"])
    with pytest.raises(ValueError, match="missing value at position 2"):
        factorize_sorted(pa.chunked_array([["a", "b"], [None]]))
    with pytest.raises(ValueError, match="missing value at position 1"):
        factorize_sorted(pa.array(["a", None]).dictionary_encode())


def test_empty_fields_in_the_file_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text('item,annotator,label\nq1,a,cat\nq2,b,""\n', encoding="utf-8")
    with pytest.raises(CLIError, match="empty value in column 'label' at line 3"):
        read_answer_table(path)


def test_fixed_label_vocabulary() -> None:
    table = pa.table({"item": ["i", "j", "j"], "annotator": ["x", "y", "x"], "label": ["dog", "cat", "dog"]})
    enc = encode(table, label_names=["dog", "cat", "cow"])
    assert enc.label_names.tolist() == ["dog", "cat", "cow"] and enc.labels.tolist() == [0, 1, 0]
    with pytest.raises(ValueError, match="label 'emu' is not one of label_names"):
        encode(items=["i", "j", "k"], annotators=["x"] * 3, labels=["dog", "emu", "yak"], label_names=["dog"])
    with pytest.raises(ValueError, match="duplicates"):
        encode(table, label_names=["dog", "dog"])


def test_extra_columns_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("when,label,item,annotator,note\n1,cat,q1,a,\nlater,dog,q1,b,x\n", encoding="utf-8")
    table = read_answer_table(path)
    assert table.column_names == ["item", "annotator", "label"]
    assert encode(table).label_names.tolist() == ["cat", "dog"]


def test_encode_open_accepts_the_arrow_table() -> None:
    data = {"item": ["q", "q", "r"], "annotator": ["a", "b", "a"], "label": ["  @Paris ", "paris", "Rome"]}
    a = encode_open(pa.table(data))
    b = encode_open(pd.DataFrame(data))
    for field in ("items", "annotators", "labels", "item_names", "annotator_names", "texts", "offsets"):
        assert getattr(a, field).tolist() == getattr(b, field).tolist(), field


@pytest.mark.parametrize("method", ["majority", "dawid_skene"])
def test_aggregate_command_output_unchanged(tmp_path: Path, method: str) -> None:
    rng = np.random.default_rng(7)
    rows = [(f"it{int(i)}", f"w{int(a)}", ["bird", "cat", "dog"][int(c)])
            for i, a, c in zip(rng.integers(0, 300, 1500), rng.integers(0, 25, 1500), rng.integers(0, 3, 1500))]
    path = _write_csv(tmp_path / "in.csv", rows)
    out = tmp_path / "out.csv"
    run_aggregate(path, method, out)
    written = pd.read_csv(out, dtype=str, keep_default_na=False)
    ref = _reference_encode(path)
    result = aggregate(
        method, ref["items"], ref["annotators"], ref["labels"],
        n_items=len(ref["item_names"]), n_annotators=len(ref["annotator_names"]), n_classes=len(ref["label_names"]),
    )
    assert written["item"].tolist() == ref["item_names"].tolist()
    assert written["label"].tolist() == ref["label_names"][result.labels].tolist()
    assert np.allclose(written["confidence"].astype(float), np.round(result.confidence, 6))


def test_reader_errors_still_named(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("item,who,label\nq1,a,cat\n", encoding="utf-8")
    with pytest.raises(CLIError, match=r"missing column\(s\) annotator \(found: item, who, label\)"):
        read_answer_table(path)
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(CLIError, match="the file is empty"):
        read_answer_table(path)
    # same answers whichever reader is used
    assert read_answers(_write_csv(tmp_path / "s.csv", [("q", "a", "NA")])).values.tolist() == [["q", "a", "NA"]]


@pytest.mark.parametrize("redundant", [False, True])
def test_sorted_lookup_either_way(redundant: bool) -> None:
    entries = pa.array(["b", "a", "é", "a", "A", "b", "𝔸", "Ａ"])
    lookup, names = _sorted_lookup(entries, redundant)
    want = sorted(set(entries.to_pylist()))
    assert names.to_pylist() == want
    assert lookup.tolist() == [want.index(v) for v in entries.to_pylist()]


def test_names_stay_arrow_until_read(tmp_path: Path) -> None:
    rows = [("q2", "b", "dog"), ("q1", "a", "cat"), ("q2", "a", "cat")]
    enc = encode(read_answer_table(_write_csv(tmp_path / "n.csv", rows)))
    assert enc.names_arrow("item").to_pylist() == ["q1", "q2"]
    assert enc.item_names.dtype == object and enc.item_names.tolist() == ["q1", "q2"]
    assert enc.item_names is enc.item_names  # converted once
    assert enc.names_arrow("label").to_pylist() == ["cat", "dog"]
    assert (enc.n_items, enc.n_annotators, enc.n_classes) == (2, 2, 2)
    with pytest.raises(AttributeError):
        enc.items = np.zeros(3, dtype=np.int64)
    # codes are ordinary writable int64 arrays
    assert enc.items.dtype == np.int64 and enc.items.flags.writeable
    assert enc.items.tolist() == [1, 0, 1] and enc.labels.tolist() == [1, 0, 0]


def test_item_names_already_in_order_across_blocks(tmp_path: Path) -> None:
    # a file in item order: each block's dictionary is sorted and an item's answers may straddle
    # a block boundary (the same name at the end of one dictionary and the start of the next)
    n = 150_000
    items = np.char.add("item", np.char.zfill((np.arange(n) // 3).astype(str), 6))
    rng = np.random.default_rng(5)
    labels = np.array(["b", "a", "c"])[rng.integers(0, 3, n)]
    path = tmp_path / "ordered.csv"
    pd.DataFrame({"item": items, "annotator": np.char.add("w", (np.arange(n) % 7).astype(str)),
                  "label": labels}).to_csv(path, index=False)
    table = read_answer_table(path)
    assert table.column("item").num_chunks > 1
    enc = encode(table)
    _assert_same(enc, _reference_encode(path))
    # the same names out of order take the sorting path and agree
    codes, names = factorize_sorted(pa.chunked_array([items[::-1][: n // 2], items[::-1][n // 2:]]).dictionary_encode())
    assert names.tolist() == sorted(set(items.tolist())) and (names[codes] == items[::-1]).all()


@pytest.mark.parametrize(
    "content, message",
    [
        (b'item,annotator,label\nq1,a,cat\nq2,,dog\nq3,c,""\n', "empty value in column 'annotator' at line 3"),
        (b"item,annotator,label\nq1,a,cat\n,b,dog\n", "empty value in column 'item' at line 3"),
        (b"item,annotator,label\nq1,a,c\xe9t\nq2,,dog\n", "line 2 is not valid UTF-8"),
        (b"item,annotator,label\nq\xff1,a,cat\n", "line 2 is not valid UTF-8"),
    ],
)
def test_dictionary_read_checks(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(CLIError, match=message):
        read_answer_table(path)
    if b"\xff" not in content and b"\xe9" not in content:
        with pytest.raises(CLIError, match=message):
            read_answer_table(path, dictionary=False)
