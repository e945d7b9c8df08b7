"""``manage.py aggregate ANSWERS.csv --method ... -o OUT.csv``: consensus labels from a CSV."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from labeling.aggregation.cli import CLIError, run_aggregate


class Command(BaseCommand):
    help = (
        "Aggregate answers (CSV with item,annotator,label) into one label per item; writes "
        "item,label,confidence,answers,status. Without --rule every item is 'accepted'."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("answers", help="CSV file with columns item,annotator,label")
        parser.add_argument(
            "--method",
            default="majority",
            choices=["majority", "weighted", "dawid-skene", "one-coin"],
            help="consensus method (default: majority)",
        )
        parser.add_argument("--rule", help="quorum rule: K/N, adaptive:K/N, escalate:K1/N1->K2/N2 or confidence:P/N")
        parser.add_argument("--max-answers", type=int, help="maximum answers per item (overrides the rule's N)")
        parser.add_argument("-o", "--output", required=True, help="output CSV path")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary = run_aggregate(
                options["answers"],
                options["method"],
                options["output"],
                rule=options["rule"],
                max_answers=options["max_answers"],
            )
        except CLIError as exc:
            raise CommandError(str(exc)) from None
        statuses = ", ".join(f"{k} {v}" for k, v in summary["status"].items())
        self.stdout.write(
            f"{summary['items']} items from {summary['answers']} answers by {summary['annotators']} "
            f"annotators ({summary['method']}): {statuses}; wrote {summary['output']}"
        )
