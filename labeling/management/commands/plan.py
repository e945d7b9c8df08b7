"""``manage.py plan --accuracy 0.8 --classes 3 --rule 2/3 [--json]``: what a quorum rule costs."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from labeling.aggregation.cli import CLIError, format_plan, run_plan, to_json


class Command(BaseCommand):
    help = (
        "Exact probability of acceptance, accuracy of accepted labels and expected answers per "
        "item for a quorum rule, given annotator accuracy and the number of classes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--accuracy", required=True,
            help="probability an answer is right, or comma-separated values per answer position",
        )
        parser.add_argument("--classes", required=True, help="number of labels K, or 'open' for free text")
        parser.add_argument(
            "--rule", required=True,
            help="K/N (fixed), adaptive:K/N, escalate:K1/N1->K2/N2 or confidence:P/N",
        )
        parser.add_argument("--json", action="store_true", help="print a JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = run_plan(options["accuracy"], options["classes"], options["rule"])
        except CLIError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(to_json(result.as_dict()) if options["json"] else format_plan(result))
