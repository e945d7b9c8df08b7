"""Making versions: selection, manifest, splits across versions, same bytes, idempotence, failures."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from datetime import timedelta

import pyarrow.parquet as pq
import pytest
from django.utils import timezone

from labeling.exports import services
from labeling.exports.models import DatasetFile, DatasetVersion, ExportRun
from labeling.exports.selection import Selection
from labeling.exports.services import (
    dataset_version_create, dataset_version_diff, dataset_version_request, export_settings_update, export_sweep,
)
from labeling.exports.storage import DiskStorage, exports_root, work_root
from labeling.models import Consensus, Item, Job, JobStatus
from tests.exports.conftest import add_items, relabel

pytestmark = pytest.mark.django_db
ALL = ["jsonl", "csv", "parquet", "labelstudio"]


def create(project, formats=ALL, **kwargs):
    return dataset_version_create(project=project, selection=kwargs.pop("selection", Selection()), formats=formats,
                                  **kwargs)


def files_of(version) -> dict[str, bytes]:
    storage = DiskStorage()
    return {f.name: storage.local_path(f.key).read_bytes() for f in version.files.all()}


def jsonl_rows(version) -> list[dict]:
    out = []
    for split in ("train", "validation", "test"):
        data = files_of(version)[f"{split}.jsonl"]
        out += [dict(json.loads(line), split=split) for line in data.decode().splitlines()]
    return sorted(out, key=lambda r: r["item_id"])


def test_a_version_holds_the_selected_decisions_with_their_source(project, lead, exports_settings):
    add_items(project, 30, gold_every=10)
    add_items(project, 5, prefix="rev", reviewed_by=lead, status="reviewed")
    add_items(project, 4, prefix="open", status="no_consensus")
    Consensus.objects.filter(item__external_id="it-1").update(label=None)
    result = create(project, created_by=lead, note="first")
    v = result.version
    assert result.created and v.number == 1 and v.parent is None and v.note == "first"
    rows = jsonl_rows(v)
    assert len(rows) == v.row_count == 30 - 1 + 5
    by_ext = {r["external_id"]: r for r in rows}
    assert by_ext["it-0"]["source"] == "gold" and by_ext["it-0"]["confidence"] == 1.0
    assert by_ext["rev-2"]["source"] == "review"
    assert by_ext["it-2"]["source"] == "consensus"
    assert not any(e.startswith("open-") for e in by_ext) and "it-1" not in by_ext
    row = by_ext["it-2"]
    assert list(row)[:5] == ["item_id", "external_id", "n", "text", "label"]
    assert row["answers"] == 3 and row["agreement"] == 1.0 and row["text"] == "text number 2"
    assert by_ext["it-5"]["agreement"] == round(2 / 3, 6)

    m = v.manifest
    assert m["version"] == 1 and m["parent"] is None and m["created_by"] == "lead" and m["note"] == "first"
    assert m["counts"]["rows"] == 34 and sum(m["counts"]["per_split"].values()) == 34
    assert m["counts"]["per_source"] == {"consensus": 26, "gold": 3, "review": 5}
    assert sum(m["counts"]["per_label"].values()) == 34
    assert m["quorum_rule"]["agree_k"] == project.agree_k and m["consensus_method"] == project.consensus_method
    assert m["splits"]["ratios"] == {"train": 0.8, "validation": 0.1, "test": 0.1}
    assert m["agreement"]["items_with_answers"] == 34 and 0 < m["agreement"]["mean"] <= 1
    names = {f["name"] for f in m["files"]}
    assert names == {f"{s}.{e}" for s in ("train", "validation", "test")
                     for e in ("jsonl", "csv", "parquet", "labelstudio.json")} | {"index.jsonl.gz"}
    for f in v.files.all():
        data = files_of(v)[f.name]
        assert len(data) == f.size
        assert hashlib.sha256(data).hexdigest() == f.sha256
    assert {f["name"]: f["sha256"] for f in m["files"]} == dict(v.files.values_list("name", "sha256"))


def test_selection_can_leave_sources_out(project, lead, exports_settings):
    add_items(project, 20, gold_every=5)
    add_items(project, 3, prefix="rev", reviewed_by=lead, status="reviewed")
    v = create(project, formats=["jsonl"], selection=Selection(accepted=False, reviewed=True, gold=False)).version
    assert {r["source"] for r in jsonl_rows(v)} == {"review"} and v.row_count == 3
    v2 = create(project, formats=["jsonl"], selection=Selection(accepted=True, reviewed=False, gold=True)).version
    assert {r["source"] for r in jsonl_rows(v2)} == {"consensus", "gold"} and v2.number == 2
    assert Selection(include_weak_above=0.9).include_weak_above == 0.9  # the hook exists, selects nothing yet
    v3 = create(project, formats=["jsonl"], selection=Selection(accepted=False, reviewed=False, gold=False,
                                                                include_weak_above=0.9)).version
    assert v3.row_count == 0


@pytest.mark.parametrize("raw, message", [
    ({"accepted": False, "reviewed": False, "gold": False}, "empty"),
    ({"bogus": True}, "unknown"),
    ({"include_weak_above": 2}, "between 0 and 1"),
    ({"gold": "yes"}, "true or false"),
])
def test_bad_selections_are_refused(raw, message):
    with pytest.raises(ValueError, match=message):
        Selection.from_dict(raw)


def test_the_same_selection_gives_the_same_bytes_and_one_version(project, exports_settings):
    add_items(project, 50, gold_every=7)
    first = create(project)
    bytes_first = files_of(first.version)
    second = create(project)
    assert not second.created and second.version.pk == first.version.pk
    assert DatasetVersion.objects.filter(project=project).count() == 1
    # Writing again from scratch (a fresh version row) gives the same bytes for every file.
    DatasetVersion.objects.filter(pk=first.version.pk).delete()
    third = create(project)
    assert third.created and files_of(third.version) == bytes_first
    # No leftovers: only the published folder of the live version, and no work folders.
    assert [p.name for p in work_root().iterdir()] == []
    assert len(list((exports_root() / "projects" / str(project.pk)).iterdir())) == 2  # (the deleted row's too)


def test_splits_of_old_items_do_not_change_when_items_are_added(project, exports_settings):
    add_items(project, 200)
    v1 = create(project, formats=["jsonl"]).version
    splits_v1 = {r["external_id"]: r["split"] for r in jsonl_rows(v1)}
    add_items(project, 150, start=200)
    relabel(Item.objects.get(project=project, external_id="it-3"), "neu")
    v2 = create(project, formats=["jsonl"]).version
    assert v2.number == 2 and v2.parent_id == v1.pk
    splits_v2 = {r["external_id"]: r["split"] for r in jsonl_rows(v2)}
    assert all(splits_v2[e] == s for e, s in splits_v1.items())
    assert len(splits_v2) == 350
    assert v2.manifest["diff_from_parent"] == {"parent": 1, "added": 150, "removed": 0, "relabelled": 1,
                                               "unchanged": 199}


def test_diff_between_versions_lists_rows(project, exports_settings):
    items = add_items(project, 10)
    v1 = create(project, formats=["jsonl"]).version
    Consensus.objects.filter(item=items[0]).update(status="no_consensus")
    relabel(items[1], "neg" if items[1].consensus.label != "neg" else "pos")
    add_items(project, 2, start=10)
    v2 = create(project, formats=["jsonl"]).version
    diff = dataset_version_diff(old=v1, new=v2, rows=True)
    assert diff.counts() == {"added": 2, "removed": 1, "relabelled": 1, "unchanged": 8}
    changes = {(r["change"], r["external_id"]) for r in diff.rows}
    assert changes == {("removed", "it-0"), ("relabelled", "it-1"), ("added", "it-10"), ("added", "it-11")}
    only_added = dataset_version_diff(old=v1, new=v2, rows=True, changes=("added",))
    assert {r["change"] for r in only_added.rows} == {"added"}
    from_nothing = dataset_version_diff(old=None, new=v1)
    assert from_nothing.counts()["added"] == 10


def test_parquet_and_csv_of_a_version(project, exports_settings):
    add_items(project, 30, data=lambda i: {"text": f"=cmd {i}" if i == 4 else f"t{i}", "tags": ["a", "b"],
                                           "score": i / 2})
    v = create(project).version
    storage = DiskStorage()
    table = pq.read_table(storage.local_path(v.files.get(name="train.parquet").key))
    types = {f.name: str(f.type) for f in table.schema}
    assert types["score"] == "double" and types["tags"] == "list<element: string>" and types["label"] == "string"
    csv_bytes = b"".join(files_of(v)[f"{s}.csv"] for s in ("train", "validation", "test"))
    assert b"'=cmd 4" in csv_bytes
    assert v.manifest["columns"]["tags"] == "list[string]"


def test_a_failed_export_publishes_nothing_and_leaves_no_files(project, exports_settings, monkeypatch):
    add_items(project, 20)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(services.w, "write_parquet", broken)
    with pytest.raises(OSError, match="disk full"):
        create(project)
    assert not DatasetVersion.objects.exists() and not DatasetFile.objects.exists()
    assert list(work_root().iterdir()) == []
    assert not (exports_root() / "projects").exists() or not any((exports_root() / "projects").rglob("*.*"))


def test_a_failure_while_publishing_removes_the_uploaded_files(project, exports_settings, monkeypatch):
    add_items(project, 10)

    def boom(**kwargs):
        raise RuntimeError("webhook table gone")

    monkeypatch.setattr(services, "webhook_enqueue_version_ready", boom)
    with pytest.raises(RuntimeError):
        create(project, formats=["jsonl"])
    assert not DatasetVersion.objects.exists()
    assert not any((exports_root() / "projects").rglob("*.jsonl"))


def test_an_export_job_runs_and_records_the_version(project, lead, exports_settings,
                                                    django_capture_on_commit_callbacks):
    add_items(project, 25)
    with django_capture_on_commit_callbacks(execute=True):
        job, created = dataset_version_request(project=project, selection={"gold": False}, formats=["jsonl"],
                                               note="from a job", created_by=lead)
    assert created
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["version"] == 1 and job.result["created"] is True and job.result["rows"] == 25
    assert job.progress_done == job.progress_total == 25
    v = DatasetVersion.objects.get(project=project)
    assert v.job_id == job.pk and v.selection["gold"] is False and v.note == "from a job"
    assert not ExportRun.objects.exists()


def test_a_failed_export_job_says_why(project, lead, exports_settings, monkeypatch,
                                      django_capture_on_commit_callbacks):
    add_items(project, 5)
    monkeypatch.setattr(services.w, "write_csv", lambda *a, **k: (_ for _ in ()).throw(OSError("no space left")))
    with django_capture_on_commit_callbacks(execute=True):
        job, _ = dataset_version_request(project=project, formats=["csv"], created_by=lead)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "no space left" in job.error
    assert not DatasetVersion.objects.exists() and not ExportRun.objects.exists()


def test_a_second_request_while_one_is_pending_returns_the_same_job(project, lead):
    add_items(project, 3)
    first, created = dataset_version_request(project=project, formats=["jsonl"], created_by=lead)
    second, created_again = dataset_version_request(project=project, formats=["jsonl"], created_by=lead)
    assert created and not created_again and first.pk == second.pk
    other, created_other = dataset_version_request(project=project, formats=["csv"], created_by=lead)
    assert created_other and other.pk != first.pk


def test_the_sweep_fails_a_job_whose_worker_is_gone(project):
    job = Job.objects.create(kind="export", project=project, status=JobStatus.RUNNING, params={})
    Job.objects.filter(pk=job.pk).update(started_at=job.created_at)
    workdir = work_root() / "job-x"
    (workdir / "work").mkdir(parents=True)
    ExportRun.objects.create(job=job, hostname=socket.gethostname(), pid=2**22 + 12345,
                             workdir=str(workdir), heartbeat_at=timezone.now())
    alive = Job.objects.create(kind="export", project=project, status=JobStatus.RUNNING, params={})
    ExportRun.objects.create(job=alive, hostname=socket.gethostname(), pid=os.getpid(),
                             workdir=str(work_root() / "job-y"), heartbeat_at=timezone.now())
    assert export_sweep() == [job.pk]
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "stopped before it finished" in job.error
    assert "nothing was published" in job.error
    assert not workdir.exists() and not ExportRun.objects.filter(job=job).exists()
    Job.objects.filter(pk=alive.pk).update(started_at=alive.created_at)
    ExportRun.objects.filter(job=alive).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert export_sweep(stale_after=60) == [alive.pk]
    alive.refresh_from_db()
    assert "no heartbeat" in alive.error


def test_a_job_stopped_by_the_sweep_does_not_publish(project, exports_settings):
    add_items(project, 5)
    job = Job.objects.create(kind="export", project=project, status=JobStatus.FAILED, params={})
    with pytest.raises(Exception, match="nothing was published"):
        create(project, formats=["jsonl"], job=job)
    assert not DatasetVersion.objects.exists()


def test_split_settings(project):
    conf = export_settings_update(project=project, split_train=0.6, split_validation=0.2, split_test=0.2)
    assert (conf.split_train, conf.split_validation, conf.split_test) == (0.6, 0.2, 0.2)
    salt = conf.split_salt
    from labeling.errors import DomainError

    with pytest.raises(DomainError, match="add up to 1"):
        export_settings_update(project=project, split_train=0.9)
    with pytest.raises(DomainError, match="secret"):
        export_settings_update(project=project, webhook_url="https://example.invalid/hook")
    conf = export_settings_update(project=project, webhook_url="https://example.invalid/hook", webhook_secret="s")
    assert conf.split_salt == salt


def test_versions_never_change(project, exports_settings):
    add_items(project, 3)
    v = create(project, formats=["jsonl"]).version
    v.note = "changed"
    with pytest.raises(ValueError, match="never changes"):
        v.save()


def test_version_numbers_are_per_project(project, exports_settings):
    from tests.factories import ProjectFactory

    other = ProjectFactory()
    add_items(project, 3)
    add_items(other, 3, prefix="o")
    assert create(project, formats=["jsonl"]).version.number == 1
    assert create(other, formats=["jsonl"]).version.number == 1
