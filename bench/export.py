"""Benchmark: dataset version exports, time and peak memory, on SQLite and PostgreSQL.

    .venv/bin/python bench/export.py [--items 100000] [--answers 5] [--big 1000000]
                                     [--skip-postgres] [--skip-big] [--postgres-url URL]

For each backend the benchmark makes its own database: a SQLite file in a temporary folder, and a
PostgreSQL database ``quorum_bench_export`` that it creates and drops (at ``--postgres-url``,
default ``postgres://postgres@127.0.0.1:5432/postgres``). Each step runs Django in a child process
with ``DATABASE_URL`` set:

1. generate: migrate, then ``--items`` items with ``--answers`` answers each (5 annotators; a
   decision per item: 85 % accepted by the quorum rule, 5 % reviewed by a lead, 5 % gold, 5 % with
   no consensus, which the export leaves out), written with ``bulk_create`` in batches;
2. export, once per format, each in a fresh process: ``dataset_version_create`` with that format
   only (the same code the export job and ``manage.py export_dataset`` run), timed from the call
   to the published version (database read, split assignment, files, index, manifest, publishing).
   The peak RSS of that process (``ru_maxrss``: interpreter, Django and the export) is printed.

Then ``--big`` items (SQLite; items and decisions, without Answer rows: the export reads each
item's answer count and vote counts, never the answers table) to JSONL, for the memory figure.

The last line is ``jsonl_100k_s=<SQLite JSONL seconds for --items> peak_rss_mb=<peak RSS of the
--big JSONL export>``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
PG_DB = "quorum_bench_export"
REFERENCE = ("for comparison (quoted in issue 7, not measured here): a widely used open-source labeling tool "
             "takes about 4 s to export 1,000 tasks x 3 annotations, synchronously in the request")


# --- Child steps (run with DATABASE_URL set) ---------------------------------------------------------

def _django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def child_generate(n_items: int, n_answers: int, with_answers: bool) -> dict:
    _django()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from annotators.services import annotator_for_user
    from labeling.models import Answer, Consensus, Item, Project

    call_command("migrate", verbosity=0, interactive=False)
    started = time.perf_counter()
    User = get_user_model()
    lead = User.objects.create(username="bench-lead")
    annotators = [annotator_for_user(user=User.objects.create(username=f"bench-ann{i}")).pk for i in range(n_answers)]
    project = Project.objects.create(name="bench export", schema_kind="single", choices=["pos", "neg", "neu"],
                                     agree_k=3, min_answers=n_answers, max_answers=n_answers, created_by=lead)
    labels = ("pos", "neg", "neu")
    now = timezone.now()
    batch = 5000
    for start in range(0, n_items, batch):
        with transaction.atomic():
            rows = []
            for i in range(start, min(start + batch, n_items)):
                kind = i % 20
                is_gold = kind == 1
                rows.append(Item(project=project, external_id=f"doc-{i:07d}",
                                 data={"text": f"Review {i}: the product was {labels[i % 3]} in most respects, "
                                               f"said customer {i % 977}.", "stars": i % 5 + 1,
                                       "lang": "en" if i % 4 else "de"},
                                 is_gold=is_gold, gold=labels[i % 3] if is_gold else None,
                                 status="no_consensus" if kind == 2 else ("reviewed" if kind == 3 else "accepted"),
                                 answer_count=n_answers, needed=0, open_slots=0, confidence=0.8))
            items = Item.objects.bulk_create(rows)
            consensus, answers = [], []
            for item in items:
                i = int(item.external_id[4:])
                kind = i % 20
                label = labels[i % 3]
                top = n_answers - (i % 3 == 0)
                votes = {label: top}
                if top < n_answers:
                    votes[labels[(i + 1) % 3]] = n_answers - top
                consensus.append(Consensus(
                    item=item, label=None if kind == 2 else label, confidence=top / n_answers, method="majority",
                    votes=votes, status=item.status, reviewed_by=lead if kind == 3 else None,
                    reviewed_at=now if kind == 3 else None))
                if with_answers:
                    for a, annotator in enumerate(annotators):
                        value = label if a < top else labels[(i + 1) % 3]
                        answers.append(Answer(item=item, annotator_id=annotator, value=value, seconds=3.0,
                                              source="import"))
            Consensus.objects.bulk_create(consensus)
            if answers:
                Answer.objects.bulk_create(answers, batch_size=5000)
    return {"project": project.pk, "seconds": round(time.perf_counter() - started, 2)}


def child_export(project_id: int, fmt: str) -> dict:
    import resource

    _django()
    from labeling.exports.selection import Selection
    from labeling.exports.services import dataset_version_create
    from labeling.models import Project

    project = Project.objects.get(pk=project_id)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    result = dataset_version_create(project=project, selection=Selection(), formats=[fmt])
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    version = result.version
    size = sum(f.size for f in version.files.all() if f.format == fmt)
    return {"seconds": round(seconds, 3), "peak_rss_mb": round(peak, 1), "baseline_rss_mb": round(baseline, 1),
            "rows": version.row_count, "bytes": size, "created": result.created}


# --- Parent --------------------------------------------------------------------------------------------

def run_child(env: dict[str, str], *args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], env=env, cwd=ROOT, capture_output=True,
                         text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stdout + out.stderr)
        raise SystemExit(f"bench step {args[0]} failed ({out.returncode})")
    return json.loads(out.stdout.strip().splitlines()[-1])


def child_env(database_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "QUORUM_S3_"))}
    env.update({"DATABASE_URL": database_url, "QUORUM_DATA_DIR": str(data_dir),
                "QUORUM_EXPORTS_DIR": str(data_dir / "exports"), "QUORUM_LOG_LEVEL": "WARNING",
                "CELERY_BROKER_URL": ""})
    return env


def bench_backend(name: str, database_url: str, data_dir: Path, n_items: int, n_answers: int, formats: list[str],
                  with_answers: bool = True) -> dict[str, dict]:
    env = child_env(database_url, data_dir)
    generated = run_child(env, "generate", str(n_items), str(n_answers), "1" if with_answers else "0")
    what = f"{n_items:,} items x {n_answers} answers" if with_answers else f"{n_items:,} items (decisions only)"
    print(f"{name:<11} {what}: generated in {generated['seconds']:.1f} s", flush=True)
    results = {}
    for fmt in formats:
        r = run_child(env, "export", str(generated["project"]), fmt)
        results[fmt] = r
        print(f"{name:<11} {n_items:>9,} items  {fmt:<8} {r['seconds']:7.2f} s  peak RSS {r['peak_rss_mb']:6.1f} MB "
              f"(before the export {r['baseline_rss_mb']:.0f} MB)  {r['rows'] / r['seconds']:9,.0f} rows/s  "
              f"{r['rows']:,} rows  {r['bytes'] / 1e6:.1f} MB", flush=True)
    return results


def _pg_admin(url: str):
    import psycopg

    return psycopg.connect(url, autocommit=True)


def pg_url_for(admin_url: str, db: str) -> str:
    parts = urlsplit(admin_url)
    return urlunsplit(parts._replace(path=f"/{db}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--answers", type=int, default=5)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL",
                                                                 "postgres://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    print(f"export benchmark: {args.items:,} items x {args.answers} answers to JSONL and Parquet; "
          f"{'no big run' if args.skip_big else f'{args.big:,} items to JSONL'}; {os.cpu_count()} cores", flush=True)
    results: dict[str, dict] = {}
    tmp = Path(tempfile.mkdtemp(prefix="quorum-bench-export-"))
    try:
        sqlite_dir = tmp / "sqlite"
        sqlite_dir.mkdir()
        results["sqlite"] = bench_backend("sqlite", f"sqlite:///{sqlite_dir / 'bench.sqlite3'}", sqlite_dir,
                                          args.items, args.answers, ["jsonl", "parquet"])
        if not args.skip_postgres:
            admin = _pg_admin(args.postgres_url)
            try:
                admin.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
                admin.execute(f"CREATE DATABASE {PG_DB}")
                pg_dir = tmp / "postgres"
                pg_dir.mkdir()
                results["postgresql"] = bench_backend("postgresql", pg_url_for(args.postgres_url, PG_DB), pg_dir,
                                                      args.items, args.answers, ["jsonl", "parquet"])
            finally:
                admin.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
                admin.close()
        big = None
        if not args.skip_big:
            big_dir = tmp / "big"
            big_dir.mkdir()
            big = bench_backend("sqlite", f"sqlite:///{big_dir / 'bench.sqlite3'}", big_dir, args.big, args.answers,
                                ["jsonl"], with_answers=False)["jsonl"]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    jsonl = results["sqlite"]["jsonl"]
    per_thousand = jsonl["seconds"] / jsonl["rows"] * 1000
    print(f"per 1,000 exported rows (SQLite, JSONL): {per_thousand * 1000:.1f} ms; {REFERENCE}")
    target = "under" if jsonl["seconds"] < 10 else "OVER"
    print(f"target: {args.items:,} items to JSONL in under 10 s: {jsonl['seconds']:.2f} s ({target}); "
          f"target: {args.big:,} items under 500 MB RSS: "
          + (f"{big['peak_rss_mb']:.0f} MB ({'under' if big['peak_rss_mb'] < 500 else 'OVER'})" if big else "skipped"))
    peak = big["peak_rss_mb"] if big else jsonl["peak_rss_mb"]
    print(f"jsonl_100k_s={jsonl['seconds']:.2f} peak_rss_mb={peak:.0f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        step = sys.argv[2]
        if step == "generate":
            out = child_generate(int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1")
        else:
            out = child_export(int(sys.argv[3]), sys.argv[4])
        print(json.dumps(out))
    else:
        main()
