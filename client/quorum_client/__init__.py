"""quorum_client: pull Quorum dataset versions into training pipelines.

No Django, no Quorum import: it needs only the Python standard library, and uses ``requests`` when
it is installed. pandas, pyarrow and Hugging Face ``datasets`` are used only by the methods that
return their objects.

    from quorum_client import Client

    client = Client("https://quorum.example.org", token="qrm_...")   # a pipeline token
    ds = client.dataset(7, version="latest")      # pinned to a number on first use
    df = ds.to_pandas(split="train")              # Parquet if the version has it, else JSONL
    paths = ds.download("data/")                  # every file, sha256-checked
    hf = ds.to_hf()                               # datasets.DatasetDict (needs `datasets`)

Every file is checked against the sha256 in the version's manifest while it downloads; a file
whose bytes do not match raises ``HashMismatch`` and is not kept. Verified files are cached by
hash (``$QUORUM_CACHE_DIR``, default ``~/.cache/quorum``), so a version is downloaded once per
machine, and two versions sharing a file share its bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

__all__ = ["Client", "Dataset", "HashMismatch", "QuorumError", "SPLITS"]
__version__ = "1.0.0"

SPLITS = ("train", "validation", "test")
EXTENSIONS = {"jsonl": "jsonl", "csv": "csv", "parquet": "parquet", "labelstudio": "labelstudio.json"}
CHUNK = 1024 * 1024


class QuorumError(Exception):
    """The server refused a request; ``status`` is the HTTP status, ``errors`` the server's list."""

    def __init__(self, message: str, *, status: int | None = None, errors: list | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors or []


class HashMismatch(QuorumError):
    """A downloaded file's sha256 differs from the manifest's: the file was not kept."""


def _error_from(status: int, body: bytes) -> QuorumError:
    try:
        errors = json.loads(body).get("errors", [])
        message = "; ".join(f"{e['field']}: {e['message']}" if e.get("field") else e["message"] for e in errors)
    except (ValueError, AttributeError, KeyError, TypeError):
        errors, message = [], body[:200].decode(errors="replace")
    return QuorumError(f"HTTP {status}: {message}", status=status, errors=errors)


# --- Transports ------------------------------------------------------------------------------------

class _Response:
    def __init__(self, status: int, headers: dict[str, str], chunks, close) -> None:
        self.status = status
        self.headers = headers
        self.chunks = chunks
        self.close = close

    def read(self) -> bytes:
        try:
            return b"".join(self.chunks)
        finally:
            self.close()


class _RequestsTransport:
    def __init__(self, timeout: float) -> None:
        import requests

        self.session = requests.Session()
        self.timeout = timeout

    def get(self, url: str, headers: dict[str, str]) -> _Response:
        # requests drops the Authorization header when a redirect leaves the host (a presigned URL).
        r = self.session.get(url, headers=headers, stream=True, timeout=self.timeout)
        return _Response(r.status_code, dict(r.headers), r.iter_content(CHUNK), r.close)


class _DropAuthOnRedirect(urllib.request.HTTPRedirectHandler):
    """Follow redirects, but never send our token to another host (e.g. a presigned S3 URL)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urllib.parse.urlsplit(newurl).netloc != urllib.parse.urlsplit(req.full_url).netloc:
            new.remove_header("Authorization")
        return new


class _UrllibTransport:
    def __init__(self, timeout: float) -> None:
        self.opener = urllib.request.build_opener(_DropAuthOnRedirect())
        self.timeout = timeout

    def get(self, url: str, headers: dict[str, str]) -> _Response:
        request = urllib.request.Request(url, headers=headers)
        try:
            fh = self.opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            fh = exc
        chunks = iter(lambda: fh.read(CHUNK), b"")
        return _Response(fh.status if hasattr(fh, "status") else fh.code, dict(fh.headers.items()), chunks, fh.close)


def _transport(kind: str | None, timeout: float):
    if kind in (None, "requests"):
        try:
            return _RequestsTransport(timeout)
        except ImportError:
            if kind == "requests":
                raise
    return _UrllibTransport(timeout)


# --- Client ----------------------------------------------------------------------------------------

class Client:
    """A Quorum server and a token (a pipeline token: read-only, one project)."""

    def __init__(self, url: str, token: str, *, cache_dir: str | os.PathLike | None = None, timeout: float = 60.0,
                 transport: str | None = None, verify_cache: bool = True) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.cache_dir = Path(cache_dir or os.environ.get("QUORUM_CACHE_DIR") or Path.home() / ".cache" / "quorum")
        self.verify_cache = verify_cache
        self._http = _transport(transport, timeout)

    # Low level
    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}", "Accept": "application/json", **(extra or {})}

    def _absolute(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.url}{path}"

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        url = self._absolute(path)
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(
                {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in params.items() if v is not None})
        response = self._http.get(url, self._headers())
        body = response.read()
        if not 200 <= response.status < 300:
            raise _error_from(response.status, body)
        return json.loads(body)

    # API
    def versions(self, project: int) -> list[dict[str, Any]]:
        """Every version of the project, newest first."""
        out: list[dict[str, Any]] = []
        page: str | None = f"/api/v1/projects/{project}/versions"
        while page:
            body = self.get_json(page)
            out.extend(body["results"])
            page = body.get("next")
        return out

    def dataset(self, project: int, version: int | str = "latest") -> "Dataset":
        """A version of the project's dataset (``latest`` is pinned to its number on first use)."""
        return Dataset(self, project, version)

    # Files
    def cached_file(self, sha256: str) -> Path:
        return self.cache_dir / "sha256" / sha256[:2] / sha256

    def fetch(self, path: str, *, sha256: str, size: int | None = None) -> Path:
        """The verified local copy of a file (from the cache, or downloaded and checked)."""
        target = self.cached_file(sha256)
        if target.exists():
            if (size is None or target.stat().st_size == size) and (
                    not self.verify_cache or _sha256_of(target) == sha256):
                return target
            target.unlink()  # a damaged cache entry: fetch it again
        target.parent.mkdir(parents=True, exist_ok=True)
        response = self._http.get(self._absolute(path), self._headers({"Accept": "*/*"}))
        if response.status != 200:
            raise _error_from(response.status, response.read())
        digest = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{sha256[:12]}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                try:
                    for chunk in response.chunks:
                        digest.update(chunk)
                        out.write(chunk)
                finally:
                    response.close()
            got = digest.hexdigest()
            if got != sha256:
                raise HashMismatch(f"{path}: sha256 {got} does not match the manifest's {sha256}; the file was "
                                   "not kept", status=response.status)
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return target


def _sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


class Dataset:
    """One version of a project's dataset."""

    def __init__(self, client: Client, project: int, version: int | str = "latest") -> None:
        self.client = client
        self.project = project
        self.ref = str(version)
        self._detail: dict[str, Any] | None = None

    @property
    def detail(self) -> dict[str, Any]:
        if self._detail is None:
            self._detail = self.client.get_json(f"/api/v1/projects/{self.project}/versions/{self.ref}")
            self.ref = str(self._detail["number"])  # pin "latest"
        return self._detail

    @property
    def number(self) -> int:
        return int(self.detail["number"])

    @property
    def manifest(self) -> dict[str, Any]:
        return self.detail["manifest"]

    @property
    def files(self) -> list[dict[str, Any]]:
        return self.detail["files"]

    def file(self, split: str = "train", format: str = "jsonl") -> dict[str, Any]:
        name = f"{split}.{EXTENSIONS.get(format, format)}"
        for f in self.files:
            if f["name"] == name:
                return f
        have = ", ".join(f["name"] for f in self.files)
        raise QuorumError(f"version {self.number} has no {name}; it has {have}")

    def path(self, split: str = "train", format: str = "jsonl") -> Path:
        """The verified local path of one file (cached by its sha256)."""
        f = self.file(split, format)
        return self.client.fetch(f["url"], sha256=f["sha256"], size=f["size"])

    def download(self, directory: str | os.PathLike, *, formats: list[str] | None = None,
                 splits: list[str] | None = None) -> dict[str, Path]:
        """Copy the version's files (all, or those of ``formats``/``splits``) into ``directory``,
        each checked against its sha256, and write ``manifest.json`` beside them."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths: dict[str, Path] = {}
        for f in self.files:
            if f["format"] == "index" or (formats and f["format"] not in formats) or (splits and f["split"] not in splits):
                continue
            cached = self.client.fetch(f["url"], sha256=f["sha256"], size=f["size"])
            dest = out / f["name"]
            if dest.exists():
                dest.unlink()
            try:
                os.link(cached, dest)
            except OSError:
                shutil.copyfile(cached, dest)
            paths[f["name"]] = dest
        (out / "manifest.json").write_text(json.dumps(self.manifest, indent=2, ensure_ascii=False))
        return paths

    def _best_format(self, preferred: str | None) -> str:
        available = {f["format"] for f in self.files}
        for fmt in ([preferred] if preferred else ["parquet", "jsonl", "csv"]):
            if fmt in available:
                return fmt
        raise QuorumError(f"version {self.number} has none of the formats asked for ({preferred or 'parquet, jsonl, csv'})")

    def to_pandas(self, split: str = "train", format: str | None = None):
        """One split as a pandas DataFrame (needs pandas; pyarrow for Parquet)."""
        import pandas as pd

        fmt = self._best_format(format)
        path = self.path(split, fmt)
        if fmt == "parquet":
            return pd.read_parquet(path)
        if fmt == "jsonl":
            return pd.read_json(path, lines=True, dtype=False)
        return pd.read_csv(path, keep_default_na=False, na_values=[""])

    def to_hf(self, split: str | None = None, format: str | None = None):
        """A Hugging Face ``datasets.Dataset`` (one split) or ``DatasetDict`` (all splits).

        Needs the ``datasets`` package (``pip install datasets``)."""
        try:
            import datasets
        except ImportError as exc:
            raise ImportError("to_hf needs the Hugging Face datasets package: pip install datasets") from exc
        fmt = self._best_format(format if format else None)
        loader = {"parquet": "parquet", "jsonl": "json", "csv": "csv"}[fmt]
        wanted = [split] if split else list(SPLITS)
        files = {s: str(self.path(s, fmt)) for s in wanted}
        loaded = datasets.load_dataset(loader, data_files=files)
        return loaded[split] if split else loaded

    def diff(self, against: int | None = None, *, rows: bool = False, limit: int = 1000) -> dict[str, Any]:
        """What changed since ``against`` (default: the parent): counts, and the rows if asked (all pages)."""
        params: dict[str, Any] = {"against": against, "rows": rows, "limit": limit}
        body = self.client.get_json(f"/api/v1/projects/{self.project}/versions/{self.number}/diff", params)
        if rows:
            while body.get("next_after") is not None:
                more = self.client.get_json(f"/api/v1/projects/{self.project}/versions/{self.number}/diff",
                                            {**params, "after": body["next_after"]})
                body["rows"].extend(more["rows"])
                body["next_after"] = more.get("next_after")
        return body
