"""Importing items: all or nothing, with every problem reported by line.

``item_import`` runs inside the request for up to ``SYNC_IMPORT_MAX_ITEMS`` items; a larger file
is saved and imported by ``item_import_job`` in the worker, in two streaming passes (check every
line, then insert in batches inside one transaction), so memory does not grow with the file.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone

from labeling.errors import DomainError
from labeling.imports import ImportReport, ParsedItem, TooManyErrors, parse_items, parse_objects
from labeling.models import Item, ItemStatus, Job, JobKind, Project
from labeling.schema import LabelSchema, clean_answer

ID_CHUNK = 900  # stay below SQLite's host-parameter limit in IN (...) lookups


@dataclass
class ImportResult:
    created: int
    gold: int

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "gold": self.gold}


class TooManyForRequest(Exception):
    """The file holds more items than one request imports; the caller makes it a job."""


def _gold_cleaner(project: Project) -> Callable[[Any], Any]:
    schema = LabelSchema.of(project)
    return lambda value: clean_answer(schema, value)


def _check_existing(project: Project, ids_with_lines: list[tuple[str, int]], report: ImportReport) -> None:
    """Report ids already in the project, one indexed query per chunk (never one per row)."""
    for start in range(0, len(ids_with_lines), ID_CHUNK):
        chunk = dict(ids_with_lines[start:start + ID_CHUNK])
        taken = Item.objects.filter(project=project, external_id__in=list(chunk)).values_list("external_id", flat=True)
        for external_id in sorted(taken, key=lambda e: chunk[e]):
            report.add(chunk[external_id], f"external_id {external_id!r} already exists in this project",
                       field="external_id")


def _collect(rows: Iterator[ParsedItem], report: ImportReport, limit: int | None) -> list[ParsedItem]:
    items: list[ParsedItem] = []
    try:
        for row in rows:
            items.append(row)
            if limit is not None and len(items) > limit:
                raise TooManyForRequest
    except TooManyErrors:
        pass
    return items


def _raise_if_errors(report: ImportReport) -> None:
    if not report.ok:
        errors = sorted(report.errors, key=lambda e: (e.line or 0))
        raise DomainError(errors, code="import_invalid")


_ITEM_COLUMNS = ("project_id", "external_id", "data", "gold", "is_gold", "status", "answer_count", "lease_count",
                 "needed", "open_slots", "confidence", "created_at", "updated_at")


def _write_batch(rows: list[tuple]) -> None:
    """Insert item rows in one round trip: COPY on PostgreSQL, executemany elsewhere.

    Django's bulk_create spends most of an import compiling SQL per value; the rows here are
    already checked and their JSON already encoded, so plain parameters suffice."""
    table = Item._meta.db_table
    columns = ", ".join(_ITEM_COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(_ITEM_COLUMNS))
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)


def _insert(project: Project, rows: Iterable[ParsedItem], progress: Callable[[int], None] | None = None) -> ImportResult:
    """Insert parsed rows in batches. The caller holds the transaction (all or nothing)."""
    from labeling.services.decisions import initial_needed

    batch_size = settings.QUORUM["IMPORT_BATCH_SIZE"]
    needed = initial_needed(project)
    now = timezone.now()
    created = gold = 0
    batch: list[tuple] = []
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    def flush() -> None:
        nonlocal created
        _write_batch(batch)
        created += len(batch)
        batch.clear()
        if progress is not None:
            progress(created)

    for row in rows:
        is_gold = row.gold is not None
        gold += is_gold
        batch.append((project.pk, row.external_id, dumps(row.data), dumps(row.gold) if is_gold else None, is_gold,
                      ItemStatus.OPEN.value, 0, 0, needed, needed, None, now, now))
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return ImportResult(created=created, gold=gold)


def item_import(*, project: Project, stream: IO[bytes], fmt: str, allow_formulas: bool = False,
                limit: int | None = None) -> ImportResult:
    """Import a whole file or nothing. Raises DomainError listing every bad line, or
    TooManyForRequest when ``limit`` is set and the file holds more items."""
    report = ImportReport()
    rows = _collect(
        parse_items(stream, fmt, report, max_item_bytes=settings.QUORUM["MAX_ITEM_BYTES"],
                    allow_formulas=allow_formulas, clean_gold=_gold_cleaner(project)),
        report, limit,
    )
    return _store(project, rows, report)


def item_import_objects(*, project: Project, objects: list[Any]) -> ImportResult:
    """Import the items of a JSON request body, all or nothing."""
    limit = settings.QUORUM["SYNC_IMPORT_MAX_ITEMS"]
    if len(objects) > limit:
        raise DomainError.single("items", f"{len(objects)} items in one request; at most {limit}. "
                                          "Upload a file instead: larger files are imported by a job")
    report = ImportReport()
    rows = _collect(parse_objects(objects, report, clean_gold=_gold_cleaner(project)), report, None)
    return _store(project, rows, report)


def _store(project: Project, rows: list[ParsedItem], report: ImportReport) -> ImportResult:
    if report.ok:
        try:
            _check_existing(project, [(r.external_id, r.line) for r in rows], report)
        except TooManyErrors:
            pass
    _raise_if_errors(report)
    with transaction.atomic():
        return _insert(project, rows)


def item_import_file_enqueue(*, project: Project, upload: IO[bytes], fmt: str, allow_formulas: bool,
                             created_by) -> Job:
    """Keep an uploaded file and create the job that imports it."""
    upload.seek(0)
    name = default_storage.save(f"imports/{project.pk}/{uuid.uuid4().hex}.{fmt}", upload)
    with transaction.atomic():
        return job_create_import(project=project, path=name, fmt=fmt, allow_formulas=allow_formulas,
                                 created_by=created_by)


def job_create_import(*, project: Project, path: str, fmt: str, allow_formulas: bool, created_by) -> Job:
    from labeling.services.jobs import job_create

    return job_create(kind=JobKind.IMPORT, project=project, created_by=created_by,
                      params={"path": path, "format": fmt, "allow_formulas": allow_formulas})


def item_import_streamed(*, project: Project, open_stream: Callable[[], IO[bytes]], fmt: str,
                         allow_formulas: bool, progress) -> ImportResult:
    """Import a file of any size in two streaming passes: check every line (keeping only the ids),
    then insert in batches inside one transaction. All or nothing; memory holds ids, not items.

    ``progress`` has ``total(n | None)`` and ``__call__(done, force=False)`` (a job's Progress, or
    the command's progress bar)."""
    max_bytes = settings.QUORUM["MAX_ITEM_BYTES"]
    clean_gold = _gold_cleaner(project)
    report = ImportReport()
    ids: list[tuple[str, int]] = []
    progress.total(None)
    with open_stream() as stream:
        try:
            for row in parse_items(stream, fmt, report, max_item_bytes=max_bytes,
                                   allow_formulas=allow_formulas, clean_gold=clean_gold):
                ids.append((row.external_id, row.line))
                progress(len(ids))
        except TooManyErrors:
            pass
    if report.ok:
        try:
            _check_existing(project, ids, report)
        except TooManyErrors:
            pass
    _raise_if_errors(report)
    progress.total(len(ids))
    progress(0, force=True)
    with open_stream() as stream, transaction.atomic():
        rows = parse_items(stream, fmt, ImportReport(), max_item_bytes=max_bytes,
                           allow_formulas=allow_formulas, clean_gold=clean_gold)
        result = _insert(project, rows, progress)
    progress(result.created, force=True)
    return result


def item_import_job(job: Job, progress) -> dict[str, Any]:
    """The worker's side of a large import: the saved upload, imported and then removed."""
    path = job.params["path"]
    try:
        return item_import_streamed(
            project=job.project, open_stream=lambda: default_storage.open(path, "rb"), fmt=job.params["format"],
            allow_formulas=bool(job.params.get("allow_formulas")), progress=progress,
        ).as_dict()
    finally:
        if default_storage.exists(path):
            default_storage.delete(path)
