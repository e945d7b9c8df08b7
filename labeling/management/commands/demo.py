"""Load the demo projects from fixtures/ (once) and print a login and a fresh API token."""

from __future__ import annotations

import csv
import random
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from annotators.models import ApiToken, Role
from annotators.services import annotator_for_worker, membership_set, token_create, token_revoke
from labeling.models import Item, Project
from labeling.services.aggregate import estimates_refresh, project_redecide
from labeling.services.answers import ImportedAnswer, answer_bulk_import
from labeling.services.projects import project_create

FIXTURES = Path(settings.BASE_DIR) / "fixtures"
LEAD, PASSWORD = "lead", "quorum-demo"
ATHLETES = "Official Twitter handles of athletes"
REVIEWS = "Product review sentiment"


def _rows(name: str) -> list[dict[str, str]]:
    with (FIXTURES / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _user(username: str, *, staff: bool = False):
    user, created = get_user_model().objects.get_or_create(username=username, defaults={"is_staff": staff,
                                                                                        "is_superuser": staff})
    if created:
        user.set_password(PASSWORD)
        user.save()
    return user


def _typo_handle(rng: random.Random, truth: str) -> str:
    """How people type a handle they found: with '@', other capitals, stray spaces."""
    handle = truth
    if rng.random() < 0.4:
        handle = "@" + handle
    roll = rng.random()
    if roll < 0.25:
        handle = handle.lower()
    elif roll < 0.35:
        handle = handle.upper()
    if rng.random() < 0.2:
        handle = f" {handle} "
    return handle


def _wrong_handle(rng: random.Random, truth: str, name: str) -> str:
    options = [
        name.replace(" ", "").replace("'", ""),
        truth + "Fans",
        truth.rstrip("0123456789") + "_official",
        "the" + truth,
        name.split()[-1].lower() + str(rng.randint(1, 99)),
    ]
    return rng.choice(options)


class Command(BaseCommand):
    help = "Load the demo projects (once) and print the login and a fresh API token."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="Where the server listens.")
        parser.add_argument("--migrate", action="store_true", help="Apply migrations first.")

    def handle(self, *args, url: str, migrate: bool, **options):
        if migrate:
            from django.core.management import call_command

            call_command("migrate", interactive=False, verbosity=0)
        url = url.rstrip("/")
        lead = _user(LEAD, staff=True)
        if not Project.objects.filter(name=ATHLETES).exists():
            with transaction.atomic():
                self._load(lead)
            self.stdout.write("Loaded the demo projects from fixtures/.")
        old = ApiToken.objects.filter(user=lead, name="demo", revoked_at__isnull=True)
        for token in old:
            token_revoke(token=token)
        _, key = token_create(user=lead, name="demo")
        self.stdout.write(
            "\n  Quorum demo\n"
            f"  Log in at {url}/login/ as {LEAD} / {PASSWORD}"
            " (annotators: alice, bob, carol; same password)\n"
            f"  API token: {key}\n"
            f"  Try: curl -H 'Authorization: Token {key}' {url}/api/v1/projects\n"
        )

    def _load(self, lead) -> None:
        rng = random.Random(20261123)
        people = {name: _user(name) for name in ("alice", "bob", "carol")}

        athletes = project_create(
            created_by=lead, name=ATHLETES,
            instructions=("Find the **official** Twitter/X account of the athlete and type its handle "
                          "(with or without `@`).\n\n- Verified accounts only; no fan pages.\n"
                          "- If there is no official account, type `none`."),
            schema_kind="text", text_normalization=["trim", "lowercase", "strip_at", "collapse_whitespace"],
            rule_kind="k_of_n", agree_k=7, min_answers=1, max_answers=9, workforce="both",
            task_order="depth_first",
        )
        reviews = project_create(
            created_by=lead, name=REVIEWS,
            instructions="Is the review **positive**, **neutral** (a plain fact) or **negative**?",
            schema_kind="single", choices=["positive", "neutral", "negative"],
            rule_kind="escalate", agree_k=2, min_answers=2, escalate_after=3, escalate_k=3, max_answers=5,
            consensus_method="dawid_skene", gold_rate=0.1, pause_below_accuracy=0.5, pause_min_gold=5,
        )
        for project in (athletes, reviews):
            for user in people.values():
                membership_set(project=project, user=user, role=Role.ANNOTATOR)

        # Athletes: 12 simulated crowd workers, 7-9 answers on two thirds of the items.
        athlete_rows = _rows("athletes.csv")
        items = Item.objects.bulk_create([
            Item(project=athletes, external_id=r["external_id"],
                 data={"name": r["name"], "sport": r["sport"], "country": r["country"]},
                 gold=r["truth"] if i < 3 else None, is_gold=i < 3)
            for i, r in enumerate(athlete_rows)
        ])
        workers = [annotator_for_worker(backend="mturk", worker_id=f"demo-worker-{n:02d}") for n in range(12)]
        accuracy = [0.95, 0.93, 0.9, 0.9, 0.88, 0.85, 0.8, 0.8, 0.75, 0.7, 0.6, 0.55]
        answers = []
        for item, row in zip(items, athlete_rows):
            if rng.random() > 0.67:
                continue
            for w in rng.sample(range(12), rng.randint(7, 9)):
                correct = rng.random() < accuracy[w]
                value = _typo_handle(rng, row["truth"]) if correct else _wrong_handle(rng, row["truth"], row["name"])
                answers.append(ImportedAnswer(item, workers[w].pk, value, round(rng.uniform(20, 90), 1)))
        answer_bulk_import(project=athletes, answers=answers)

        # Reviews: 8 annotators of uneven accuracy, two careless; 8 gold items.
        review_rows = _rows("reviews.csv")
        labels = ["positive", "neutral", "negative"]
        items = Item.objects.bulk_create([
            Item(project=reviews, external_id=r["external_id"], data={"text": r["text"]},
                 gold=r["truth"] if i % 6 == 0 else None, is_gold=i % 6 == 0)
            for i, r in enumerate(review_rows)
        ])
        raters = [annotator_for_worker(backend="mturk", worker_id=f"demo-rater-{n}") for n in range(8)]
        skill = [0.95, 0.92, 0.9, 0.88, 0.85, 0.7, 0.38, 0.34]
        answers = []
        for item, row in zip(items, review_rows):
            if rng.random() > 0.75:
                continue
            for r in rng.sample(range(8), rng.choice([2, 3, 3, 5])):
                if rng.random() < skill[r]:
                    value = row["truth"]
                else:
                    value = rng.choice([label for label in labels if label != row["truth"]])
                answers.append(ImportedAnswer(item, raters[r].pk, value, round(rng.uniform(3, 25), 1)))
        answer_bulk_import(project=reviews, answers=answers)

        # Decide what the answers already settle, as the live path and the periodic job would.
        for project in (athletes, reviews):
            estimates_refresh(project=project)
            project_redecide(project=project)
