"""S3 storage against a real S3-compatible HTTP endpoint: moto in server mode, started here.

boto3 is not patched: it talks HTTP to ``moto_server`` on a free localhost port."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from labeling.exports import services
from labeling.exports.models import DatasetVersion
from labeling.exports.selection import Selection
from labeling.exports.services import dataset_version_create, dataset_version_diff
from labeling.exports.storage import LocalFile, S3Storage
from tests.exports.conftest import add_items, relabel

MOTO = str(Path(sys.executable).with_name("moto_server"))
pytestmark = pytest.mark.django_db


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def moto_endpoint():
    port = _free_port()
    proc = subprocess.Popen([MOTO, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                requests.get(url, timeout=5)
                break
            except requests.RequestException:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start on {url}") from None
                time.sleep(0.1)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def s3(moto_endpoint, settings, monkeypatch):
    """Exports configured for S3 at the moto endpoint, with a fresh bucket."""
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    bucket = f"quorum-{uuid.uuid4().hex[:12]}"
    settings.QUORUM_EXPORTS = {**settings.QUORUM_EXPORTS, "STORAGE": "s3", "S3_BUCKET": bucket,
                               "S3_PREFIX": "exports/test", "S3_REGION": "us-east-1",
                               "S3_ENDPOINT_URL": moto_endpoint, "S3_MULTIPART_THRESHOLD": 5 * 1024 * 1024,
                               "S3_MULTIPART_CHUNKSIZE": 5 * 1024 * 1024, "CHUNK_SIZE": 9}
    storage = S3Storage()
    storage.client.create_bucket(Bucket=bucket)
    return storage


def keys(storage: S3Storage) -> list[str]:
    return [o["Key"] for o in storage.client.list_objects_v2(Bucket=storage.bucket).get("Contents", [])]


def test_large_files_go_up_in_parts_and_come_back_whole(s3, tmp_path):
    path = tmp_path / "big.bin"
    data = os.urandom(12 * 1024 * 1024 + 123)
    path.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    s3.publish([LocalFile(name="big.bin", path=path, content_type="application/octet-stream", sha256=sha,
                          size=len(data))], "projects/1/abc")
    head = s3.head("projects/1/abc/big.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].strip('"').endswith("-3")  # a multipart upload of three parts
    assert head["Metadata"]["sha256"] == sha
    assert keys(s3) == ["exports/test/projects/1/abc/big.bin"]
    assert b"".join(s3.open_range("projects/1/abc/big.bin", 100, 199)) == data[100:200]
    url = s3.presigned_url("projects/1/abc/big.bin", filename="big.bin", content_type="application/octet-stream")
    fetched = requests.get(url, timeout=30)
    assert fetched.status_code == 200 and hashlib.sha256(fetched.content).hexdigest() == sha
    s3.delete_prefix("projects/1/abc")
    assert keys(s3) == []


def test_a_version_on_s3_downloads_by_redirect_and_streams_on_request(s3, lead, project):
    add_items(project, 30)
    v = dataset_version_create(project=project, selection=Selection(), formats=["jsonl", "parquet"]).version
    assert v.storage == "s3" and v.bucket == s3.bucket
    assert sorted(k.rsplit("/", 1)[1] for k in keys(s3)) == sorted(v.files.values_list("name", flat=True))
    from tests.conftest import client_for
    from annotators.models import TokenKind

    pipeline = client_for(lead, kind=TokenKind.PIPELINE, project=project)
    f = v.files.get(name="train.jsonl")
    url = f"/api/v1/projects/{project.pk}/versions/1/files/train.jsonl"
    r = pipeline.get(url)
    assert r.status_code == 302 and r["ETag"] == f'"{f.sha256}"'
    presigned = r["Location"]
    assert presigned.startswith(s3.conf["S3_ENDPOINT_URL"]) and "X-Amz-Signature" in presigned
    body = requests.get(presigned, timeout=30)
    assert hashlib.sha256(body.content).hexdigest() == f.sha256
    assert "attachment" in body.headers["Content-Disposition"]
    ranged = requests.get(presigned, headers={"Range": "bytes=0-9"}, timeout=30)
    assert ranged.status_code == 206 and ranged.content == body.content[:10]
    assert pipeline.get(url, HTTP_IF_NONE_MATCH=f'"{f.sha256}"').status_code == 304
    streamed = pipeline.get(url + "?redirect=false")
    assert streamed.status_code == 200 and b"".join(streamed.streaming_content) == body.content
    part = pipeline.get(url + "?redirect=false", HTTP_RANGE="bytes=5-14")
    assert part.status_code == 206 and b"".join(part.streaming_content) == body.content[5:15]


def test_diffs_read_the_indexes_from_s3(s3, project):
    items = add_items(project, 10)
    v1 = dataset_version_create(project=project, selection=Selection(), formats=["jsonl"]).version
    relabel(items[2], "zzz")
    v2 = dataset_version_create(project=project, selection=Selection(), formats=["jsonl"]).version
    assert v2.manifest["diff_from_parent"]["relabelled"] == 1
    assert dataset_version_diff(old=v1, new=v2).counts()["relabelled"] == 1


def test_a_failed_publication_leaves_no_objects(s3, project, monkeypatch):
    add_items(project, 10)

    def boom(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "webhook_enqueue_version_ready", boom)
    with pytest.raises(RuntimeError):
        dataset_version_create(project=project, selection=Selection(), formats=["jsonl", "csv"])
    assert keys(s3) == [] and not DatasetVersion.objects.exists()


def test_a_duplicate_publication_removes_its_upload(s3, project, monkeypatch):
    add_items(project, 10)
    first = dataset_version_create(project=project, selection=Selection(), formats=["jsonl"]).version
    before = keys(s3)
    # Pretend the first check missed the existing version (a concurrent export published it meanwhile).
    real_filter = DatasetVersion.objects.filter
    calls = {"n": 0}

    def first_check_misses(*args, **kwargs):
        qs = real_filter(*args, **kwargs)
        if "fingerprint" in kwargs and calls["n"] == 0:
            calls["n"] += 1
            return qs.none()
        return qs

    monkeypatch.setattr(DatasetVersion.objects, "filter", first_check_misses)
    again = dataset_version_create(project=project, selection=Selection(), formats=["jsonl"])
    assert not again.created and again.version.pk == first.pk
    assert keys(s3) == before
