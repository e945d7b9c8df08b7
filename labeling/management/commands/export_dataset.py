"""``manage.py export_dataset --project P --format jsonl``: cut a dataset version from the shell.

Runs the same export as the API's job (``labeling.exports.services.dataset_version_create``), in
this process, with a progress bar. Prints the version (or the existing one with the same content)
and, with ``--out DIR``, copies its files there.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from labeling.errors import DomainError
from labeling.exports.selection import Selection, clean_formats
from labeling.exports.services import dataset_version_create
from labeling.exports.storage import open_stream, storage_for
from labeling.exports.writers import FORMATS
from labeling.models import Project


class TqdmProgress:
    """The export's progress protocol drawn as a tqdm bar."""

    def __init__(self, enabled: bool, file) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=None, unit="row", unit_scale=True, disable=not enabled, desc="export", file=file)

    def total(self, total: int | None) -> None:
        self.bar.reset(total=total)

    def __call__(self, done: int, *, force: bool = False) -> None:
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        self.bar.close()


class Command(BaseCommand):
    help = "Write a dataset version of a project's current labels (JSONL, CSV, Parquet, Label Studio JSON)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", type=int, required=True, help="project id")
        parser.add_argument("--format", dest="formats", action="append", choices=FORMATS,
                            help="a format to write; repeat for several (default: jsonl, csv, parquet)")
        parser.add_argument("--note", default="", help="a note kept with the version")
        parser.add_argument("--no-accepted", action="store_true", help="leave out labels the quorum rule accepted")
        parser.add_argument("--no-reviewed", action="store_true", help="leave out labels a lead reviewed")
        parser.add_argument("--no-gold", action="store_true", help="leave out gold items")
        parser.add_argument("--user", help="username recorded as the version's author")
        parser.add_argument("--out", help="copy the version's files into this folder")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        project = Project.objects.filter(pk=options["project"]).first()
        if project is None:
            raise CommandError(f"there is no project {options['project']}")
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"there is no user {options['user']!r}")
        try:
            selection = Selection.from_dict({"accepted": not options["no_accepted"],
                                             "reviewed": not options["no_reviewed"], "gold": not options["no_gold"]})
            formats = clean_formats(options["formats"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        progress = TqdmProgress(enabled=not options["no_progress"], file=self.stderr)
        try:
            result = dataset_version_create(project=project, selection=selection, formats=formats,
                                            note=options["note"], created_by=user, progress=progress)
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        finally:
            progress.close()
        version = result.version
        verb = "wrote" if result.created else "unchanged since"
        per_split = version.manifest["counts"]["per_split"]
        self.stdout.write(f"{verb} version {version.number} of project {project.pk}: {version.row_count} rows "
                          f"({', '.join(f'{k} {v}' for k, v in per_split.items())}); fingerprint {version.fingerprint}")
        if options["out"]:
            out = Path(options["out"])
            out.mkdir(parents=True, exist_ok=True)
            storage = storage_for(version.storage, version.bucket)
            for f in version.files.order_by("name"):
                with open_stream(storage, f.key) as src, open(out / f.name, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1024 * 1024)
                self.stdout.write(f"  {out / f.name}  {f.size} bytes  sha256 {f.sha256}")
