"""The annotation workflow through the API: leasing, submitting, deciding, skipping, expiry,
gold mixing, pausing, exclusion and review, each on cases small enough to check by hand."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from annotators.models import Membership, Role
from annotators.services import annotator_for_user, membership_set
from labeling.models import Answer, DecisionEvent, Item, ItemStatus, Lease, LeaseState, Project
from labeling.services.decisions import needed_after
from labeling.services.tasks import task_next
from tests.conftest import client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def make_project(lead, **rule) -> Project:
    from labeling.services.projects import project_create

    fields = {"name": "p", "schema_kind": "single", "choices": ["pos", "neg", "neu"], "rule_kind": "k_of_n",
              "agree_k": 2, "min_answers": 2, "max_answers": 3}
    fields.update(rule)
    return project_create(created_by=lead, **fields)


def add_items(project, n: int, **extra) -> list[Item]:
    from labeling.services.items import item_import_objects

    item_import_objects(project=project, objects=[{"external_id": f"i{i}", "text": f"t{i}", **extra}
                                                  for i in range(n)])
    return list(Item.objects.filter(project=project).order_by("pk"))


class Crowd:
    """n annotators of one project, each with an API client."""

    def __init__(self, project, n: int, prefix: str = "a"):
        self.project = project
        self.users = [UserFactory(username=f"{prefix}{i}") for i in range(n)]
        for user in self.users:
            membership_set(project=project, user=user, role=Role.ANNOTATOR)
        self.clients = [client_for(user) for user in self.users]

    def next(self, i: int, **body):
        return self.clients[i].post(f"/api/v1/projects/{self.project.pk}/next-task", body, format="json")

    def answer(self, i: int, value, task=None, **extra):
        task = task or self.next(i).json()
        assert task["state"] == "task", task
        body = {"item": task["item"]["id"], "lease": task["lease"]["id"], "value": value, "seconds": 4.2, **extra}
        return self.clients[i].post(f"/api/v1/projects/{self.project.pk}/answers", body, format="json")


@pytest.fixture
def lead_user(db):
    return UserFactory(username="boss")


def test_two_of_three_accepts_when_two_agree(lead_user):
    project = make_project(lead_user)
    (item,) = add_items(project, 1)
    crowd = Crowd(project, 3)
    r = crowd.answer(0, "pos")
    assert r.status_code == 201, r.json()
    assert r.json()["status"] == "in_progress"
    r = crowd.answer(1, "pos")
    # One-coin posterior with p=0.7, K=3, wrong answers spread over the K-1=2 other labels:
    # P(pos,pos | neg) = 0.15^2, so the posterior is .49 / (.49 + .0225 + .0225) = 0.9159.
    expected = 0.49 / (0.49 + 2 * 0.0225)
    assert r.json()["decision"] == {"status": "accepted", "label": "pos",
                                    "confidence": pytest.approx(expected, abs=1e-6)}
    item.refresh_from_db()
    assert item.status == ItemStatus.ACCEPTED and item.consensus.label == "pos" and item.consensus.votes == {"pos": 2}
    # The engine sums quantised log-likelihoods (order-independent); that costs < 1e-6.
    assert item.consensus.confidence == pytest.approx(expected, abs=1e-6)
    # Accepted: nothing left for the third annotator.
    assert crowd.next(2).json()["state"] == "no_work"
    assert list(item.history.values_list("previous_status", "status")) == [("in_progress", "accepted")]


def test_three_way_split_goes_to_review_and_lead_resolves(lead_user):
    project = make_project(lead_user)
    (item,) = add_items(project, 1)
    crowd = Crowd(project, 3)
    crowd.answer(0, "pos")
    crowd.answer(1, "neg")
    r = crowd.answer(2, "neu")
    assert r.json()["status"] == "no_consensus"
    lead = client_for(lead_user)
    queue = lead.get(f"/api/v1/projects/{project.pk}/review").json()
    assert queue["count"] == 1
    entry = queue["results"][0]
    assert sorted(a["value"] for a in entry["answers"]) == ["neg", "neu", "pos"]
    r = lead.post(f"/api/v1/projects/{project.pk}/items/{item.pk}/review", {"label": "maybe"}, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "label"
    r = lead.post(f"/api/v1/projects/{project.pk}/items/{item.pk}/review", {"label": "neg"}, format="json")
    assert r.status_code == 200, r.json()
    item.refresh_from_db()
    assert item.status == ItemStatus.REVIEWED
    assert item.consensus.label == "neg" and item.consensus.reviewed_by == lead_user
    assert item.consensus.reviewed_at is not None
    assert lead.get(f"/api/v1/projects/{project.pk}/review").json()["count"] == 0
    history = lead.get(f"/api/v1/projects/{project.pk}/items/{item.pk}/history").json()["results"]
    # Leasing and undecided answers are not decisions; the history holds the decisions.
    assert [(h["previous_status"], h["status"], h["reason"]) for h in history] == [
        ("in_progress", "no_consensus", "answer"), ("no_consensus", "reviewed", "review")]
    assert history[-1]["actor"] == "boss"


def test_review_wins_over_later_reaggregation(lead_user, django_capture_on_commit_callbacks):
    project = make_project(lead_user)
    (item,) = add_items(project, 1)
    crowd = Crowd(project, 2)
    crowd.answer(0, "pos")
    crowd.answer(1, "pos")
    lead = client_for(lead_user)
    lead.post(f"/api/v1/projects/{project.pk}/items/{item.pk}/review", {"label": "neu"}, format="json")
    with django_capture_on_commit_callbacks(execute=True):
        job = lead.post(f"/api/v1/projects/{project.pk}/aggregate").json()
    assert lead.get(job["url"]).json()["status"] == "succeeded"
    item.refresh_from_db()
    assert item.status == ItemStatus.REVIEWED and item.consensus.label == "neu"


def test_escalation_two_of_three_then_three_of_five(lead_user):
    project = make_project(lead_user, rule_kind="escalate", agree_k=2, min_answers=2, escalate_after=3,
                           escalate_k=3, max_answers=5)
    (item,) = add_items(project, 1)
    crowd = Crowd(project, 5)
    assert crowd.answer(0, "pos").json()["status"] == "in_progress"
    assert crowd.answer(1, "neg").json()["status"] == "in_progress"
    # 2 of 3 still reachable: one more answer could make 2.
    assert crowd.answer(2, "neu").json()["status"] == "in_progress"  # 1-1-1: escalate to 3 of 5
    item.refresh_from_db()
    assert item.needed == 2  # 3 votes needed, top has 1, 2 answers left
    assert crowd.answer(3, "neg").json()["status"] == "in_progress"  # neg=2 < 3
    r = crowd.answer(4, "neg")
    assert r.json()["decision"]["status"] == "accepted" and r.json()["decision"]["label"] == "neg"


def test_escalation_stage_one_accepts_at_two_agreeing(lead_user):
    project = make_project(lead_user, rule_kind="escalate", agree_k=2, min_answers=2, escalate_after=3,
                           escalate_k=3, max_answers=5)
    add_items(project, 1)
    crowd = Crowd(project, 3)
    crowd.answer(0, "pos")
    crowd.answer(1, "neg")
    assert crowd.answer(2, "pos").json()["decision"]["status"] == "accepted"


def test_fixed_rule_collects_every_answer(lead_user):
    # 7 of 9 with min_answers 9: even 7 agreeing answers wait for all 9.
    project = make_project(lead_user, schema_kind="text", choices=[], text_normalization=["trim", "lowercase",
                           "strip_at"], agree_k=7, min_answers=9, max_answers=9)
    (item,) = add_items(project, 1)
    crowd = Crowd(project, 9)
    for i in range(8):
        r = crowd.answer(i, "@KingJames" if i % 2 else " kingjames ")
        assert r.json()["status"] == "in_progress", i
    assert crowd.answer(8, "someone").json()["decision"]["label"] == "kingjames"
    item.refresh_from_db()
    assert item.status == "accepted" and item.consensus.votes == {"kingjames": 8, "someone": 1}


def test_adaptive_seven_of_nine_free_text_stops_early_and_gives_up_early(lead_user):
    # min_answers 1: decide as soon as the rule can (min_answers 7 would hold every decision,
    # giving up included, until 7 answers are in).
    project = make_project(lead_user, schema_kind="text", choices=[], text_normalization=["trim", "lowercase",
                           "strip_at"], agree_k=7, min_answers=1, max_answers=9)
    a, b = add_items(project, 2)
    crowd = Crowd(project, 9)
    for i in range(7):
        r = crowd.answer(i, "KingJames", task={"state": "task", "item": {"id": a.pk},
                                               "lease": {"id": crowd.next(i).json()["lease"]["id"]}})
    assert r.json()["decision"]["status"] == "accepted"
    a.refresh_from_db()
    assert a.answer_count == 7
    # Item b: after 4 different answers the best has 1 vote and only 5 answers are left: 7 of 9
    # can no longer be reached, so it goes to review at once instead of collecting 9 answers.
    for i, value in enumerate(["x", "y", "z"]):
        r = crowd.answer(i, value)
        assert r.json()["item"] == b.pk and r.json()["status"] == "in_progress"
    r = crowd.answer(3, "w")
    assert r.json()["status"] == "no_consensus"


def test_confidence_rule_hand_computed(lead_user):
    # Binary, default accuracy 0.7: one answer gives 0.7, two agreeing 0.49/(0.49+0.09) = 0.8448,
    # three agreeing .343/(.343+.027) = 0.927 >= 0.9: accepted after three.
    project = make_project(lead_user, choices=["yes", "no"], rule_kind="confidence", confidence_target=0.9,
                           min_answers=1, agree_k=1, max_answers=5)
    add_items(project, 1)
    crowd = Crowd(project, 5)
    r1 = crowd.answer(0, "yes").json()
    assert r1["status"] == "in_progress" and r1["decision"]["confidence"] == pytest.approx(0.7)
    r2 = crowd.answer(1, "yes").json()
    assert r2["status"] == "in_progress" and r2["decision"]["confidence"] == pytest.approx(0.49 / 0.58)
    r3 = crowd.answer(2, "yes").json()
    assert r3["status"] == "accepted" and r3["decision"]["confidence"] == pytest.approx(0.343 / 0.37)


def test_confidence_rule_uses_estimated_confusions(lead_user):
    from labeling.models import AnnotatorEstimate

    project = make_project(lead_user, choices=["yes", "no"], rule_kind="confidence", confidence_target=0.95,
                           min_answers=1, agree_k=1, max_answers=5)
    add_items(project, 1)
    crowd = Crowd(project, 2)
    expert = annotator_for_user(user=crowd.users[0])
    AnnotatorEstimate.objects.create(project=project, annotator=expert, accuracy=0.99,
                                     confusion=[[0.99, 0.01], [0.02, 0.98]], labels=["yes", "no"])
    r = crowd.answer(0, "yes").json()
    # P(yes|yes)=.99, P(yes|no)=.02: posterior .99/(.99+.02) = 0.9802 >= 0.95
    assert r["decision"]["confidence"] == pytest.approx(0.99 / 1.01) and r["status"] == "accepted"


def test_never_more_leases_than_answers_needed(lead_user):
    project = make_project(lead_user)  # 2 of 3: a fresh item needs 2
    (item,) = add_items(project, 1)
    crowd = Crowd(project, 3)
    assert crowd.next(0).json()["state"] == "task"
    assert crowd.next(1).json()["state"] == "task"
    assert crowd.next(2).json()["state"] == "no_work"
    item.refresh_from_db()
    assert (item.lease_count, item.needed, item.open_slots) == (2, 2, 0)


def test_next_task_returns_a_held_lease_and_prefetches_another(lead_user):
    project = make_project(lead_user)
    add_items(project, 3)
    crowd = Crowd(project, 1)
    first = crowd.next(0).json()
    assert crowd.next(0).json()["lease"]["id"] == first["lease"]["id"]  # reload: same task
    second = crowd.next(0, exclude_leases=[first["lease"]["id"]]).json()
    assert second["item"]["id"] != first["item"]["id"]
    assert "is_gold" not in second["item"] and set(second["item"]) == {"id", "data"}


def test_depth_first_finishes_items_before_opening_new_ones(lead_user):
    project = make_project(lead_user, agree_k=3, min_answers=3, max_answers=5)
    items = add_items(project, 3)
    crowd = Crowd(project, 3)
    crowd.answer(0, "pos")
    assert crowd.next(1).json()["item"]["id"] == items[0].pk
    project.task_order = "breadth_first"
    project.save()
    assert crowd.next(2).json()["item"]["id"] == items[1].pk


def test_lease_expiry_returns_item_and_late_answer_rules(lead_user):
    project = make_project(lead_user, lease_seconds=10)
    (item,) = add_items(project, 1)
    crowd = Crowd(project, 4)
    t0 = crowd.next(0).json()
    t1 = crowd.next(1).json()
    assert crowd.next(2).json()["state"] == "no_work"
    Lease.objects.filter(pk=t0["lease"]["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    t2 = crowd.next(2).json()  # the expired slot went back to the pool
    assert t2["state"] == "task" and t2["item"]["id"] == item.pk
    assert Lease.objects.get(pk=t0["lease"]["id"]).state == LeaseState.EXPIRED
    assert crowd.answer(1, "pos", task=t1).status_code == 201
    assert crowd.answer(2, "pos", task=t2).json()["status"] == "accepted"
    # Annotator 0's lease expired and the item no longer needs an answer: refused, with the reason.
    r = crowd.answer(0, "neg", task=t0)
    assert r.status_code == 409 and r.json()["code"] == "not_needed"
    assert "your answer was not stored" in r.json()["errors"][0]["message"]
    assert not Answer.objects.filter(annotator__user=crowd.users[0]).exists()


def test_late_answer_still_taken_while_the_item_needs_it(lead_user):
    project = make_project(lead_user, lease_seconds=10)
    (item,) = add_items(project, 1)
    crowd = Crowd(project, 2)
    t0 = crowd.next(0).json()
    Lease.objects.filter(pk=t0["lease"]["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    crowd.next(1)  # sweeps the expired lease
    r = crowd.answer(0, "pos", task=t0)
    assert r.status_code == 201, r.json()
    item.refresh_from_db()
    assert item.answer_count == 1 and item.lease_count == 1


def test_skip_keeps_the_item_away_from_that_annotator(lead_user):
    project = make_project(lead_user)
    a, b = add_items(project, 2)
    crowd = Crowd(project, 2)
    t = crowd.next(0).json()
    r = crowd.clients[0].post(f"/api/v1/leases/{t['lease']['id']}/skip")
    assert r.json() == {"state": "skipped"}
    assert crowd.next(0).json()["item"]["id"] == b.pk
    a.refresh_from_db()
    assert a.lease_count == 0 and a.status == ItemStatus.OPEN
    # Another annotator still gets it; someone else's lease cannot be skipped.
    t1 = crowd.next(1).json()
    assert t1["item"]["id"] == a.pk
    assert crowd.clients[0].post(f"/api/v1/leases/{t1['lease']['id']}/skip").status_code == 404


def test_double_submission_stores_one_answer_and_returns_the_same(lead_user):
    project = make_project(lead_user)
    (item,) = add_items(project, 1)
    crowd = Crowd(project, 1)
    task = crowd.next(0).json()
    first = crowd.answer(0, "pos", task=task, client_request_id="req-1")
    again = crowd.answer(0, "pos", task=task, client_request_id="req-1")
    assert first.status_code == 201 and again.status_code == 200
    assert first.json() == again.json()
    assert Answer.objects.count() == 1
    other = crowd.answer(0, "neg", task=task, client_request_id="req-2")
    assert other.status_code == 409 and other.json()["code"] == "already_answered"


@pytest.mark.parametrize("schema, value, message", [
    ({}, "maybe", "'maybe' is not one of the choices ['pos', 'neg', 'neu']"),
    ({"schema_kind": "rating", "choices": [], "scale_min": 1, "scale_max": 5}, 7, "7 is outside the scale 1..5"),
    ({"schema_kind": "text", "choices": []}, "   ", "the answer is empty"),
    ({"schema_kind": "multi"}, ["pos", "meh"], "['meh'] not among the choices ['pos', 'neg', 'neu']"),
])
def test_invalid_answers_are_400_with_reason(lead_user, schema, value, message):
    project = make_project(lead_user, **schema)
    add_items(project, 1)
    crowd = Crowd(project, 1)
    r = crowd.answer(0, value)
    assert r.status_code == 400
    assert r.json()["errors"] == [{"field": "value", "message": message}]
    assert not Answer.objects.exists()


def test_gold_items_mixed_at_the_project_rate(lead_user):
    project = make_project(lead_user, gold_rate=0.2, agree_k=1, min_answers=1, max_answers=1)
    from labeling.services.items import item_import_objects

    item_import_objects(project=project, objects=[{"external_id": f"n{i}"} for i in range(400)]
                        + [{"external_id": f"g{i}", "gold": "pos"} for i in range(200)])
    crowd = Crowd(project, 1)
    annotator = annotator_for_user(user=crowd.users[0])
    rng = random.Random(7)
    served_gold = 0
    for _ in range(300):
        offer = task_next(project=project, annotator=annotator, rng=rng)
        served_gold += offer.item.is_gold
        Lease.objects.filter(pk=offer.lease.pk).update(state=LeaseState.SKIPPED)
    # 300 draws at p=0.2: mean 60, sd 6.9; within 3 sd.
    assert 40 <= served_gold <= 80


def test_pause_after_failing_gold_then_exclusion_and_redecision(lead_user):
    project = make_project(lead_user, agree_k=1, min_answers=1, max_answers=2, gold_rate=0.0,
                           pause_below_accuracy=0.6, pause_min_gold=3)
    from labeling.services.items import item_import_objects

    item_import_objects(project=project, objects=[{"external_id": f"g{i}", "gold": "pos"} for i in range(4)])
    crowd = Crowd(project, 2)
    careless = annotator_for_user(user=crowd.users[0])
    # The careless annotator answers a normal item first (accepted on their 1-of-2 vote) ...
    item_import_objects(project=project, objects=[{"external_id": "n1"}])
    normal = Item.objects.get(external_id="n1")
    project.gold_rate = 1.0
    project.save()
    for _ in range(3):
        assert crowd.answer(0, "neg").status_code == 201
    membership = Membership.objects.get(project=project, annotator=careless)
    assert membership.paused and "below this project's 60%" in membership.paused_reason
    r = crowd.next(0)
    assert r.status_code == 403 and r.json()["code"] == "paused"
    assert "you are paused in this project: your accuracy on check items is 0% over 3" in \
        r.json()["errors"][0]["message"]
    # ... now the normal item: the careless annotator's old answer decided it.
    project.gold_rate = 0.0
    project.save()
    from labeling.models import AnswerSource
    from labeling.services.answers import ImportedAnswer, answer_bulk_import
    from labeling.services.decisions import item_decide

    answer_bulk_import(project=project, answers=[ImportedAnswer(normal, careless.pk, "neg")],
                       source=AnswerSource.INTERNAL)
    item_decide(item=Item.objects.get(pk=normal.pk), project=project, reason="answer")
    normal.refresh_from_db()
    assert normal.status == ItemStatus.ACCEPTED
    lead = client_for(lead_user)
    r = lead.post(f"/api/v1/projects/{project.pk}/members/{membership.pk}/pause",
                  {"paused": True, "exclude_answers": True}, format="json")
    assert r.status_code == 200, r.json()
    normal.refresh_from_db()
    assert normal.status == ItemStatus.OPEN and normal.answer_count == 0 and normal.open_slots == 1
    assert DecisionEvent.objects.filter(item=normal, reason="answers excluded").exists()
    # The item is back in the pool for others.
    assert crowd.next(1).json()["item"]["id"] == normal.pk
    # The lead unpauses: the answers count again.
    r = lead.post(f"/api/v1/projects/{project.pk}/members/{membership.pk}/pause", {"paused": False}, format="json")
    assert r.json()["paused"] is False
    assert crowd.next(0).status_code == 200


def test_quality_report(lead_user):
    project = make_project(lead_user, agree_k=2, min_answers=2, max_answers=3)
    add_items(project, 4)
    crowd = Crowd(project, 3)
    for i in range(3):
        crowd.answer(0, "pos" if i != 1 else "neu")
        crowd.answer(1, "pos" if i != 1 else "neu")
    crowd.answer(0, "pos")
    crowd.answer(1, "neg")
    assert crowd.answer(2, "neg").json()["decision"]["label"] == "neg"
    report = client_for(lead_user).get(f"/api/v1/projects/{project.pk}/agreement").json()
    rows = {r["name"]: r for r in report["annotators"]}
    assert rows["a0"]["answers"] == 4 and rows["a0"]["agreement_with_consensus"] == 0.75
    assert rows["a1"]["agreement_with_consensus"] == 1.0
    assert rows["a0"]["median_seconds"] == 4.2
    assert report["alpha"] is not None and report["alpha_ci"][0] <= report["alpha"] <= report["alpha_ci"][1]
    assert report["fleiss_kappa"] is not None
    assert report["histogram"]["counts"][-1] == 3  # three items where everyone agreed
    assert report["confusion"]["labels"] == ["pos", "neg", "neu"]


def test_needed_after_rules():
    p = Project(rule_kind="k_of_n", agree_k=7, min_answers=7, max_answers=9)
    assert needed_after(p, top_votes=0, answers=0) == 7
    assert needed_after(p, top_votes=6, answers=7) == 1
    assert needed_after(p, top_votes=5, answers=7) == 2
    p = Project(rule_kind="escalate", agree_k=2, min_answers=2, escalate_after=3, escalate_k=3, max_answers=5)
    assert needed_after(p, top_votes=0, answers=0) == 2
    assert needed_after(p, top_votes=1, answers=2) == 1
    assert needed_after(p, top_votes=1, answers=3) == 2
    p = Project(rule_kind="confidence", agree_k=1, min_answers=3, max_answers=9, confidence_target=0.9)
    assert needed_after(p, top_votes=0, answers=0) == 3
    assert needed_after(p, top_votes=3, answers=4) == 1


def test_items_carry_their_consensus_and_me_counts_what_is_left(lead_user):
    project = make_project(lead_user)
    items = add_items(project, 3)
    crowd = Crowd(project, 2)
    crowd.answer(0, "pos")
    crowd.answer(1, "pos")
    lead = client_for(lead_user)
    rows = {r["id"]: r for r in lead.get(f"/api/v1/projects/{project.pk}/items").json()["results"]}
    assert rows[items[0].pk]["consensus"]["label"] == "pos"
    assert rows[items[0].pk]["consensus"]["status"] == "accepted"
    assert rows[items[1].pk]["consensus"] is None
    me = crowd.clients[0].get(f"/api/v1/projects/{project.pk}/me").json()
    assert me["answered_total"] == 1 and me["answered_today"] == 1
    assert me["remaining"] == 2  # the two items annotator 0 has not answered


def test_relabel_by_reaggregation_is_kept_in_history(lead_user):
    from labeling.models import AnnotatorEstimate
    from labeling.services.decisions import item_decide

    # Confidence rule: the label follows the annotators' estimated reliability.
    project = make_project(lead_user, choices=["yes", "no"], rule_kind="confidence", confidence_target=0.6,
                           min_answers=2, agree_k=1, max_answers=2)
    (item,) = add_items(project, 1)
    crowd = Crowd(project, 2)
    a0, a1 = (annotator_for_user(user=u) for u in crowd.users)
    AnnotatorEstimate.objects.create(project=project, annotator=a0, accuracy=0.95)
    AnnotatorEstimate.objects.create(project=project, annotator=a1, accuracy=0.55)
    crowd.answer(0, "yes")
    r = crowd.answer(1, "no").json()
    assert (r["decision"]["status"], r["decision"]["label"]) == ("accepted", "yes")
    # A later estimate says the opposite: the accepted label flips, the status stays.
    AnnotatorEstimate.objects.filter(annotator=a0).update(accuracy=0.55)
    AnnotatorEstimate.objects.filter(annotator=a1).update(accuracy=0.95)
    item = Item.objects.get(pk=item.pk)
    item_decide(item=item, project=project, reason="re-aggregation")
    item.refresh_from_db()
    assert (item.status, item.consensus.label) == ("accepted", "no")
    assert list(item.history.values_list("previous_status", "status", "label", "reason")) == [
        ("in_progress", "accepted", "yes", "answer"), ("accepted", "accepted", "no", "re-aggregation")]
