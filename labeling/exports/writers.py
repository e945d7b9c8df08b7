"""File writers for dataset versions: canonical JSONL, CSV, Parquet. Pure: no Django.

The export writes every row once, as canonical JSONL (one file per split), while it streams rows
from the database; CSV, Parquet and Label Studio JSON are then derived from those files, again
streaming. That keeps one pass over the database, lets the column types be known before the
Parquet schema is fixed, and makes every format a function of the same canonical bytes.

Row shape (the same in every format)::

    item_id, external_id, <data fields, sorted by column name>, label, confidence, source, answers, agreement

A data field whose name is one of the row's own columns is renamed ``data.<name>``.

Determinism: rows are in item-id order, keys in the order above, nested objects with sorted
keys, no timestamps in any file; Parquet row groups have a fixed size. The same rows give the same
bytes (Parquet: for the same pyarrow version, whose name is written in the file's footer).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HEAD_COLUMNS: tuple[str, ...] = ("item_id", "external_id")
TAIL_COLUMNS: tuple[str, ...] = ("label", "confidence", "source", "answers", "agreement")
RESERVED = frozenset(HEAD_COLUMNS + TAIL_COLUMNS)
FIXED_TYPES = {"item_id": "int", "external_id": "string", "confidence": "float", "source": "string",
               "answers": "int", "agreement": "float"}

FORMATS: tuple[str, ...] = ("jsonl", "csv", "parquet", "labelstudio")
EXTENSIONS = {"jsonl": "jsonl", "csv": "csv", "parquet": "parquet", "labelstudio": "labelstudio.json"}
CONTENT_TYPES = {
    "jsonl": "application/jsonl",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "labelstudio": "application/json",
    "index": "application/gzip",
}
INDEX_NAME = "index.jsonl.gz"
INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class FileResult:
    sha256: str
    size: int
    rows: int


class HashingWriter(io.RawIOBase):
    """A binary file that keeps the sha256 and the size of what was written."""

    def __init__(self, path: Path) -> None:
        self._fh = open(path, "wb")
        self._hash = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._hash.update(data)
        self.size += len(data)
        return self._fh.write(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        if not self._fh.closed:
            self._fh.flush()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            self._fh.close()
        super().close()

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def canonical(value: Any) -> Any:
    """Nested objects with sorted keys (PostgreSQL's jsonb and SQLite keep keys in different orders)."""
    if isinstance(value, dict):
        return {str(k): canonical(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


_SCALARS = (str, int, float, bool, type(None))
_column_order_cache: dict[tuple, list[tuple[str, Any]]] = {}


def _data_columns(data: dict) -> list[tuple[str, Any]]:
    """(column, key) pairs of a data dict in column order; cached per key set (rows share them)."""
    keys = tuple(data)
    order = _column_order_cache.get(keys)
    if order is None:
        order = sorted((column_name(str(k)), k) for k in keys)
        if len(_column_order_cache) < 10_000:
            _column_order_cache[keys] = order
    return order


def build_row(*, item_id: int, external_id: str, data: dict | None, label: Any, confidence: float | None,
              source: str, answers: int, agreement: float | None) -> dict[str, Any]:
    """One dataset row in the fixed key order."""
    row: dict[str, Any] = {"item_id": item_id, "external_id": external_id}
    if data:
        for name, key in _data_columns(data):
            value = data[key]
            row[name] = value if type(value) in _SCALARS else canonical(value)
    row["label"] = label if type(label) in _SCALARS else canonical(label)
    row["confidence"] = confidence
    row["source"] = source
    row["answers"] = answers
    row["agreement"] = agreement
    return row


def column_name(field: str) -> str:
    """The row column of a data field: itself, or ``data.<field>`` when it would clash with one of
    the row's own columns (or already starts with ``data.``), so the mapping can be reversed."""
    return f"data.{field}" if field in RESERVED or field.startswith("data.") else field


def field_name(column: str) -> str:
    """The data field of a row column (the inverse of ``column_name``)."""
    return column[5:] if column.startswith("data.") else column


def data_of(row: dict[str, Any]) -> dict[str, Any]:
    """The item's data fields, under their own names, from a row."""
    return {field_name(k): v for k, v in row.items() if k not in RESERVED}


# --- Types -----------------------------------------------------------------------------------------

def type_of(value: Any) -> str:
    """The column type a value asks for: null, bool, int, float, string, list[string] or json."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if -INT64_MAX - 1 <= value <= INT64_MAX else "json"
    if isinstance(value, float):
        return "float" if math.isfinite(value) else "json"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "list[string]"
    return "json"


_FAST_TYPES = {str: "string", bool: "bool", type(None): "null"}  # int and float need a range check


def merge_types(a: str, b: str) -> str:
    """The narrowest type that holds both (int and float make float; anything else mixed is json)."""
    if a == b or b == "null":
        return a
    if a == "null":
        return b
    if {a, b} == {"int", "float"}:
        return "float"
    return "json"


class ColumnTypes:
    """Column types observed over a stream of rows, and the order data columns first appeared in."""

    def __init__(self) -> None:
        self.types: dict[str, str] = {}

    def observe(self, row: dict[str, Any]) -> None:
        types = self.types
        for key, value in row.items():
            if key in FIXED_TYPES:
                continue
            fast = _FAST_TYPES.get(type(value))
            old = types.get(key)
            if fast is not None and fast == old:
                continue
            t = fast if fast is not None else type_of(value)
            types[key] = t if old is None else (old if old == t else merge_types(old, t))

    def columns(self) -> list[str]:
        data = sorted(k for k in self.types if k not in RESERVED)
        return [*HEAD_COLUMNS, *data, *TAIL_COLUMNS]

    def as_dict(self) -> dict[str, str]:
        out = {}
        for name in self.columns():
            out[name] = FIXED_TYPES.get(name) or self.types.get(name, "null")
        return out


# --- JSONL -----------------------------------------------------------------------------------------

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def encode_jsonl(row: dict[str, Any]) -> bytes:
    return (_ENCODER.encode(row) + "\n").encode()


class JsonlWriter:
    """Writes rows as JSON Lines (UTF-8, one object per line, ``\\n`` endings)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._out = HashingWriter(path)
        self._buffer = io.BufferedWriter(self._out, buffer_size=1024 * 1024)
        self.rows = 0

    def write(self, row: dict[str, Any]) -> None:
        self._buffer.write(encode_jsonl(row))
        self.rows += 1

    def close(self) -> FileResult:
        self._buffer.flush()
        self._buffer.close()
        return FileResult(self._out.hexdigest(), self._out.size, self.rows)


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


# --- CSV -------------------------------------------------------------------------------------------

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """OWASP's advice against CSV injection: a cell a spreadsheet could run as a formula (starting
    with = + - @, a tab or a carriage return) gets a leading single quote. Plain numbers written as
    text (``-5``, ``+3.2``, ``-1e3``) are left as they are: they are not formulas."""
    if cell and cell.startswith(_FORMULA_START) and not _NUMBER.match(cell):
        return "'" + cell
    return cell


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return neutralise(value)
    return neutralise(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def write_csv(rows: Iterable[dict[str, Any]], columns: list[str], path: Path) -> FileResult:
    """CSV with a header, RFC 4180 quoting and ``\\r\\n`` line ends. Lists and objects are JSON text;
    booleans ``true``/``false``; missing values empty; formula-like text neutralised."""
    out = HashingWriter(path)
    count = 0
    with io.TextIOWrapper(io.BufferedWriter(out, buffer_size=1024 * 1024), encoding="utf-8", newline="") as text:
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow([neutralise(c) for c in columns])
        for row in rows:
            writer.writerow([csv_cell(row.get(c)) for c in columns])
            count += 1
    return FileResult(out.hexdigest(), out.size, count)


# --- Parquet ---------------------------------------------------------------------------------------

def arrow_type(kind: str):
    import pyarrow as pa

    return {
        "bool": pa.bool_(),
        "int": pa.int64(),
        "float": pa.float64(),
        "string": pa.string(),
        "list[string]": pa.list_(pa.string()),
        "json": pa.string(),
        "null": pa.string(),
    }[kind]


def arrow_schema(types: dict[str, str]):
    """The Parquet schema: one typed column per field; ``json`` columns hold JSON text."""
    import pyarrow as pa

    fields = [pa.field(name, arrow_type(kind), nullable=name not in ("item_id", "external_id", "source", "answers"))
              for name, kind in types.items()]
    metadata = {b"quorum.column_types": json.dumps(types, separators=(",", ":")).encode()}
    return pa.schema(fields, metadata=metadata)


def _column_value(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "json":
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    if kind == "float":
        return float(value)
    return value


def write_parquet(rows: Iterable[dict[str, Any]], types: dict[str, str], path: Path,
                  row_group_size: int = 50_000) -> FileResult:
    """Parquet (snappy) with the schema from ``types``; one row group per ``row_group_size`` rows,
    written as they come, so memory holds one row group at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = arrow_schema(types)
    names = list(types)
    kinds = [types[n] for n in names]
    out = HashingWriter(path)
    count = 0
    with pq.ParquetWriter(out, schema, compression="snappy", version="2.6", write_statistics=True,
                          use_dictionary=True) as writer:
        columns: list[list[Any]] = [[] for _ in names]

        def flush() -> None:
            if not columns[0]:
                return
            arrays = [pa.array(col, type=schema.field(i).type) for i, col in enumerate(columns)]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema), row_group_size=row_group_size)
            for col in columns:
                col.clear()

        for row in rows:
            for i, name in enumerate(names):
                columns[i].append(_column_value(kinds[i], row.get(name)))
            count += 1
            if count % row_group_size == 0:
                flush()
        flush()
        if count == 0:
            writer.write_table(schema.empty_table())
    out.close()
    return FileResult(out.hexdigest(), out.size, count)


# --- The label index (for diffs) -----------------------------------------------------------------

class IndexWriter:
    """``index.jsonl.gz``: one ``[item_id, external_id, label, split]`` line per row, in item-id
    order. Diffs between versions merge two of these, streaming. gzip with no name and no time."""

    def __init__(self, path: Path) -> None:
        self._out = HashingWriter(path)
        self._gz = gzip.GzipFile(filename="", mode="wb", fileobj=self._out, mtime=0, compresslevel=6)
        self._buffer = io.BufferedWriter(self._gz, buffer_size=1024 * 1024)
        self.rows = 0

    def write(self, item_id: int, external_id: str, label: Any, split: str) -> None:
        self._buffer.write((_ENCODER.encode([item_id, external_id, label, split]) + "\n").encode())
        self.rows += 1

    def close(self) -> FileResult:
        self._buffer.flush()
        self._gz.close()
        self._out.close()
        return FileResult(self._out.hexdigest(), self._out.size, self.rows)


def read_index(stream) -> Iterator[tuple[int, str, Any, str]]:
    """The lines of an index file, from a binary stream of its (gzip) bytes."""
    with gzip.GzipFile(fileobj=stream, mode="rb") as gz:
        for line in io.BufferedReader(gz, buffer_size=1024 * 1024):
            if line.strip():
                item_id, external_id, label, split = json.loads(line)
                yield item_id, external_id, label, split


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            h.update(chunk)
    return h.hexdigest()
