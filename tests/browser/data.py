"""Data for the browser tests, built with the same services the API uses."""

from __future__ import annotations

import random

from annotators.models import Membership, Role
from annotators.services import annotator_for_user, membership_set
from labeling.errors import DomainError
from labeling.models import Item, Project
from labeling.services.answers import answer_submit
from labeling.services.items import item_import_objects
from labeling.services.projects import project_create
from tests.factories import UserFactory

PASSWORD = "pw-for-tests"


def user(name: str):
    return UserFactory(username=name)


def project(lead, *, members=(), **fields) -> Project:
    defaults = {"name": "Product review sentiment", "schema_kind": "single",
                "choices": ["positive", "neutral", "negative"], "rule_kind": "k_of_n",
                "agree_k": 2, "min_answers": 2, "max_answers": 3,
                "instructions": "Is the review **positive**, **neutral** (a plain fact) or **negative**?"}
    p = project_create(created_by=lead, **{**defaults, **fields})
    for person in members:
        membership_set(project=p, user=person, role=Role.ANNOTATOR)
    return p


def items(p: Project, rows: list[dict]) -> list[Item]:
    item_import_objects(project=p, objects=rows)
    return list(Item.objects.filter(project=p).order_by("id"))


def answer(p: Project, person, item: Item, value) -> bool:
    """Submit one answer as ``person`` (no lease); False if the item no longer takes it."""
    try:
        answer_submit(project=p, annotator=annotator_for_user(user=person), item_id=item.pk, value=value,
                      seconds=round(random.uniform(3, 20), 1))
    except DomainError as exc:
        if exc.code in ("not_needed", "already_answered"):
            return False
        raise
    return True


def membership(p: Project, person) -> Membership:
    return Membership.objects.get(project=p, annotator__user=person)


REVIEWS = [
    ("Absolutely love this kettle, boils in a minute and looks great.", "positive"),
    ("Stopped working after two days. Waste of money.", "negative"),
    ("It arrived on Tuesday.", "neutral"),
    ("The battery lasts all week, I'm impressed.", "positive"),
    ("The strap broke the first time I used it.", "negative"),
    ("It comes in a cardboard box.", "neutral"),
    ("Best headphones I have owned, and I have owned many.", "positive"),
    ("Customer service never answered my emails.", "negative"),
    ("The manual is printed in four languages.", "neutral"),
    ("Lovely colour, fits perfectly.", "positive"),
    ("Smells of plastic even after a week.", "negative"),
    ("I bought it for my office.", "neutral"),
    ("Setup took two minutes and it just works.", "positive"),
    ("The lid does not close properly.", "negative"),
    ("It is the 2024 model.", "neutral"),
    ("My kids use it every day, still going strong.", "positive"),
    ("Cheap materials, it feels flimsy.", "negative"),
    ("The parcel was left with a neighbour.", "neutral"),
    ("Quiet, fast and easy to clean.", "positive"),
    ("The app crashes every time I open it.", "negative"),
    ("It weighs about a kilo.", "neutral"),
    ("Exactly what I needed for camping.", "positive"),
    ("Nothing like the description. Very disappointed.", "negative"),
    ("The model number is on the back.", "neutral"),
    ("Beautiful design and it keeps coffee hot for hours.", "positive"),
    ("Returned it: the screen was cracked.", "negative"),
    ("It fits in a standard drawer.", "neutral"),
    ("Worth every penny.", "positive"),
    ("The zipper jammed on day one.", "negative"),
    ("I have had it for three weeks.", "neutral"),
]


def busy_project(lead, annotators: list, *, accuracy: list[float], seed: int = 7) -> tuple[Project, list[Item]]:
    """A project with answers from annotators of uneven accuracy and a few gold items, as a lead
    sees it after a day of work: decided items, disputes, agreement to read."""
    rng = random.Random(seed)
    p = project(lead, members=annotators, gold_rate=0.1, pause_below_accuracy=None)
    rows = [{"external_id": f"rev-{i + 1:03d}", "data": {"text": text}, **({"gold": truth} if i % 6 == 0 else {})}
            for i, (text, truth) in enumerate(REVIEWS)]
    all_items = items(p, rows)
    truth = {f"rev-{i + 1:03d}": t for i, (_, t) in enumerate(REVIEWS)}
    labels = p.choices
    for item in all_items:
        order = list(range(len(annotators)))
        rng.shuffle(order)
        for a in order:
            right = truth[item.external_id]
            value = right if rng.random() < accuracy[a] else rng.choice([x for x in labels if x != right])
            answer(p, annotators[a], item, value)
            item.refresh_from_db()
            if not item.is_gold and item.status not in ("open", "in_progress"):
                break
            if item.is_gold and item.answer_count >= 3:
                break
    return p, all_items
