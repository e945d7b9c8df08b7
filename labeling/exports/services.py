"""Writes for dataset exports: settings, version requests, the export itself, the sweep, and the
Label Studio import.

How a version is made (``dataset_version_create``; the job runner ``dataset_export_job`` and the
``export_dataset`` command both call it)::

    decisions (keyset pages, item-id order)
        │ row_source / split / build_row
        ▼
    work/<split>.jsonl  (canonical rows)  + out/index.jsonl.gz + counts + column types
        │ derived, streaming: CSV, Parquet, Label Studio JSON     (progress after every 1000 rows)
        ▼
    out/<split>.<format>  ── fingerprint = sha256(selection, formats, splits, rule, canonical rows)
        │ storage.publish(out, fresh prefix)       (disk: one rename; S3: uploads, multipart)
        ▼
    one transaction, holding the project's row lock:
        job still running? same fingerprint already published? → number = latest + 1,
        DatasetVersion + DatasetFile rows, webhook delivery queued on commit

Nothing is visible before the last step. A failure anywhere removes the work folder and any
uploaded files, and the job records why. A worker killed mid-way leaves its ``ExportRun`` row,
whose heartbeat stops: ``export_sweep`` (Celery beat, and every new request) then fails the job
with the reason and removes the work folder.

Idempotence: a request while an export with the same selection and formats is queued or running
returns that job; a finished export whose fingerprint is already published returns that version
(``created: false``) instead of making a second one with the same content.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, Any, Protocol

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from labeling.errors import DomainError
from labeling.exports import writers as w
from labeling.exports.diff import Diff, diff_indexes
from labeling.exports.labelstudio import (
    LS_USER_PREFIX, LabelStudioError, load_tasks, parse_tasks, to_name_for, write_labelstudio,
)
from labeling.exports.manifest import ManifestStats, build_manifest
from labeling.exports.models import (
    DatasetFile, DatasetVersion, DeliveryStatus, ExportRun, ExportSettings, WebhookDelivery,
)
from labeling.exports.selection import SOURCE_GOLD, Selection, agreement_of, clean_formats, row_source
from labeling.exports.selectors import candidate_count, decision_rows
from labeling.exports.splits import SPLITS, SplitAssigner, SplitRatios
from labeling.exports.storage import (
    LocalFile, Storage, default_storage, export_settings, new_location, open_stream, storage_for, work_root,
)
from labeling.exports.webhooks import webhook_enqueue_version_ready
from labeling.models import Item, Job, JobKind, JobStatus, Project

log = logging.getLogger(__name__)

ACTIVE_JOB_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
PROGRESS_EVERY = 1000


class ProgressLike(Protocol):
    def total(self, total: int | None) -> None: ...

    def __call__(self, done: int, *, force: bool = False) -> None: ...


class NoProgress:
    def total(self, total: int | None) -> None:
        pass

    def __call__(self, done: int, *, force: bool = False) -> None:
        pass


# --- Settings --------------------------------------------------------------------------------------

def export_settings_for(*, project: Project) -> ExportSettings:
    """The project's export settings, created with defaults (and a fresh split salt) on first use."""
    found = ExportSettings.objects.filter(project=project).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return ExportSettings.objects.create(project=project)
    except IntegrityError:
        return ExportSettings.objects.get(project=project)


@transaction.atomic
def export_settings_update(*, project: Project, split_train: float | None = None,
                           split_validation: float | None = None, split_test: float | None = None,
                           webhook_url: str | None = None, webhook_secret: str | None = None) -> ExportSettings:
    """Change split shares or the webhook. Shares must add up to 1. The salt never changes, so an
    item's split changes only if the shares move across its place (see ``splits``)."""
    conf = export_settings_for(project=project)
    conf = ExportSettings.objects.select_for_update().get(pk=conf.pk)
    shares = {
        "train": conf.split_train if split_train is None else split_train,
        "validation": conf.split_validation if split_validation is None else split_validation,
        "test": conf.split_test if split_test is None else split_test,
    }
    try:
        SplitRatios(**shares)
    except ValueError as exc:
        raise DomainError.single("split_train", str(exc)) from None
    conf.split_train, conf.split_validation, conf.split_test = shares["train"], shares["validation"], shares["test"]
    if webhook_url is not None:
        conf.webhook_url = webhook_url
    if webhook_secret is not None:
        conf.webhook_secret = webhook_secret
    if conf.webhook_url and not conf.webhook_secret:
        raise DomainError.single("webhook_secret", "a webhook needs a secret to sign its calls with")
    conf.save()
    return conf


# --- Requests (the API's side) ---------------------------------------------------------------------

def _clean_request(selection: dict | None, formats: list[str] | None) -> tuple[Selection, list[str]]:
    try:
        clean_selection = Selection.from_dict(selection)
    except ValueError as exc:
        raise DomainError.single("selection", str(exc)) from None
    try:
        clean = clean_formats(formats)
    except ValueError as exc:
        raise DomainError.single("formats", str(exc)) from None
    return clean_selection, clean


def dataset_version_request(*, project: Project, selection: dict | None = None, formats: list[str] | None = None,
                            note: str = "", created_by=None) -> tuple[Job, bool]:
    """Ask for a new version: returns ``(job, created)``. While an export of the same selection and
    formats is queued or running for the project, that job is returned (``created`` False) instead
    of a second one. The check and the creation hold the project's row lock."""
    clean_selection, clean = _clean_request(selection, formats)
    export_sweep(project_id=project.pk)
    params = {"selection": clean_selection.as_dict(), "formats": clean, "note": note}
    from labeling.services.jobs import job_create

    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()
        for job in Job.objects.filter(project=project, kind=JobKind.EXPORT, status__in=ACTIVE_JOB_STATUSES):
            if job.params.get("selection") == params["selection"] and job.params.get("formats") == clean:
                return job, False
        return job_create(kind=JobKind.EXPORT, project=project, params=params, created_by=created_by), True


# --- The job runner --------------------------------------------------------------------------------

class _Heartbeat:
    """A job's progress that also tells the ExportRun row this worker is alive."""

    def __init__(self, progress: ProgressLike, run: ExportRun, every: float) -> None:
        self.progress = progress
        self.run = run
        self.every = every
        self._last = time.monotonic()

    def total(self, total: int | None) -> None:
        self.progress.total(total)
        self.beat()

    def __call__(self, done: int, *, force: bool = False) -> None:
        self.progress(done, force=force)
        if force or time.monotonic() - self._last >= self.every:
            self.beat()

    def beat(self) -> None:
        self._last = time.monotonic()
        ExportRun.objects.filter(pk=self.run.pk).update(heartbeat_at=timezone.now())


def dataset_export_job(job: Job, progress: ProgressLike) -> dict[str, Any]:
    """The worker's side of an export job (registered in ``labeling.services.jobs._runners``)."""
    selection, formats = _clean_request(job.params.get("selection"), job.params.get("formats"))
    workdir = work_root() / f"job-{job.pk}-{uuid.uuid4().hex[:8]}"
    run = ExportRun.objects.create(job=job, hostname=socket.gethostname(), pid=os.getpid(), workdir=str(workdir),
                                   heartbeat_at=timezone.now())
    beat = _Heartbeat(progress, run, float(export_settings()["HEARTBEAT_SECONDS"]))
    try:
        result = dataset_version_create(project=job.project, selection=selection, formats=formats,
                                        note=job.params.get("note", ""), created_by=job.created_by, job=job,
                                        progress=beat, workdir=workdir)
    finally:
        ExportRun.objects.filter(pk=run.pk).delete()
    version = result.version
    return {"version": version.number, "created": result.created, "fingerprint": version.fingerprint,
            "rows": version.row_count, "url": f"/api/v1/projects/{version.project_id}/versions/{version.number}"}


# --- Building the files ----------------------------------------------------------------------------

@dataclass
class ExportResult:
    version: DatasetVersion
    created: bool


@dataclass
class Build:
    files: list[LocalFile]
    file_info: list[dict[str, Any]]
    stats: ManifestStats
    columns: dict[str, str]
    canonical: dict[str, str]
    index_path: Path


def _rule(project: Project) -> dict[str, Any]:
    return {"rule_kind": project.rule_kind, "agree_k": project.agree_k, "min_answers": project.min_answers,
            "max_answers": project.max_answers, "escalate_after": project.escalate_after,
            "escalate_k": project.escalate_k, "confidence_target": project.confidence_target}


def _schema(project: Project) -> dict[str, Any]:
    return {"kind": project.schema_kind, "choices": list(project.choices or []), "scale_min": project.scale_min,
            "scale_max": project.scale_max}


def _counted(rows: Iterable[dict[str, Any]], progress: ProgressLike, start: int) -> Iterator[dict[str, Any]]:
    done = start
    for row in rows:
        yield row
        done += 1
        if done % PROGRESS_EVERY == 0:
            progress(done)


def _build(*, project: Project, selection: Selection, formats: list[str], salt: str, ratios: SplitRatios,
           workdir: Path, progress: ProgressLike) -> Build:
    """Stream the decisions into canonical JSONL per split (and the index), then derive the other
    formats from those files. Memory: one page of rows, the counters and one Parquet row group."""
    conf = export_settings()
    work = workdir / "work"
    out = workdir / "out"
    work.mkdir(parents=True)
    out.mkdir()
    assign = SplitAssigner(salt, ratios)
    derived = [f for f in formats if f != "jsonl"]
    candidates = candidate_count(project_id=project.pk, selection=selection)
    total = candidates * (1 + len(derived))
    progress.total(total)
    progress(0, force=True)

    writers = {split: w.JsonlWriter(work / f"{split}.jsonl") for split in SPLITS}
    index = w.IndexWriter(out / w.INDEX_NAME)
    stats = ManifestStats()
    types = w.ColumnTypes()
    seen = 0
    try:
        for (item_id, external_id, data, is_gold, gold, answer_count, label, confidence, status, reviewed_by,
             votes) in decision_rows(project_id=project.pk, selection=selection,
                                     chunk_size=int(conf["CHUNK_SIZE"])):
            seen += 1
            if seen % PROGRESS_EVERY == 0:
                progress(seen)
            source = row_source(selection, is_gold=is_gold, status=status, reviewed=reviewed_by is not None,
                                label=label)
            if source is None:
                continue
            if source == SOURCE_GOLD:
                label, confidence = gold, 1.0
            agreement = agreement_of(votes)
            row = w.build_row(item_id=item_id, external_id=external_id, data=data, label=label,
                              confidence=confidence, source=source, answers=answer_count, agreement=agreement)
            split = assign(external_id)
            writers[split].write(row)
            index.write(item_id, external_id, row["label"], split)
            types.observe(row)
            stats.add(split=split, label=row["label"], source=source, confidence=confidence, answers=answer_count,
                      agreement=agreement)
    finally:
        canonical = {split: writer.close() for split, writer in writers.items()}
        index_result = index.close()
    progress(candidates, force=True)

    columns = types.as_dict()
    files: list[LocalFile] = []
    info: list[dict[str, Any]] = []

    def add(name: str, split: str, fmt: str, path: Path, result: w.FileResult) -> None:
        content_type = w.CONTENT_TYPES["index" if fmt == "index" else fmt]
        files.append(LocalFile(name=name, path=path, content_type=content_type, sha256=result.sha256,
                               size=result.size))
        info.append({"name": name, "split": split, "format": fmt, "rows": result.rows, "size": result.size,
                     "sha256": result.sha256, "content_type": content_type})

    if "jsonl" in formats:
        for split in SPLITS:
            path = out / f"{split}.jsonl"
            os.replace(work / f"{split}.jsonl", path)
            add(path.name, split, "jsonl", path, canonical[split])
    source_of = {split: (out if "jsonl" in formats else work) / f"{split}.jsonl" for split in SPLITS}
    done = candidates
    for fmt in derived:
        for split in SPLITS:
            path = out / f"{split}.{w.EXTENSIONS[fmt]}"
            rows = _counted(w.read_jsonl(source_of[split]), progress, done)
            if fmt == "csv":
                result = w.write_csv(rows, list(columns), path)
            elif fmt == "parquet":
                result = w.write_parquet(rows, columns, path, row_group_size=int(conf["PARQUET_ROW_GROUP"]))
            else:
                result = write_labelstudio(rows, path, split=split, schema_kind=project.schema_kind,
                                           to_name=to_name_for(columns))
            done += result.rows
            add(path.name, split, fmt, path, result)
        progress(done, force=True)
    add(w.INDEX_NAME, "all", "index", out / w.INDEX_NAME, index_result)
    return Build(files=files, file_info=info, stats=stats, columns=columns,
                 canonical={split: canonical[split].sha256 for split in SPLITS}, index_path=out / w.INDEX_NAME)


def _fingerprint(*, selection: Selection, formats: list[str], salt: str, ratios: SplitRatios, project: Project,
                 build: Build) -> str:
    """What makes two versions the same: the selection, formats, split settings, rule, schema and
    the canonical rows (not the derived files' bytes, which may differ between library versions)."""
    material = {"selection": selection.as_dict(), "formats": formats, "splits": {"salt": salt, **ratios.as_dict()},
                "rule": _rule(project), "consensus_method": project.consensus_method, "schema": _schema(project),
                "columns": build.columns, "rows": build.canonical}
    return hashlib.sha256(json.dumps(material, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# --- Creating a version ----------------------------------------------------------------------------

class _AlreadyPublished(Exception):
    def __init__(self, version: DatasetVersion) -> None:
        self.version = version


def dataset_version_create(*, project: Project, selection: Selection, formats: list[str], note: str = "",
                           created_by=None, job: Job | None = None, progress: ProgressLike | None = None,
                           storage: Storage | None = None, workdir: Path | None = None) -> ExportResult:
    """Write and publish a version of the project's current decisions, or return the published
    version with the same fingerprint. All or nothing (see the module's docstring)."""
    progress = progress or NoProgress()
    storage = storage or default_storage()
    conf = export_settings_for(project=project)
    ratios = SplitRatios(conf.split_train, conf.split_validation, conf.split_test)
    workdir = workdir or work_root() / f"run-{uuid.uuid4().hex}"
    try:
        build = _build(project=project, selection=selection, formats=formats, salt=conf.split_salt, ratios=ratios,
                       workdir=workdir, progress=progress)
        fingerprint = _fingerprint(selection=selection, formats=formats, salt=conf.split_salt, ratios=ratios,
                                   project=project, build=build)
        return _publish(project=project, job=job, build=build, fingerprint=fingerprint, selection=selection,
                        formats=formats, note=note, created_by=created_by, ratios=ratios, salt=conf.split_salt,
                        storage=storage)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _latest(project_id: int) -> DatasetVersion | None:
    return DatasetVersion.objects.filter(project_id=project_id).order_by("-number").first()


def _publish(*, project: Project, job: Job | None, build: Build, fingerprint: str, selection: Selection,
             formats: list[str], note: str, created_by, ratios: SplitRatios, salt: str,
             storage: Storage) -> ExportResult:
    existing = DatasetVersion.objects.filter(project=project, fingerprint=fingerprint).first()
    if existing is not None:
        return ExportResult(existing, False)
    parent = _latest(project.pk)
    diff = _diff_against(parent, build.index_path)
    location = new_location(project.pk)
    storage.publish(build.files, location)
    try:
        with transaction.atomic():
            Project.objects.select_for_update().filter(pk=project.pk).first()  # the per-project lock
            if job is not None:
                status = Job.objects.select_for_update().filter(pk=job.pk).values_list("status", flat=True).first()
                if status != JobStatus.RUNNING:
                    raise DomainError.single(None, f"the export job is {status} (stopped by the sweep?); "
                                                   "nothing was published", code="export_stopped")
            existing = DatasetVersion.objects.filter(project=project, fingerprint=fingerprint).first()
            if existing is not None:
                raise _AlreadyPublished(existing)
            latest = _latest(project.pk)
            if (latest and latest.pk) != (parent and parent.pk):
                parent = latest
                diff = _diff_against(parent, build.index_path)
            number = parent.number + 1 if parent else 1
            now = timezone.now()
            manifest = build_manifest(
                project={"id": project.pk, "name": project.name, "schema": _schema(project)},
                number=number, parent=parent.number if parent else None, created_at=now.isoformat(),
                created_by=created_by.get_username() if created_by is not None else None, note=note,
                selection=selection.as_dict(), formats=formats,
                splits={"ratios": ratios.as_dict(), "salt": salt, "method": "sha256(salt, external_id)"},
                rule=_rule(project), consensus_method=project.consensus_method, stats=build.stats,
                columns=build.columns, files=build.file_info, fingerprint=fingerprint,
                diff_from_parent=({"parent": parent.number, **diff.counts()} if parent and diff else None),
            )
            version = DatasetVersion.objects.create(
                project=project, number=number, note=note, created_by=created_by, created_at=now, job=job,
                parent=parent, selection=selection.as_dict(), formats=formats, fingerprint=fingerprint,
                manifest=manifest, row_count=build.stats.rows, storage=storage.kind, bucket=storage.bucket,
                location=location,
            )
            DatasetFile.objects.bulk_create([
                DatasetFile(version=version, name=f["name"], split=f["split"], format=f["format"],
                            key=f"{location}/{f['name']}", sha256=f["sha256"], size=f["size"], rows=f["rows"],
                            content_type=f["content_type"])
                for f in build.file_info
            ])
            webhook_enqueue_version_ready(version=version)
    except _AlreadyPublished as dup:
        storage.delete_prefix(location)
        return ExportResult(dup.version, False)
    except IntegrityError:
        storage.delete_prefix(location)
        existing = DatasetVersion.objects.filter(project=project, fingerprint=fingerprint).first()
        if existing is not None:
            return ExportResult(existing, False)
        raise
    except BaseException:
        storage.delete_prefix(location)
        raise
    log.info("published dataset version %s of project %s (%s rows)", version.number, project.pk, version.row_count)
    return ExportResult(version, True)


# --- Diffs -----------------------------------------------------------------------------------------

def _index_rows(version: DatasetVersion):
    index = version.files.filter(name=w.INDEX_NAME).first()
    if index is None:
        raise DomainError.single("version", f"version {version.number} has no label index", status=409)
    storage = storage_for(version.storage, version.bucket)
    stream = open_stream(storage, index.key)
    try:
        yield from w.read_index(stream)
    finally:
        stream.close()


def _local_index_rows(path: Path):
    with open(path, "rb") as fh:
        yield from w.read_index(fh)


def _diff_against(parent: DatasetVersion | None, index_path: Path) -> Diff | None:
    if parent is None:
        return None
    return diff_indexes(_index_rows(parent), _local_index_rows(index_path))


def dataset_version_diff(*, old: DatasetVersion | None, new: DatasetVersion, rows: bool = False,
                         changes: tuple[str, ...] = ("added", "removed", "relabelled"), after: int | None = None,
                         limit: int = 1000) -> Diff:
    """Items added, removed and relabelled from ``old`` to ``new`` (a streaming merge of their
    indexes). Without ``old`` (version 1 has no parent) every row is added."""
    old_rows = _index_rows(old) if old is not None else iter(())
    return diff_indexes(old_rows, _index_rows(new), rows=rows, changes=changes, after=after, limit=limit)


# --- The sweep -------------------------------------------------------------------------------------

def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:  # a killed child that nobody reaped yet still answers kill(0)
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return False


def _death_reason(job: Job, run: ExportRun | None, *, now, stale_after: float) -> str | None:
    limit = now - timedelta(seconds=stale_after)
    if run is None:
        if job.started_at and job.started_at < limit:
            return (f"the export job started at {job.started_at.isoformat()} but no worker reported on it for "
                    f"{stale_after:g} s; it is presumed lost; nothing was published")
        return None
    where = f"process {run.pid} on {run.hostname}"
    if run.hostname == socket.gethostname() and _process_gone(run.pid):
        return (f"the worker running this export ({where}) stopped before it finished (last heartbeat "
                f"{run.heartbeat_at.isoformat()}); nothing was published")
    if run.heartbeat_at < limit:
        return (f"the worker running this export ({where}) sent no heartbeat since {run.heartbeat_at.isoformat()} "
                f"(over {stale_after:g} s); it is presumed dead; nothing was published")
    return None


def export_sweep(*, project_id: int | None = None, stale_after: float | None = None) -> list[int]:
    """Fail running export jobs whose worker died (its process is gone, or it sent no heartbeat for
    ``STALE_AFTER_SECONDS``) with the reason, and remove their work folders; remove work folders
    older than a day that no running export owns. Returns the ids of the jobs it failed."""
    stale_after = float(export_settings()["STALE_AFTER_SECONDS"] if stale_after is None else stale_after)
    now = timezone.now()
    jobs = Job.objects.filter(kind=JobKind.EXPORT, status=JobStatus.RUNNING)
    if project_id is not None:
        jobs = jobs.filter(project_id=project_id)
    runs = {r.job_id: r for r in ExportRun.objects.filter(job__in=jobs)}
    failed: list[int] = []
    for job in jobs:
        run = runs.get(job.pk)
        reason = _death_reason(job, run, now=now, stale_after=stale_after)
        if reason is None:
            continue
        with transaction.atomic():
            updated = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
                status=JobStatus.FAILED, error=reason, finished_at=now)
            ExportRun.objects.filter(job_id=job.pk).delete()
        if updated:
            log.warning("export job %s failed by the sweep: %s", job.pk, reason)
            failed.append(job.pk)
            if run is not None and run.hostname == socket.gethostname() and run.workdir:
                shutil.rmtree(run.workdir, ignore_errors=True)
    if project_id is None:
        _sweep_work_folders(max_age=86_400)
    return failed


def _sweep_work_folders(*, max_age: float) -> None:
    owned = {Path(p).name for p in ExportRun.objects.values_list("workdir", flat=True)}
    cutoff = time.time() - max_age
    for path in work_root().iterdir():
        try:
            if path.name not in owned and path.stat().st_mtime < cutoff:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            continue


def webhook_redeliver_due(*, grace_seconds: float = 300) -> list[int]:
    """Ids of deliveries waiting for a retry whose time passed long ago (their message was lost)."""
    due = timezone.now() - timedelta(seconds=grace_seconds)
    return list(WebhookDelivery.objects.filter(status=DeliveryStatus.RETRYING, next_attempt_at__lt=due)
                .values_list("pk", flat=True)[:1000])


# --- Label Studio import ---------------------------------------------------------------------------

def _labelstudio_annotator_id(person: str) -> int:
    from annotators.services import annotator_for_user

    User = get_user_model()
    username = (LS_USER_PREFIX + person)[:150]
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username, is_active=False)
        user.set_unusable_password()
        user.save()
    return annotator_for_user(user=user).pk


def labelstudio_tasks_load(*, stream: IO[bytes]) -> Any:
    """The tasks of an uploaded Label Studio JSON file (DomainError if it is not JSON)."""
    try:
        return load_tasks(stream)
    except LabelStudioError as exc:
        raise DomainError.single("file", str(exc)) from None


@transaction.atomic
def labelstudio_import(*, project: Project, tasks: Any, from_name: str | None = None) -> dict[str, Any]:
    """Import the tasks of a Label Studio JSON export as items and answers, all or nothing (see
    ``labeling.exports.labelstudio``). Decisions follow from the answers as for any other answers."""
    from labeling.services.answers import ImportedAnswer, answer_bulk_import
    from labeling.services.items import ID_CHUNK, item_import_objects

    try:
        parsed = parse_tasks(tasks, schema_kind=project.schema_kind, from_name=from_name)
    except LabelStudioError as exc:
        raise DomainError.single("file", str(exc)) from None
    created = item_import_objects(project=project, objects=parsed.items)
    external_ids = [i["external_id"] for i in parsed.items]
    items: dict[str, Item] = {}
    for start in range(0, len(external_ids), ID_CHUNK):
        for item in Item.objects.filter(project=project, external_id__in=external_ids[start:start + ID_CHUNK]):
            items[item.external_id] = item
    latest = {(a.external_id, a.person): a for a in parsed.answers}  # one person's last annotation per task
    annotators = {person: _labelstudio_annotator_id(person) for person in sorted({p for _, p in latest})}
    stored = answer_bulk_import(project=project, answers=[
        ImportedAnswer(item=items[a.external_id], annotator_id=annotators[a.person], value=a.value, seconds=a.seconds)
        for a in latest.values()
    ])
    return {"items": created.created, "gold": created.gold, "answers": stored, "annotators": len(annotators),
            "skipped": {"cancelled": parsed.skipped_cancelled, "predictions": parsed.skipped_predictions,
                        "empty": parsed.skipped_empty,
                        "repeated": len(parsed.answers) - len(latest)}}
