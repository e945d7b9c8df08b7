"""Import 100,000 items through the REST API (one JSONL upload) on SQLite and on PostgreSQL.

    .venv/bin/python bench/import_items.py [--items 100000] [--backends sqlite,postgres]

Each backend gets a fresh database and a real gunicorn server. The time is the wall-clock time of
the one HTTP request, from the first byte sent to the 201 response (parse, check every line, check
ids against the project, insert, commit). Target: under 20 s each on a 2-core machine.
The last line prints both figures.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import BenchServer  # noqa: E402


def make_file(n: int) -> bytes:
    out = io.StringIO()
    for i in range(n):
        out.write(json.dumps({"external_id": f"item-{i:07d}", "data": {
            "text": f"Review {i}: the product arrived on time and works as described, mostly.",
            "source": "bench", "stars": i % 5 + 1}}))
        out.write("\n")
    return out.getvalue().encode()


def run(backend: str, payload: bytes, n: int) -> float:
    with BenchServer(backend) as server:
        project = requests.post(f"{server.url}/api/v1/projects", headers=server.headers, json={
            "name": "bench import", "schema_kind": "single", "choices": ["pos", "neg", "neu"],
            "agree_k": 2, "min_answers": 2, "max_answers": 3}, timeout=30).json()
        start = time.perf_counter()
        r = requests.post(f"{server.url}/api/v1/projects/{project['id']}/items/import", headers=server.headers,
                          files={"file": ("items.jsonl", payload, "application/x-ndjson")}, timeout=600)
        elapsed = time.perf_counter() - start
        if r.status_code != 201 or r.json().get("created") != n:
            raise SystemExit(f"{backend}: import failed: {r.status_code} {r.text[:500]}")
        stats = requests.get(f"{server.url}/api/v1/projects/{project['id']}/stats", headers=server.headers,
                             timeout=30).json()
        assert stats["items"]["open"] == n, stats
    print(f"{backend:9s} {n:,} items, {len(payload) / 1e6:.1f} MB JSONL: {elapsed:.2f} s "
          f"({n / elapsed:,.0f} items/s)", flush=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    payload = make_file(args.items)
    results = {backend: run(backend, payload, args.items) for backend in args.backends.split(",")}
    print(" ".join(f"{backend}_import_{args.items // 1000}k_s={t:.2f}" for backend, t in results.items()))


if __name__ == "__main__":
    main()
