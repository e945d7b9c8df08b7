"""The pull API: list, manifest, latest, download (ETag, 304, Range), diff, settings, permissions."""

from __future__ import annotations

import hashlib

import pytest

from annotators.models import TokenKind
from labeling.exports.models import DatasetVersion, WebhookDelivery
from labeling.exports.selection import Selection
from labeling.exports.services import dataset_version_create
from labeling.models import Consensus, Job
from tests.conftest import client_for
from tests.exports.conftest import add_items
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def make_version(project, formats=("jsonl", "csv", "parquet"), **kwargs):
    return dataset_version_create(project=project, selection=Selection(), formats=list(formats), **kwargs).version


@pytest.fixture
def pipeline(lead, project):
    return client_for(lead, kind=TokenKind.PIPELINE, project=project, name="trainer")


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def assert_error_shape(response, status):
    assert response.status_code == status, response.content
    body = response.json()
    assert isinstance(body["errors"], list) and body["errors"]
    assert set(body["errors"][0]) >= {"field", "message"}


def test_pipeline_lists_versions_and_reads_the_latest_manifest(pipeline, project, lead, exports_settings):
    add_items(project, 20)
    make_version(project, created_by=lead, note="one")
    add_items(project, 5, start=20)
    make_version(project, created_by=lead, note="two")
    r = pipeline.get(f"/api/v1/projects/{project.pk}/versions")
    assert r.status_code == 200
    results = r.json()["results"]
    assert [v["number"] for v in results] == [2, 1]
    assert results[0]["parent"] == 1 and results[0]["created_by"] == "lead" and results[0]["row_count"] == 25
    assert results[0]["diff_from_parent"]["added"] == 5 and sum(results[0]["counts"].values()) == 25
    latest = pipeline.get(f"/api/v1/projects/{project.pk}/versions/latest").json()
    assert latest["number"] == 2 and latest["manifest"]["parent"] == 1
    assert {f["name"] for f in latest["files"]} >= {"train.jsonl", "test.parquet", "validation.csv"}
    manifest = pipeline.get(f"/api/v1/projects/{project.pk}/versions/1/manifest")
    assert manifest.status_code == 200 and manifest.json()["version"] == 1
    assert manifest["ETag"] == f'"{manifest.json()["fingerprint"]}"'


def test_download_is_the_manifest_bytes_twice_with_etag_304_and_ranges(pipeline, project, exports_settings):
    add_items(project, 40)
    v = make_version(project)
    f = v.files.get(name="train.jsonl")
    url = f"/api/v1/projects/{project.pk}/versions/{v.number}/files/train.jsonl"
    first = pipeline.get(url)
    second = pipeline.get(url, HTTP_ACCEPT="application/octet-stream")
    assert first.status_code == second.status_code == 200
    data = body_of(first)
    assert data == body_of(second) and hashlib.sha256(data).hexdigest() == f.sha256 and len(data) == f.size
    assert first["ETag"] == f'"{f.sha256}"' and first["Content-Length"] == str(f.size)
    assert "attachment" in first["Content-Disposition"] and first["Accept-Ranges"] == "bytes"

    not_modified = pipeline.get(url, HTTP_IF_NONE_MATCH=f'"{f.sha256}"')
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert pipeline.get(url, HTTP_IF_NONE_MATCH='"other"').status_code == 200

    part = pipeline.get(url, HTTP_RANGE="bytes=10-19")
    assert part.status_code == 206 and body_of(part) == data[10:20]
    assert part["Content-Range"] == f"bytes 10-19/{f.size}" and part["Content-Length"] == "10"
    tail = pipeline.get(url, HTTP_RANGE="bytes=-7")
    assert tail.status_code == 206 and body_of(tail) == data[-7:]
    rest = pipeline.get(url, HTTP_RANGE=f"bytes={f.size - 3}-")
    assert body_of(rest) == data[-3:]
    beyond = pipeline.get(url, HTTP_RANGE=f"bytes={f.size + 10}-")
    assert_error_shape(beyond, 416)
    assert beyond["Content-Range"] == f"bytes */{f.size}"
    stale_if_range = pipeline.get(url, HTTP_RANGE="bytes=0-1", HTTP_IF_RANGE='"old"')
    assert stale_if_range.status_code == 200 and body_of(stale_if_range) == data
    head = pipeline.head(url)
    assert head.status_code == 200 and head["Content-Length"] == str(f.size) and head["ETag"] == f'"{f.sha256}"'
    parquet = pipeline.get(f"/api/v1/projects/{project.pk}/versions/latest/files/test.parquet")
    assert parquet.status_code == 200 and body_of(parquet)[:4] == b"PAR1"


def test_diff_endpoint(pipeline, project, exports_settings):
    items = add_items(project, 12)
    make_version(project, formats=["jsonl"])
    Consensus.objects.filter(item=items[0]).update(label="neu" if items[0].consensus.label != "neu" else "pos")
    add_items(project, 3, start=12)
    make_version(project, formats=["jsonl"])
    base = f"/api/v1/projects/{project.pk}/versions"
    r = pipeline.get(f"{base}/2/diff")
    assert r.status_code == 200
    assert r.json() == {"from_version": 1, "to_version": 2,
                        "counts": {"added": 3, "removed": 0, "relabelled": 1, "unchanged": 11}}
    rows = pipeline.get(f"{base}/2/diff?rows=true&limit=2").json()
    assert len(rows["rows"]) == 2 and rows["next_after"] is not None
    more = pipeline.get(f"{base}/2/diff?rows=true&limit=2&after={rows['next_after']}").json()
    assert len(more["rows"]) == 2 and more["next_after"] is None
    first = pipeline.get(f"{base}/1/diff").json()
    assert first["from_version"] is None and first["counts"]["added"] == 12
    backwards = pipeline.get(f"{base}/1/diff?against=2").json()
    assert backwards["counts"]["removed"] == 3
    assert_error_shape(pipeline.get(f"{base}/2/diff?changes=moved"), 400)
    assert_error_shape(pipeline.get(f"{base}/2/diff?limit=0"), 400)
    assert_error_shape(pipeline.get(f"{base}/2/diff?against=9"), 404)


def test_missing_things_are_404s_in_the_error_shape(pipeline, project, exports_settings):
    base = f"/api/v1/projects/{project.pk}/versions"
    assert_error_shape(pipeline.get(f"{base}/latest"), 404)
    add_items(project, 3)
    make_version(project, formats=["jsonl"])
    assert_error_shape(pipeline.get(f"{base}/7"), 404)
    missing = pipeline.get(f"{base}/1/files/train.parquet")
    assert_error_shape(missing, 404)
    assert "train.jsonl" in missing.json()["errors"][0]["message"]
    assert pipeline.get(f"{base}/abc").status_code == 404


def test_a_pipeline_token_cannot_write_or_read_another_project(pipeline, project, lead, exports_settings):
    add_items(project, 3)
    make_version(project, formats=["jsonl"])
    other = ProjectFactory()
    add_items(other, 3, prefix="o")
    make_version(other, formats=["jsonl"])
    assert_error_shape(pipeline.post(f"/api/v1/projects/{project.pk}/versions", {}, format="json"), 403)
    assert_error_shape(pipeline.patch(f"/api/v1/projects/{project.pk}/export-settings", {"split_train": 0.5},
                                      format="json"), 403)
    assert_error_shape(pipeline.get(f"/api/v1/projects/{project.pk}/export-settings"), 403)
    assert_error_shape(pipeline.get(f"/api/v1/projects/{project.pk}/webhook-deliveries"), 403)
    assert_error_shape(pipeline.post(f"/api/v1/projects/{project.pk}/labelstudio/import", [], format="json"), 403)
    for path in ("versions", "versions/latest", "versions/1/manifest", "versions/1/files/train.jsonl",
                 "versions/1/diff"):
        assert_error_shape(pipeline.get(f"/api/v1/projects/{other.pk}/{path}"), 404)
    assert not Job.objects.filter(kind="export").exists()


def test_only_leads_ask_for_versions(annotator_client, outsider_client, project, exports_settings):
    assert_error_shape(annotator_client.post(f"/api/v1/projects/{project.pk}/versions", {}, format="json"), 403)
    assert_error_shape(outsider_client.get(f"/api/v1/projects/{project.pk}/versions"), 404)
    assert_error_shape(annotator_client.get(f"/api/v1/projects/{project.pk}/export-settings"), 403)


def test_a_lead_asks_for_a_version_and_gets_a_job(lead_client, project, exports_settings,
                                                  django_capture_on_commit_callbacks):
    add_items(project, 10)
    with django_capture_on_commit_callbacks(execute=True):
        r = lead_client.post(f"/api/v1/projects/{project.pk}/versions",
                             {"note": "api", "formats": ["jsonl", "parquet"], "selection": {"gold": False}},
                             format="json")
    assert r.status_code == 202, r.json()
    assert r.json()["created"] is True
    job = Job.objects.get(pk=r.json()["job"]["id"])
    assert job.status == "succeeded", job.error
    v = DatasetVersion.objects.get(project=project)
    assert v.formats == ["jsonl", "parquet"] and v.note == "api" and v.selection["gold"] is False
    # Asking again for the same content gives the same version (a job that publishes nothing new).
    with django_capture_on_commit_callbacks(execute=True):
        again = lead_client.post(f"/api/v1/projects/{project.pk}/versions",
                                 {"formats": ["parquet", "jsonl"], "selection": {"gold": False}}, format="json")
    job2 = Job.objects.get(pk=again.json()["job"]["id"])
    assert job2.result["version"] == 1 and job2.result["created"] is False
    assert DatasetVersion.objects.filter(project=project).count() == 1


@pytest.mark.parametrize("payload, field", [
    ({"formats": ["xml"]}, "formats.0"),
    ({"formats": []}, "formats"),
    ({"selection": {"accepted": False, "reviewed": False, "gold": False}}, "selection"),
    ({"selection": {"include_weak_above": 3}}, "selection.include_weak_above"),
    ({"note": "x" * 3000}, "note"),
])
def test_bad_requests_say_which_field(lead_client, project, payload, field):
    r = lead_client.post(f"/api/v1/projects/{project.pk}/versions", payload, format="json")
    assert_error_shape(r, 400)
    assert r.json()["errors"][0]["field"] == field


def test_export_settings_api(lead_client, project):
    url = f"/api/v1/projects/{project.pk}/export-settings"
    r = lead_client.get(url)
    assert r.status_code == 200 and r.json()["split_train"] == 0.8 and len(r.json()["split_salt"]) == 32
    assert r.json()["webhook_secret_set"] is False and "webhook_secret" not in r.json()
    r = lead_client.patch(url, {"split_train": 0.7, "split_validation": 0.2, "webhook_url": "https://h.invalid/x",
                                "webhook_secret": "s3cret"}, format="json")
    assert r.status_code == 200 and r.json()["split_validation"] == 0.2 and r.json()["webhook_secret_set"] is True
    bad = lead_client.patch(url, {"split_train": 0.9}, format="json")
    assert_error_shape(bad, 400)
    assert "add up to 1" in bad.json()["errors"][0]["message"]
    assert_error_shape(lead_client.patch(url, {"webhook_url": "ftp://h.invalid/x"}, format="json"), 400)
    assert_error_shape(lead_client.patch(url, {"split_test": 2}, format="json"), 400)
    lead_client.patch(url, {"split_salt": "mine"}, format="json")  # read-only: ignored
    assert lead_client.get(url).json()["split_salt"] == r.json()["split_salt"]


def test_webhook_deliveries_are_listed_for_leads(lead_client, project, exports_settings):
    WebhookDelivery.objects.create(project=project, event="dataset_version.ready", url="https://h.invalid/x",
                                   payload={"a": 1}, status="failed", attempts=6, last_error="HTTP 500")
    r = lead_client.get(f"/api/v1/projects/{project.pk}/webhook-deliveries")
    assert r.status_code == 200 and r.json()["results"][0]["last_error"] == "HTTP 500"
    assert lead_client.get(f"/api/v1/projects/{project.pk}/webhook-deliveries?status=delivered").json()["results"] == []
    assert_error_shape(lead_client.get(f"/api/v1/projects/{project.pk}/webhook-deliveries?status=x"), 400)


def test_labelstudio_config_endpoint(pipeline, project):
    r = pipeline.get(f"/api/v1/projects/{project.pk}/labelstudio/config")
    assert r.status_code == 200 and '<Choices name="label" toName="text" choice="single">' in r.json()["config"]
