"""Where published dataset files live: local disk (the default) or S3 (through boto3).

Both backends implement one small protocol (``Storage``). A version's files are written to a local
work folder first; ``publish`` then puts the whole folder under a fresh key prefix nobody refers
to yet (``projects/<project>/<uuid>``). The version row that makes them visible is created only
after that, so a reader never sees a partial version:

- disk: one ``os.replace`` of the folder into place (atomic on one filesystem; the work folder is
  kept under the exports root for that reason);
- S3: one upload per file (multipart above ``S3_MULTIPART_THRESHOLD``), each file stored with its
  sha256 as object metadata. Objects under a prefix that no version row names are invisible to the
  API and removed by ``delete_prefix`` when publishing fails.

Downloads stream from disk, or are redirected to a presigned S3 URL (``presigned_url``).
"""

from __future__ import annotations

import io
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from django.conf import settings

READ_CHUNK = 256 * 1024


def export_settings() -> dict:
    """The ``QUORUM_EXPORTS`` settings, with defaults for anything missing."""
    defaults = {
        "DIR": "",
        "STORAGE": "disk",
        "S3_BUCKET": "",
        "S3_PREFIX": "",
        "S3_REGION": "",
        "S3_ENDPOINT_URL": "",
        "S3_ADDRESSING_STYLE": "",
        "S3_MULTIPART_THRESHOLD": 8 * 1024 * 1024,
        "S3_MULTIPART_CHUNKSIZE": 8 * 1024 * 1024,
        "PRESIGN_SECONDS": 3600,
        "REDIRECT_DOWNLOADS": True,
        "CHUNK_SIZE": 5000,
        "PARQUET_ROW_GROUP": 50_000,
        "HEARTBEAT_SECONDS": 5,
        "STALE_AFTER_SECONDS": 120,
        "WEBHOOK_MAX_ATTEMPTS": 6,
        "WEBHOOK_TIMEOUT_SECONDS": 10,
        "WEBHOOK_BACKOFF_SECONDS": 10,
        "PUBLIC_URL": "",
    }
    return {**defaults, **getattr(settings, "QUORUM_EXPORTS", {})}


def exports_root() -> Path:
    """The local folder of published files (disk storage) and of work folders (every storage).

    ``QUORUM_EXPORTS_DIR`` when set, else ``<MEDIA_ROOT>/datasets``."""
    configured = export_settings()["DIR"]
    root = Path(configured) if configured else Path(settings.MEDIA_ROOT) / "datasets"
    root.mkdir(parents=True, exist_ok=True)
    return root


def work_root() -> Path:
    path = exports_root() / ".work"
    path.mkdir(parents=True, exist_ok=True)
    return path


def new_location(project_id: int) -> str:
    """A fresh key prefix for one version's files."""
    return f"projects/{project_id}/{uuid.uuid4().hex}"


@dataclass(frozen=True)
class LocalFile:
    """A finished file in the work folder, to be published as ``name`` under the prefix."""

    name: str
    path: Path
    content_type: str
    sha256: str
    size: int


class Storage(Protocol):
    kind: str
    bucket: str

    def publish(self, files: list[LocalFile], prefix: str) -> None:
        """Put every file under ``prefix`` (``prefix/name``); all or nothing."""

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The bytes of ``key`` from ``start`` to ``end`` inclusive (to the end when None), in chunks."""

    def local_path(self, key: str) -> Path | None:
        """The file on this machine, if the backend keeps files locally."""

    def presigned_url(self, key: str, *, filename: str, content_type: str) -> str | None:
        """A time-limited URL a client may GET without our token, or None if the backend has none."""

    def delete_prefix(self, prefix: str) -> None:
        """Remove every file under ``prefix`` (a failed or duplicate publication)."""


class DiskStorage:
    """Files under ``exports_root()``; keys are relative paths."""

    kind = "disk"
    bucket = ""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or exports_root()).resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise ValueError(f"storage key {key!r} leaves the exports folder")
        return path

    def publish(self, files: list[LocalFile], prefix: str) -> None:
        target = self._path(prefix)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = self.root / ".work" / f"publish-{uuid.uuid4().hex}"
        staging.mkdir(parents=True)
        try:
            for f in files:
                dest = staging / f.name
                try:
                    os.link(f.path, dest)  # same filesystem: no copy
                except OSError:
                    shutil.copyfile(f.path, dest)
                _fsync(dest)
            _fsync_dir(staging)
            os.replace(staging, target)
            _fsync_dir(target.parent)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        path = self._path(key)
        remaining = None if end is None else end - start + 1
        with open(path, "rb") as fh:
            fh.seek(start)
            while remaining is None or remaining > 0:
                chunk = fh.read(READ_CHUNK if remaining is None else min(READ_CHUNK, remaining))
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def presigned_url(self, key: str, *, filename: str, content_type: str) -> str | None:
        return None

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self._path(prefix), ignore_errors=True)


class S3Storage:
    """Files in an S3 bucket (or any S3-compatible endpoint), under ``S3_PREFIX``."""

    kind = "s3"

    def __init__(self, bucket: str | None = None) -> None:
        conf = export_settings()
        self.conf = conf
        self.bucket = bucket or conf["S3_BUCKET"]
        if not self.bucket:
            raise ValueError("S3 storage needs a bucket: set QUORUM_S3_BUCKET")
        self.prefix = conf["S3_PREFIX"].strip("/")
        self._client = None

    @property
    def client(self):
        if self._client is None:
            import boto3
            from botocore.config import Config

            endpoint = self.conf["S3_ENDPOINT_URL"] or None
            style = self.conf["S3_ADDRESSING_STYLE"] or ("path" if endpoint else "auto")
            self._client = boto3.session.Session().client(
                "s3",
                region_name=self.conf["S3_REGION"] or None,
                endpoint_url=endpoint,
                config=Config(signature_version="s3v4", s3={"addressing_style": style},
                              retries={"max_attempts": 5, "mode": "standard"}),
            )
        return self._client

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def publish(self, files: list[LocalFile], prefix: str) -> None:
        from boto3.s3.transfer import TransferConfig

        transfer = TransferConfig(
            multipart_threshold=int(self.conf["S3_MULTIPART_THRESHOLD"]),
            multipart_chunksize=int(self.conf["S3_MULTIPART_CHUNKSIZE"]),
            use_threads=True,
            max_concurrency=4,
        )
        try:
            for f in files:
                self.client.upload_file(
                    str(f.path), self.bucket, self._key(f"{prefix}/{f.name}"),
                    ExtraArgs={"ContentType": f.content_type, "Metadata": {"sha256": f.sha256}},
                    Config=transfer,
                )
        except BaseException:
            self.delete_prefix(prefix)
            raise

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        kwargs = {}
        if start or end is not None:
            kwargs["Range"] = f"bytes={start}-{'' if end is None else end}"
        body = self.client.get_object(Bucket=self.bucket, Key=self._key(key), **kwargs)["Body"]
        try:
            yield from body.iter_chunks(READ_CHUNK)
        finally:
            body.close()

    def local_path(self, key: str) -> Path | None:
        return None

    def presigned_url(self, key: str, *, filename: str, content_type: str) -> str | None:
        return self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._key(key),
                    "ResponseContentDisposition": f'attachment; filename="{filename}"',
                    "ResponseContentType": content_type},
            ExpiresIn=int(self.conf["PRESIGN_SECONDS"]),
        )

    def delete_prefix(self, prefix: str) -> None:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix) + "/"):
            keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})

    def head(self, key: str) -> dict:
        return self.client.head_object(Bucket=self.bucket, Key=self._key(key))


def default_storage() -> Storage:
    """The storage new versions are written to: S3 when a bucket is configured, else disk."""
    if export_settings()["STORAGE"] == "s3":
        return S3Storage()
    return DiskStorage()


def storage_for(kind: str, bucket: str = "") -> Storage:
    """The storage an existing version was written to (it keeps working after a change of settings)."""
    if kind == "s3":
        return S3Storage(bucket=bucket or None)
    return DiskStorage()


def open_stream(storage: Storage, key: str) -> io.BufferedReader:
    """A buffered, read()-able stream over ``key``'s bytes, for streaming readers (gzip, lines)."""
    return io.BufferedReader(_ChunkStream(storage.open_range(key)), buffer_size=READ_CHUNK)


class _ChunkStream(io.RawIOBase):
    """Adapts an iterator of byte chunks to a raw stream."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
        super().close()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        _fsync(path)
    except OSError:  # some filesystems do not fsync folders
        pass
