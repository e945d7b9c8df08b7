from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from labeling.errors import DomainError
from labeling.imports import guess_format
from labeling.models import Project
from labeling.services.items import item_import_streamed


class _Bar:
    """Adapts a tqdm bar to the job-progress interface of the import service."""

    def __init__(self, bar: tqdm) -> None:
        self.bar = bar

    def total(self, total):
        self.bar.reset(total=total)
        self.bar.set_description("importing" if total else "checking")

    def __call__(self, done, *, force=False):
        self.bar.n = done
        self.bar.refresh()


class Command(BaseCommand):
    help = "Import items from a JSONL, JSON or CSV file into a project: all of the file, or nothing."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--project", required=True, help="Project id or exact name.")
        parser.add_argument("--format", choices=["jsonl", "json", "csv"])
        parser.add_argument("--allow-formulas", action="store_true",
                            help="Import CSV cells that look like spreadsheet formulas as text.")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, file: Path, project: str, format: str | None, allow_formulas: bool,
               no_progress: bool, **options):
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        target = (Project.objects.filter(pk=int(project)).first() if project.isdigit()
                  else Project.objects.filter(name=project).first())
        if target is None:
            raise CommandError(f"no project {project!r} (give its id or exact name)")
        fmt = format or guess_format(file.name)
        if fmt is None:
            raise CommandError(f"cannot tell the format of {file.name}; pass --format")
        # The same two-pass streaming import as the worker's job, reading the file in place.
        with tqdm(unit=" items", disable=no_progress, desc="checking") as bar:
            try:
                result = item_import_streamed(project=target, open_stream=lambda: file.open("rb"), fmt=fmt,
                                              allow_formulas=allow_formulas, progress=_Bar(bar))
            except DomainError as exc:
                lines = "\n".join(f"  {e.message}" for e in exc.errors)
                raise CommandError(f"{file}: nothing imported; fix these and run again:\n{lines}") from exc
        self.stdout.write(self.style.SUCCESS(
            f"imported {result.created} items ({result.gold} gold) into {target.name!r}"))
