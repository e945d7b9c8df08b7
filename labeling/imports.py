"""Parsing item files (JSONL, a JSON array, CSV) into rows, streaming, with errors by line.

Pure: no ORM. ``parse_items`` reads a binary stream a line at a time (never the whole file for
JSONL and CSV), checks every row and yields ``ParsedItem`` objects; problems are collected as
``FieldError``s with the line number, so that one pass reports every bad line of a file. The import
service stores nothing unless the whole file is clean.

Row shape
- JSONL / JSON array: an object per item. ``external_id`` (or ``id``) is required; ``gold`` is the
  optional known answer; the item's fields are either under ``data`` (an object) or the remaining
  top-level keys.
- CSV: a header line; ``external_id`` (or ``id``) column required, ``gold`` optional, every other
  column becomes a data field. Cells that look like spreadsheet formulas are refused unless
  ``allow_formulas`` is set, because they execute when someone opens an export in a spreadsheet.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from labeling.errors import FieldError

FORMATS = ("jsonl", "json", "csv")
MAX_EXTERNAL_ID = 255
MAX_ERRORS = 100

# OWASP "CSV injection": a cell is run as a formula when it starts with = + - @ (or a tab / CR
# before one). Plain negative numbers and "- bullet" text are not formulas, so only refuse cells
# that start with '=', or with + - @ followed by something a spreadsheet would evaluate.
_FORMULA = re.compile(r"^[\t\r ]*(=|[+\-@]\s*[A-Za-z_][A-Za-z0-9_.]*\s*[(!|]|[+\-@].*\|)")


def looks_like_formula(cell: str) -> bool:
    return bool(_FORMULA.match(cell))


@dataclass
class ParsedItem:
    line: int
    external_id: str
    data: dict[str, Any]
    gold: Any = None


class TooManyErrors(Exception):
    pass


class ImportReport:
    """Collects errors; stops the parse after MAX_ERRORS so a broken file does not flood."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, line: int | None, message: str, field: str = "file") -> None:
        prefix = f"line {line}: " if line is not None else ""
        self.errors.append(FieldError(field, prefix + message, line))
        if len(self.errors) >= MAX_ERRORS:
            raise TooManyErrors

    @property
    def ok(self) -> bool:
        return not self.errors


def guess_format(filename: str | None, content_type: str | None = None) -> str | None:
    name = (filename or "").lower()
    for ext, fmt in ((".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "json"), (".csv", "csv")):
        if name.endswith(ext):
            return fmt
    ct = (content_type or "").lower()
    if "csv" in ct:
        return "csv"
    if "ndjson" in ct or "jsonl" in ct:
        return "jsonl"
    if "json" in ct:
        return "json"
    return None


def _human_bytes(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n} bytes"


def _read_lines(stream: IO[bytes], report: ImportReport, max_bytes: int) -> Iterator[tuple[int, str]]:
    """Yield (line number, decoded text) with the line ending kept. A line over ``max_bytes`` is
    reported and skipped without being held in memory; bytes that are not UTF-8 are reported."""
    number = 0
    while True:
        raw = stream.readline(max_bytes + 1)
        if not raw:
            return
        number += 1
        if len(raw) > max_bytes and not raw.endswith(b"\n"):
            size = len(raw)
            while True:  # drain the rest of the oversized line
                chunk = stream.readline(1024 * 1024)
                size += len(chunk)
                if not chunk or chunk.endswith(b"\n"):
                    break
            report.add(number, f"{_human_bytes(size)} long; one item may be at most {_human_bytes(max_bytes)} "
                               "(QUORUM_MAX_ITEM_BYTES)")
            continue
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            report.add(number, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
                               "save the file as UTF-8")
            continue
        yield number, text


def _external_id(value: Any, line: int, report: ImportReport) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        report.add(line, f"external_id must be a string or an integer, got {type(value).__name__}",
                   field="external_id")
        return None
    text = str(value).strip()
    if not text:
        report.add(line, "external_id is empty", field="external_id")
        return None
    if len(text) > MAX_EXTERNAL_ID:
        report.add(line, f"external_id is {len(text)} characters; at most {MAX_EXTERNAL_ID}",
                   field="external_id")
        return None
    return text


_NUL_MESSAGE = "contains a NUL character (\\u0000), which the database cannot store; remove it"


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in key or _has_nul(v) for key, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _from_object(obj: Any, line: int, report: ImportReport) -> ParsedItem | None:
    if not isinstance(obj, dict):
        report.add(line, f"expected an object with external_id and data, got {type(obj).__name__}")
        return None
    if "external_id" in obj and "id" in obj:
        report.add(line, "has both external_id and id; give one", field="external_id")
        return None
    key = "external_id" if "external_id" in obj else "id" if "id" in obj else None
    if key is None:
        report.add(line, "missing external_id", field="external_id")
        return None
    ext = _external_id(obj[key], line, report)
    rest = {k: v for k, v in obj.items() if k not in (key, "gold")}
    if "data" in rest:
        if not isinstance(rest["data"], dict):
            report.add(line, "data must be an object", field="data")
            return None
        extra = sorted(k for k in rest if k != "data")
        if extra:
            report.add(line, f"unknown field(s) {extra} beside data; put item fields under data", field="data")
            return None
        data = rest["data"]
    else:
        data = rest
    if ext is None:
        return None
    if _has_nul(ext) or _has_nul(data) or _has_nul(obj.get("gold")):
        report.add(line, _NUL_MESSAGE, field="data")
        return None
    return ParsedItem(line=line, external_id=ext, data=data, gold=obj.get("gold"))


def _parse_jsonl(stream: IO[bytes], report: ImportReport, max_bytes: int) -> Iterator[ParsedItem]:
    for line, text in _read_lines(stream, report, max_bytes):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            report.add(line, f"not valid JSON: {exc.msg} at column {exc.colno}")
            continue
        item = _from_object(obj, line, report)
        if item is not None:
            yield item


def _parse_json_array(stream: IO[bytes], report: ImportReport, max_bytes: int) -> Iterator[ParsedItem]:
    """A JSON array, decoded element by element so each error names the element's line."""
    raw = stream.read()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        report.add(line, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8")
        return
    decoder = json.JSONDecoder()
    ws = re.compile(r"[ \t\n\r]*")
    pos = ws.match(text, 0).end()
    if pos >= len(text) or text[pos] != "[":
        report.add(text.count("\n", 0, pos) + 1, "expected a JSON array of items (or use JSONL: one object per line)")
        return
    pos = ws.match(text, pos + 1).end()
    if pos < len(text) and text[pos] == "]":
        return
    # Line numbers are counted incrementally (never from the start of the text again).
    line, counted = 1, 0
    while pos < len(text):
        start = pos
        line += text.count("\n", counted, start)
        counted = start
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            report.add(exc.lineno, f"not valid JSON: {exc.msg} at column {exc.colno}")
            return
        if end - start > max_bytes:
            report.add(line, f"item is {_human_bytes(end - start)}; one item may be at most {_human_bytes(max_bytes)}")
        else:
            item = _from_object(obj, line, report)
            if item is not None:
                yield item
        pos = ws.match(text, end).end()
        if pos < len(text) and text[pos] == ",":
            pos = ws.match(text, pos + 1).end()
            continue
        if pos < len(text) and text[pos] == "]":
            if ws.match(text, pos + 1).end() != len(text):
                report.add(text.count("\n", 0, pos) + 1, "unexpected content after the closing ]")
            return
        report.add(text.count("\n", 0, pos) + 1, "expected ',' or ']' after an item")
        return
    report.add(text.count("\n") + 1, "the JSON array is not closed with ]")


def _parse_csv(stream: IO[bytes], report: ImportReport, max_bytes: int, allow_formulas: bool) -> Iterator[ParsedItem]:
    lines = _read_lines(stream, report, max_bytes)
    current = {"line": 0}

    def feed() -> Iterator[str]:
        for number, text in lines:
            current["line"] = number
            yield text

    reader = csv.reader(feed(), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        report.add(current["line"], f"not valid CSV: {exc}")
        return
    header_line = current["line"]
    header = [h.strip() for h in header]
    if any(h == "" for h in header):
        report.add(header_line, f"column {header.index('') + 1} of the header has no name", field="columns")
        return
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        report.add(header_line, f"repeated column name(s) {dupes}", field="columns")
        return
    if "external_id" in header and "id" in header:
        report.add(header_line, "has both external_id and id columns; keep one", field="columns")
        return
    id_col = "external_id" if "external_id" in header else "id" if "id" in header else None
    if id_col is None:
        report.add(header_line, f"no external_id column; the header has {header}", field="columns")
        return
    id_index = header.index(id_col)
    gold_index = header.index("gold") if "gold" in header else None
    width = len(header)
    while True:
        line = current["line"] + 1  # a quoted cell may span lines: name the row's first line
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            report.add(current["line"], f"not valid CSV: {exc}")
            return
        if not row or (len(row) == 1 and row[0].strip() == ""):
            continue
        if len(row) != width:
            report.add(line, f"{len(row)} cells but the header has {width} columns", field="columns")
            continue
        if any("\x00" in cell for cell in row):
            report.add(line, _NUL_MESSAGE, field="data")
            continue
        if not allow_formulas:
            bad = next((header[i] for i, cell in enumerate(row) if looks_like_formula(cell)), None)
            if bad is not None:
                cell = row[header.index(bad)]
                report.add(line, f"column {bad!r} holds a spreadsheet formula ({cell[:40]!r}); "
                                 "refused because it would run when an export is opened in a spreadsheet "
                                 "(send allow_formulas=true to import it as text)", field=bad)
                continue
        ext = _external_id(row[id_index], line, report)
        if ext is None:
            continue
        data = {header[i]: cell for i, cell in enumerate(row) if i != id_index and i != gold_index}
        gold = row[gold_index] if gold_index is not None and row[gold_index] != "" else None
        yield ParsedItem(line=line, external_id=ext, data=data, gold=gold)


def parse_items(
    stream: IO[bytes],
    fmt: str,
    report: ImportReport,
    *,
    max_item_bytes: int,
    allow_formulas: bool = False,
    clean_gold: Callable[[Any], Any] | None = None,
) -> Iterator[ParsedItem]:
    """Yield the file's items in order; add every problem to ``report`` (by line).

    Duplicate external ids within the file are reported here; ids already stored in the project
    are the caller's check (it has the database). ``clean_gold`` validates a gold answer against
    the project's schema and returns its canonical form, raising ValueError with the reason.
    """
    if fmt not in FORMATS:
        report.add(None, f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}", field="format")
        return
    seen: dict[str, int] = {}
    rows = 0
    if fmt == "jsonl":
        source = _parse_jsonl(stream, report, max_item_bytes)
    elif fmt == "json":
        source = _parse_json_array(stream, report, max_item_bytes)
    else:
        source = _parse_csv(stream, report, max_item_bytes, allow_formulas)
    for item in source:
        rows += 1
        first = seen.get(item.external_id)
        if first is not None:
            report.add(item.line, f"duplicate external_id {item.external_id!r} (first on line {first})",
                       field="external_id")
            continue
        seen[item.external_id] = item.line
        if item.gold is not None and clean_gold is not None:
            try:
                item.gold = clean_gold(item.gold)
            except ValueError as exc:
                report.add(item.line, f"gold: {exc}", field="gold")
                continue
        yield item
    if rows == 0 and report.ok:
        report.add(None, "the file holds no items", field="file")


def parse_objects(
    objects: list[Any], report: ImportReport, *, clean_gold: Callable[[Any], Any] | None = None
) -> Iterator[ParsedItem]:
    """The items of a JSON request body (already decoded); errors name the item's position (1-based)."""
    seen: dict[str, int] = {}
    for position, obj in enumerate(objects, start=1):
        item = _from_object(obj, position, report)
        if item is None:
            continue
        first = seen.get(item.external_id)
        if first is not None:
            report.add(position, f"duplicate external_id {item.external_id!r} (first on line {first})",
                       field="external_id")
            continue
        seen[item.external_id] = position
        if item.gold is not None and clean_gold is not None:
            try:
                item.gold = clean_gold(item.gold)
            except ValueError as exc:
                report.add(position, f"gold: {exc}", field="gold")
                continue
        yield item
    if not objects and report.ok:
        report.add(None, "the request holds no items", field="items")
