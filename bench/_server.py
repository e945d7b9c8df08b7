"""Shared harness for the HTTP benchmarks: a fresh database, a real gunicorn server, a token.

``BenchServer("sqlite")`` makes a temporary data folder with its own SQLite file;
``BenchServer("postgres")`` creates (and afterwards drops) a database on the local PostgreSQL.
The server runs the project's WSGI app under gunicorn, as in production.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
GUNICORN = str(Path(PY).with_name("gunicorn"))
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _psql(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        conn.execute(sql)


class BenchServer:
    def __init__(self, backend: str, *, workers: int = 2, threads: int = 1, name: str = "quorum_bench") -> None:
        self.backend = backend
        self.workers = workers
        self.threads = threads
        self.dir = Path(tempfile.mkdtemp(prefix=f"quorum-bench-{backend}-"))
        self.db_name = f"{name}_{os.getpid()}"
        self.env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
        self.env.update({"QUORUM_DATA_DIR": str(self.dir), "QUORUM_LOG_LEVEL": "WARNING"})
        if backend == "postgres":
            _psql(f'DROP DATABASE IF EXISTS "{self.db_name}"')
            _psql(f'CREATE DATABASE "{self.db_name}"')
            self.env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{self.db_name}"
        elif backend != "sqlite":
            raise ValueError(backend)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.token = ""

    def manage(self, *args: str, input_text: str | None = None) -> str:
        out = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True,
                             input=input_text, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{out.stderr[-3000:]}")
        return out.stdout

    def shell(self, code: str) -> str:
        return self.manage("shell", "--no-imports", "-c", code)

    def __enter__(self) -> "BenchServer":
        try:
            self._setup()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _setup(self) -> None:
        self.manage("migrate", "--noinput", "-v", "0")
        self.shell("from django.contrib.auth import get_user_model; "
                   "get_user_model().objects.create_superuser('bench', 'bench@example.org', 'bench')")
        self.token = self.manage("createtoken", "bench").strip().splitlines()[-1]
        self._start()

    def _start(self) -> None:
        self.proc = subprocess.Popen(
            [GUNICORN, "config.wsgi:application", "-b", f"127.0.0.1:{self.port}", "-w", str(self.workers),
             "--threads", str(self.threads), "--timeout", "300", "--log-level", "warning"],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=open(self.dir / "gunicorn.log", "a"),
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                requests.get(f"{self.url}/api/v1/me", headers=self.headers, timeout=10)
                return
            except requests.RequestException:
                time.sleep(0.2)
        self._stop()  # never leave a half-started server behind
        raise RuntimeError(f"gunicorn did not start; see {self.dir / 'gunicorn.log'}")

    def _stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None

    def restart(self, *, workers: int, threads: int) -> None:
        """Run the same database under a new gunicorn with another worker/thread count."""
        self._stop()
        self.workers, self.threads = workers, threads
        self._start()

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}

    def __exit__(self, *exc) -> None:
        self._stop()
        if self.backend == "postgres":
            for _ in range(10):
                try:
                    _psql(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
                    break
                except Exception:  # noqa: BLE001 - connections still closing
                    time.sleep(0.5)
        shutil.rmtree(self.dir, ignore_errors=True)
