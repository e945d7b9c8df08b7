"""``manage.py agreement ANSWERS.csv --level ... [--json]``: inter-annotator agreement."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from labeling.aggregation.agreement import LEVELS
from labeling.aggregation.cli import CLIError, format_agreement, run_agreement, to_json


class Command(BaseCommand):
    help = (
        "Krippendorff's alpha with a bootstrap 95% interval, Fleiss' kappa and per-annotator "
        "agreement with the majority vote, from a CSV with item,annotator,label."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("answers", help="CSV file with columns item,annotator,label")
        parser.add_argument("--level", default="nominal", choices=LEVELS, help="level of measurement")
        parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (default 1000)")
        parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
        parser.add_argument("--json", action="store_true", help="print a JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["bootstrap"] < 0:
            raise CommandError("--bootstrap must be >= 0")
        try:
            report = run_agreement(
                options["answers"], options["level"], n_boot=options["bootstrap"], seed=options["seed"]
            )
        except CLIError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(to_json(report) if options["json"] else format_agreement(report))
