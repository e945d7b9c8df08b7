"""The file writers: CSV neutralisation, Parquet types, JSONL loadable as it is, same bytes twice."""

from __future__ import annotations

import csv
import io
import json

import pyarrow.json as pj
import pyarrow.parquet as pq
import pytest

from labeling.exports import writers as w
from labeling.exports.diff import diff_indexes


def rows(n: int = 10):
    return [w.build_row(item_id=i, external_id=f"e{i}", data={"text": f"t{i}", "n": i, "score": i + 0.5,
                                                            "flag": i % 2 == 0, "meta": {"b": 1, "a": [i]},
                                                            "label": "clash"},
                        label=["a", "b"] if i % 2 else ["c"], confidence=0.5, source="consensus", answers=3,
                        agreement=None if i == 3 else 2 / 3) for i in range(n)]


@pytest.mark.parametrize("cell, expected", [
    ("=SUM(A1:A2)", "'=SUM(A1:A2)"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("@SUM(1)", "'@SUM(1)"),
    ("\tleading tab", "'\tleading tab"),
    ("\rcarriage", "'\rcarriage"),
    ("-5", "-5"),
    ("+3.25", "+3.25"),
    ("-1e3", "-1e3"),
    ("plain text", "plain text"),
    ("a=b", "a=b"),
    ("", ""),
])
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(cell, expected):
    assert w.neutralise(cell) == expected


def test_csv_has_the_columns_and_neutralised_cells(tmp_path):
    data = [w.build_row(item_id=1, external_id="=HYPERLINK(\"x\")", data={"text": "=1+1", "num": "-5"}, label="pos",
                        confidence=1.0, source="gold", answers=0, agreement=None)]
    types = w.ColumnTypes()
    types.observe(data[0])
    w.write_csv(iter(data), types.columns(), tmp_path / "x.csv")
    with open(tmp_path / "x.csv", newline="", encoding="utf-8") as fh:
        header, row = list(csv.reader(fh))
    assert header == ["item_id", "external_id", "num", "text", "label", "confidence", "source", "answers",
                      "agreement"]
    assert row == ["1", "'=HYPERLINK(\"x\")", "-5", "'=1+1", "pos", "1.0", "gold", "0", ""]


def test_column_types_and_renamed_fields():
    types = w.ColumnTypes()
    for row in rows():
        types.observe(row)
    assert types.as_dict() == {
        "item_id": "int", "external_id": "string", "data.label": "string", "flag": "bool", "meta": "json",
        "n": "int", "score": "float", "text": "string", "label": "list[string]", "confidence": "float",
        "source": "string", "answers": "int", "agreement": "float",
    }
    assert w.data_of(rows()[0])["label"] == "clash"


@pytest.mark.parametrize("values, expected", [
    ([1, 2.5], "float"), ([1, None], "int"), ([None, None], "null"), (["a", 1], "json"), ([True, 1], "json"),
    ([["a"], ["b", "c"]], "list[string]"), ([{"a": 1}], "json"), ([2**70], "json"),
])
def test_type_merging(values, expected):
    types = w.ColumnTypes()
    for v in values:
        types.observe({"f": v})
    assert types.types["f"] == expected


def test_parquet_keeps_types_and_the_same_rows_give_the_same_bytes(tmp_path):
    types = w.ColumnTypes()
    for row in rows(23):
        types.observe(row)
    a = w.write_parquet(iter(rows(23)), types.as_dict(), tmp_path / "a.parquet", row_group_size=5)
    b = w.write_parquet(iter(rows(23)), types.as_dict(), tmp_path / "b.parquet", row_group_size=5)
    assert a.sha256 == b.sha256 and (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    assert a.sha256 == w.file_sha256(tmp_path / "a.parquet") and a.size == (tmp_path / "a.parquet").stat().st_size
    meta = pq.ParquetFile(tmp_path / "a.parquet").metadata
    assert meta.num_rows == 23 and meta.num_row_groups == 5
    table = pq.read_table(tmp_path / "a.parquet")
    schema = {f.name: str(f.type) for f in table.schema}
    assert schema["n"] == "int64" and schema["score"] == "double" and schema["flag"] == "bool"
    assert schema["label"] == "list<element: string>" and schema["meta"] == "string"
    first = table.slice(0, 1).to_pylist()[0]
    assert first["label"] == ["c"] and json.loads(first["meta"]) == {"a": [0], "b": 1}
    assert table.column("agreement").to_pylist()[3] is None


def test_an_empty_parquet_file_has_the_schema(tmp_path):
    types = {"item_id": "int", "external_id": "string", "label": "string"}
    result = w.write_parquet(iter(()), types, tmp_path / "e.parquet")
    assert result.rows == 0
    assert pq.read_table(tmp_path / "e.parquet").schema.names == ["item_id", "external_id", "label"]


def test_jsonl_loads_with_arrow_json_reader_as_it_is(tmp_path):
    """Hugging Face's json loader reads JSON Lines with pyarrow's JSON reader."""
    writer = w.JsonlWriter(tmp_path / "x.jsonl")
    for row in rows(12):
        writer.write(row)
    result = writer.close()
    assert result.rows == 12 and result.sha256 == w.file_sha256(tmp_path / "x.jsonl")
    table = pj.read_json(tmp_path / "x.jsonl")
    assert table.num_rows == 12
    assert table.column("external_id").to_pylist()[:2] == ["e0", "e1"]
    first_line = (tmp_path / "x.jsonl").read_bytes().split(b"\n")[0]
    assert list(json.loads(first_line)) == ["item_id", "external_id", "data.label", "flag", "meta", "n", "score",
                                            "text", "label", "confidence", "source", "answers", "agreement"]


def test_jsonl_loads_with_the_hugging_face_datasets_loader(tmp_path):
    datasets = pytest.importorskip("datasets")
    writer = w.JsonlWriter(tmp_path / "train.jsonl")
    for row in rows(12):
        writer.write(row)
    writer.close()
    ds = datasets.load_dataset("json", data_files={"train": str(tmp_path / "train.jsonl")})["train"]
    assert ds.num_rows == 12 and ds[0]["external_id"] == "e0"


def test_nested_objects_are_written_with_sorted_keys():
    row = w.build_row(item_id=1, external_id="x", data={"z": {"b": 1, "a": {"d": 1, "c": 2}}}, label="l",
                      confidence=None, source="consensus", answers=0, agreement=None)
    assert w.encode_jsonl(row) == (b'{"item_id":1,"external_id":"x","z":{"a":{"c":2,"d":1},"b":1},"label":"l",'
                                   b'"confidence":null,"source":"consensus","answers":0,"agreement":null}\n')


def test_index_round_trip_and_diff(tmp_path):
    def index(path, entries):
        writer = w.IndexWriter(path)
        for e in entries:
            writer.write(*e)
        return writer.close()

    a = index(tmp_path / "a.gz", [(1, "a", "x", "train"), (2, "b", "y", "test"), (4, "d", "x", "train")])
    index(tmp_path / "a2.gz", [(1, "a", "x", "train"), (2, "b", "y", "test"), (4, "d", "x", "train")])
    assert a.sha256 == w.file_sha256(tmp_path / "a2.gz")  # gzip without name or time: same bytes
    index(tmp_path / "b.gz", [(1, "a", "x", "train"), (2, "b", "z", "test"), (3, "c", "x", "train")])
    with open(tmp_path / "a.gz", "rb") as fa, open(tmp_path / "b.gz", "rb") as fb:
        diff = diff_indexes(w.read_index(fa), w.read_index(fb), rows=True)
    assert diff.counts() == {"added": 1, "removed": 1, "relabelled": 1, "unchanged": 1}
    assert [(r["change"], r["item_id"]) for r in diff.rows] == [("relabelled", 2), ("added", 3), ("removed", 4)]
    with open(tmp_path / "a.gz", "rb") as fa, open(tmp_path / "b.gz", "rb") as fb:
        page = diff_indexes(w.read_index(fa), w.read_index(fb), rows=True, limit=2)
    assert len(page.rows) == 2 and page.next_after == 3


def test_hashing_writer_counts_what_it_writes(tmp_path):
    out = w.HashingWriter(tmp_path / "h")
    buffered = io.BufferedWriter(out)
    buffered.write(b"abc" * 1000)
    buffered.close()
    assert out.size == 3000 and out.hexdigest() == w.file_sha256(tmp_path / "h")
