"""The Python client over real HTTP (pytest-django's live server): pandas, downloads verified by
sha256, the cache keyed by hash, a corrupted file refused, the standard library alone, S3 redirects."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from annotators.models import TokenKind
from annotators.services import token_create
from labeling.exports.selection import Selection
from labeling.exports.services import dataset_version_create
from labeling.exports.storage import DiskStorage
from tests.exports.conftest import add_items
from tests.exports.test_s3 import moto_endpoint, s3  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "client"))
from quorum_client import Client, HashMismatch, QuorumError  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pipeline_key(lead, project):
    return token_create(user=lead, kind=TokenKind.PIPELINE, project=project, name="trainer")[1]


@pytest.fixture
def version(project, lead, exports_settings):
    add_items(project, 60, gold_every=9, data=lambda i: {"text": f"t{i}", "n": i, "tags": ["x"] if i % 2 else []})
    return dataset_version_create(project=project, selection=Selection(), formats=["jsonl", "csv", "parquet"],
                                  created_by=lead).version


def jsonl_of(version, split: str) -> list[dict]:
    path = DiskStorage().local_path(version.files.get(name=f"{split}.jsonl").key)
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("transport", ["requests", "urllib"])
def test_to_pandas_and_download(live_server, pipeline_key, project, version, tmp_path, transport):
    client = Client(live_server.url, pipeline_key, cache_dir=tmp_path / "cache", transport=transport)
    ds = client.dataset(project.pk)
    assert ds.number == 1 and ds.manifest["counts"]["rows"] == 60
    df = ds.to_pandas(split="train")  # Parquet
    expected = jsonl_of(version, "train")
    assert list(df["external_id"]) == [r["external_id"] for r in expected]
    assert str(df["n"].dtype) == "int64" and list(df["tags"].iloc[1]) in (["x"], [])
    df_jsonl = ds.to_pandas(split="test", format="jsonl")
    assert list(df_jsonl["item_id"]) == [r["item_id"] for r in jsonl_of(version, "test")]
    df_csv = ds.to_pandas(split="validation", format="csv")
    assert len(df_csv) == version.manifest["counts"]["per_split"]["validation"]

    paths = ds.download(tmp_path / "out")
    assert set(paths) == {f"{s}.{e}" for s in ("train", "validation", "test") for e in ("jsonl", "csv", "parquet")}
    for f in version.files.exclude(format="index"):
        assert paths[f.name].read_bytes() == DiskStorage().local_path(f.key).read_bytes()
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["fingerprint"] == version.fingerprint
    assert client.versions(project.pk)[0]["number"] == 1
    assert ds.diff()["counts"]["added"] == 60


def test_downloads_come_from_the_cache_keyed_by_hash(live_server, pipeline_key, project, version, tmp_path):
    client = Client(live_server.url, pipeline_key, cache_dir=tmp_path / "cache")
    first = client.dataset(project.pk, version=1).download(tmp_path / "a")
    # The server's copy disappears: the cached, verified bytes are still there.
    DiskStorage().delete_prefix(version.location)
    second = client.dataset(project.pk, version=1).download(tmp_path / "b")
    assert {k: v.read_bytes() for k, v in first.items()} == {k: v.read_bytes() for k, v in second.items()}
    f = version.files.get(name="train.jsonl")
    assert client.cached_file(f.sha256).exists()


def test_a_corrupted_file_is_refused_and_not_kept(live_server, pipeline_key, project, version, tmp_path):
    f = version.files.get(name="train.jsonl")
    path = DiskStorage().local_path(f.key)
    data = bytearray(path.read_bytes())
    data[5] ^= 0x01
    path.write_bytes(bytes(data))
    client = Client(live_server.url, pipeline_key, cache_dir=tmp_path / "cache")
    with pytest.raises(HashMismatch, match="does not match"):
        client.dataset(project.pk).download(tmp_path / "out", formats=["jsonl"], splits=["train"])
    assert not client.cached_file(f.sha256).exists()
    assert not (tmp_path / "out" / "train.jsonl").exists()
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    with pytest.raises(HashMismatch):
        client.dataset(project.pk).to_pandas(split="train", format="jsonl")


def test_a_damaged_cache_entry_is_fetched_again(live_server, pipeline_key, project, version, tmp_path):
    client = Client(live_server.url, pipeline_key, cache_dir=tmp_path / "cache")
    ds = client.dataset(project.pk)
    good = ds.path("train", "jsonl").read_bytes()
    ds.path("train", "jsonl").write_bytes(b"garbage")
    assert client.dataset(project.pk).path("train", "jsonl").read_bytes() == good


def test_errors_come_back_as_quorum_errors(live_server, pipeline_key, project, version, tmp_path):
    client = Client(live_server.url, pipeline_key, cache_dir=tmp_path / "cache")
    with pytest.raises(QuorumError) as info:
        client.dataset(project.pk, version=9).manifest
    assert info.value.status == 404 and "no version 9" in str(info.value)
    with pytest.raises(QuorumError) as other:
        client.dataset(project.pk + 1000).manifest
    assert other.value.status == 404
    with pytest.raises(QuorumError, match="unknown API token"):
        Client(live_server.url, "qrm_nope", cache_dir=tmp_path / "c").versions(project.pk)
    with pytest.raises(QuorumError, match="no train.labelstudio.json"):
        client.dataset(project.pk).file("train", "labelstudio")


def test_to_hf_gives_a_hugging_face_dataset(live_server, pipeline_key, project, version, tmp_path):
    pytest.importorskip("datasets")
    client = Client(live_server.url, pipeline_key, cache_dir=tmp_path / "cache")
    dd = client.dataset(project.pk).to_hf(format="jsonl")
    assert dd["train"].num_rows == version.manifest["counts"]["per_split"]["train"]


def test_to_hf_says_what_to_install_without_datasets(live_server, pipeline_key, project, version, tmp_path,
                                                      monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(ImportError, match="pip install datasets"):
        Client(live_server.url, pipeline_key, cache_dir=tmp_path / "c").dataset(project.pk).to_hf()


def test_the_client_needs_neither_django_nor_requests(live_server, pipeline_key, project, version, tmp_path):
    script = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("django", "requests", "labeling", "config", "pandas"):
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
sys.path.insert(0, {str(ROOT / "client")!r})
from quorum_client import Client
ds = Client({live_server.url!r}, {pipeline_key!r}, cache_dir={str(tmp_path / "cache")!r}).dataset({project.pk})
paths = ds.download({str(tmp_path / "out")!r}, formats=["jsonl"])
assert "django" not in sys.modules and "requests" not in sys.modules
print(sorted(paths))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "train.jsonl" in out.stdout


def test_the_client_follows_the_s3_redirect_without_our_token(live_server, s3, lead, project, tmp_path):  # noqa: F811
    add_items(project, 20)
    v = dataset_version_create(project=project, selection=Selection(), formats=["jsonl", "parquet"]).version
    key = token_create(user=lead, kind=TokenKind.PIPELINE, project=project)[1]
    for transport in ("requests", "urllib"):
        client = Client(live_server.url, key, cache_dir=tmp_path / transport, transport=transport)
        df = client.dataset(project.pk).to_pandas(split="train")
        assert len(df) == v.manifest["counts"]["per_split"]["train"]
        paths = client.dataset(project.pk).download(tmp_path / f"out-{transport}")
        assert len(paths) == 6
