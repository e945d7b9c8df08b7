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
import pyarrow.compute as pc
import pytest

from labeling.aggregation import aggregate, encode, encode_open
from labeling.aggregation.cli import CLIError, read_answer_table, read_answers, run_aggregate
from labeling.aggregation.encoding import _sorted_lookup, factorize_sorted, find_runs, run_end_encode

FIELDS = ("items", "annotators", "labels", "item_names", "annotator_names", "label_names")


@pytest.fixture(autouse=True)
def _pyarrow_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the pyarrow reader (its blocks, dictionaries and runs): the native
    reader is switched off here, and test_native_reader.py holds it to this one's results."""
    monkeypatch.setenv("QUORUM_NATIVE", "0")

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
    assert table.column("label").num_chunks > 1 and pa.types.is_dictionary(table.column("label").type)
    # items of a grouped file come in runs: run-end encoded; otherwise dictionary-encoded per block
    # (shuffled: mostly distinct, so hashed once over the whole column: one dictionary)
    item_type = table.column("item").type
    assert pa.types.is_run_end_encoded(item_type) if grouped else pa.types.is_dictionary(item_type)
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
    assert table.column("label").num_chunks > 1
    assert pa.types.is_run_end_encoded(table.column("item").type)
    enc = encode(table)
    _assert_same(enc, _reference_encode(path))
    # the same file read with items dictionary-encoded per block (an item's answers may straddle
    # a block boundary: the same name at the end of one dictionary and the start of the next)
    blocks = pa.chunked_array([pa.array(items[i:i + 40_000]).dictionary_encode() for i in range(0, n, 40_000)])
    codes, names = factorize_sorted(blocks)
    assert names.tolist() == enc.item_names.tolist() and codes.tolist() == enc.items.tolist()
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


# --- columns whose values come in runs (items of a file grouped by item) -------------------------


def _grouped_rows(n_items: int, per_item: int = 3, names=None) -> list[tuple[str, str, str]]:
    names = names or [f"q{i:04d}" for i in range(n_items)]
    return [(names[i % len(names)], f"w{(i * 7 + j) % 11}", ["cat", "dog", "NA"][(i + j) % 3])
            for i in range(n_items) for j in range(per_item)]


def test_grouped_file_items_run_end_encoded(tmp_path: Path) -> None:
    rows = _grouped_rows(200)
    path = _write_csv(tmp_path / "g.csv", rows)
    table = read_answer_table(path)
    assert pa.types.is_run_end_encoded(table.column("item").type)
    assert pa.types.is_dictionary(table.column("annotator").type)
    enc = encode(table)
    _assert_same(enc, _reference_encode(path))
    assert list(zip(enc.item_names[enc.items], enc.annotator_names[enc.annotators], enc.label_names[enc.labels])) == rows


def test_item_in_two_separate_runs(tmp_path: Path) -> None:
    # grouped, but q0005 comes back at the end and q0001 twice in the middle; names out of order
    rows = _grouped_rows(60)
    rows += [("q0005", "w1", "dog"), ("q0005", "w2", "cat"), ("q0001", "w3", "cat"), ("q0001", "w4", "NA")]
    rows += [("a-last", "w1", "dog"), ("a-last", "w5", "dog")]
    path = _write_csv(tmp_path / "twice.csv", rows)
    table = read_answer_table(path)
    assert pa.types.is_run_end_encoded(table.column("item").type)
    enc = encode(table)
    _assert_same(enc, _reference_encode(path))
    assert enc.item_names.tolist() == sorted({r[0] for r in rows})
    assert (enc.items[np.array([r[0] == "q0005" for r in rows])] == enc.item_names.tolist().index("q0005")).all()
    # the same answers in another row order encode to the same names, and the same codes per row
    shuffled = [rows[j] for j in np.random.default_rng(1).permutation(len(rows))]
    other = encode(read_answer_table(_write_csv(tmp_path / "shuffled.csv", shuffled)))
    assert other.item_names.tolist() == enc.item_names.tolist()
    assert sorted(zip(other.items.tolist(), other.annotators.tolist(), other.labels.tolist())) == sorted(
        zip(enc.items.tolist(), enc.annotators.tolist(), enc.labels.tolist()))


def test_grouped_names_with_commas_and_quotes(tmp_path: Path) -> None:
    names = ['q,1', 'say "hi"', "two\nlines", "é", "𝔸", "007", "7", "NA", " padded "]
    rows = _grouped_rows(len(names) * 4, per_item=4, names=names)  # each name in several runs
    path = _write_csv(tmp_path / "quoted.csv", rows)
    table = read_answer_table(path)
    assert pa.types.is_run_end_encoded(table.column("item").type)
    enc = encode(table)
    _assert_same(enc, _reference_encode(path))
    assert enc.item_names.tolist() == sorted(names)


def test_grouped_start_then_shuffled(tmp_path: Path) -> None:
    # the first rows come in runs, the rest does not: the reader falls back to hashing
    rng = np.random.default_rng(2)
    rows = _grouped_rows(2000, per_item=2)
    head, tail = rows[:3000], rows[3000:]
    rows = head + [tail[j] for j in rng.permutation(len(tail))]
    path = _write_csv(tmp_path / "mixed.csv", rows)
    table = read_answer_table(path)
    assert pa.types.is_dictionary(table.column("item").type)
    _assert_same(encode(table), _reference_encode(path))


def test_single_row_and_header_only(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "one.csv", [("q,1", 'ann "x"', "cat")])
    enc = encode(read_answer_table(path))
    _assert_same(enc, _reference_encode(path))
    assert (enc.n_items, enc.n_annotators, enc.n_classes) == (1, 1, 1)
    out = tmp_path / "out.csv"
    assert run_aggregate(path, "majority", out)["items"] == 1
    assert pd.read_csv(out, dtype=str).loc[0, "item"] == "q,1"
    with pytest.raises(CLIError, match="no answers"):
        read_answer_table(_write_csv(tmp_path / "header.csv", []))
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(CLIError, match="the file is empty"):
        read_answer_table(tmp_path / "empty.csv")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"item,annotator,label\n" + b"q1,a,cat\n" * 20 + b",b,dog\n" + b"q2,a,cat\n" * 20, "empty value in column 'item' at line 22"),
        (b"item,annotator,label\n" + b"q1,a,cat\n" * 20 + b'q1,b,""\n', "empty value in column 'label' at line 22"),
        (b"item,annotator,label\n" + b"q1,a,cat\n" * 20 + b"q\xff2,a,cat\n" * 5, "line 22 is not valid UTF-8"),
    ],
)
def test_run_columns_checked(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(CLIError, match=message):
        read_answer_table(path)


@pytest.mark.parametrize("order", ["sorted", "reversed", "repeating"])
def test_plain_columns_with_runs(order: str) -> None:
    """encode finds runs in plain columns too (Arrow or pandas), whatever the order of the runs."""
    base = [f"it{i}" for i in range(50)]
    runs = {"sorted": base, "reversed": base[::-1], "repeating": ["b", "a", "c"] * 20}[order]
    items = [name for name in runs for _ in range(3)]
    labels = [name for name in (["y", "x"] * 100)[: len(items) // 2] for _ in range(2)] + ["x"] * (len(items) % 2)
    annotators = [f"w{i % 4}" for i in range(len(items))]
    want_items = _reference_factorize(pd.Series(items))
    want_labels = _reference_factorize(pd.Series(labels))
    for table in (pa.table({"item": items, "annotator": annotators, "label": labels}),
                  pa.Table.from_batches([b for b in pa.table({"item": items, "annotator": annotators,
                                                             "label": labels}).to_batches(max_chunksize=7)]),
                  pd.DataFrame({"item": items, "annotator": annotators, "label": labels})):
        enc = encode(table)
        assert enc.items.tolist() == want_items[0].tolist() and enc.item_names.tolist() == want_items[1].tolist()
        assert enc.labels.tolist() == want_labels[0].tolist() and enc.label_names.tolist() == want_labels[1].tolist()


def test_run_end_encoded_input() -> None:
    values = ["b", "b", "a", "a", "a", "c", "b", "b"]
    column = pa.chunked_array([pc.run_end_encode(pa.array(values[:5])), pc.run_end_encode(pa.array(values[5:]))])
    codes, names = factorize_sorted(column)
    assert names.tolist() == ["a", "b", "c"] and codes.tolist() == [1, 1, 0, 0, 0, 2, 1, 1]
    sliced = pc.run_end_encode(pa.array(values)).slice(1, 5)  # b a a a c
    codes, names = factorize_sorted(sliced)
    assert names.tolist() == ["a", "b", "c"] and codes.tolist() == [1, 0, 0, 0, 2]
    codes, names = factorize_sorted(pc.run_end_encode(pa.array(values)).slice(2, 3))
    assert names.tolist() == ["a"] and codes.tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="missing value at position 3"):
        factorize_sorted(pc.run_end_encode(pa.array(["a", "a", "b", None])))
    empty = factorize_sorted(pa.chunked_array([], type=pa.run_end_encoded(pa.int32(), pa.string())))
    assert empty[0].tolist() == [] and empty[1].tolist() == []


def test_empty_columns() -> None:
    for values in (pa.array([], pa.string()), pa.chunked_array([], type=pa.string()), []):
        codes, names = factorize_sorted(values)
        assert codes.dtype == np.int64 and codes.tolist() == [] and names.tolist() == []
    enc = encode(pa.table({"item": pa.array([], pa.string()), "annotator": pa.array([], pa.string()),
                           "label": pa.array([], pa.string())}))
    assert (enc.n_items, enc.n_annotators, enc.n_classes, enc.items.size) == (0, 0, 0, 0)


def test_find_runs() -> None:
    lengths, values = find_runs(pa.array(["x", "x", "y", "x", "x", "x"]))
    assert lengths.tolist() == [2, 1, 3] and values.to_pylist() == ["x", "y", "x"]
    assert run_end_encode(pa.array(["x", "y", "z"])) is None  # no runs: not worth it
    ree = run_end_encode(pa.chunked_array([["x", "x"], ["x", "y", "y"]]))
    assert pc.run_end_decode(ree).to_pylist() == ["x", "x", "x", "y", "y"]
    lengths, values = find_runs(pa.array(["only"]))
    assert lengths.tolist() == [1] and values.to_pylist() == ["only"]


def test_column_plan(tmp_path: Path) -> None:
    from labeling.aggregation.cli import _column_plan

    grouped = _write_csv(tmp_path / "g.csv", _grouped_rows(300))
    assert _column_plan(grouped) == {"item": "runs", "annotator": "dictionary", "label": "dictionary"}
    rows = [(f"q{j}", f"w{j % 5}", "cat") for j in np.random.default_rng(0).permutation(500)]
    shuffled = _write_csv(tmp_path / "s.csv", rows)
    assert _column_plan(shuffled) == {"item": "hash", "annotator": "dictionary", "label": "runs"}
    table = read_answer_table(shuffled)
    assert table.column("item").num_chunks == 1 and pa.types.is_dictionary(table.column("item").type)
    _assert_same(encode(table), _reference_encode(shuffled))
    # too few rows, or a sample the reader cannot parse: dictionary-encode while parsing
    assert set(_column_plan(_write_csv(tmp_path / "h.csv", [])).values()) == {"dictionary"}
    assert set(_column_plan(_write_csv(tmp_path / "m.csv", [("q", "a", "b")], header=("item", "x", "label"))).values()) == {"dictionary"}


def _byte_sorted(values: list[str]) -> list[str]:
    return sorted(values, key=lambda v: v.encode("utf-8"))


@pytest.mark.parametrize("seed", range(6))
def test_integer_key_sort_is_byte_order(seed: int) -> None:
    """Strings that differ only in their last 7 bytes sort through integer keys: the same order
    as Arrow's (UTF-8 bytes), NUL bytes, shorter prefixes and non-ASCII included; others fall
    back to Arrow's sort."""
    from labeling.aggregation.encoding import _short_key_order, _sort_indices

    rng = np.random.default_rng(seed)
    alphabet = ["\x00", "0", "1", "9", "a", "z", "é", "🐈", " "]
    prefix = ["", "item", "q-", "é"][seed % 4]
    values = [prefix + "".join(rng.choice(alphabet, rng.integers(0, 4))) for _ in range(4000)]
    values = [v for v in values if len(v.encode()) - len(prefix.encode()) <= 7][:3000]  # 7-byte tails
    values += [prefix, prefix + "\x00", prefix + "\x00\x00", prefix + "0"]
    for kind in (pa.string(), pa.large_string()):
        array = pa.array(values, type=kind)
        for part in (array, array.slice(17, 2500)):
            order = _sort_indices(part)
            assert part.take(pa.array(order)).to_pylist() == _byte_sorted(part.to_pylist())
            assert _short_key_order(part) is not None  # the integer path was taken
    long = pa.array([f"{prefix}name-{i:012d}" for i in rng.permutation(2000)])  # too long: Arrow's sort
    assert _short_key_order(long) is None
    assert long.take(pa.array(_sort_indices(long))).to_pylist() == _byte_sorted(long.to_pylist())
    mixed = pa.array([f"a{i}" for i in range(400)] + ["b" + "x" * 9])  # no common 3-byte prefix
    assert _short_key_order(mixed) is None
    assert mixed.take(pa.array(_sort_indices(mixed))).to_pylist() == _byte_sorted(mixed.to_pylist())
    differ = pa.array([f"p{i % 7}{i:07d}" for i in range(400)])  # 9 bytes, but no common 2-byte prefix
    assert _short_key_order(differ) is None
    assert differ.take(pa.array(_sort_indices(differ))).to_pylist() == _byte_sorted(differ.to_pylist())
