"""The annotation hot path: submit returning the next task, the picker's index use on both
backends, and the identity checks of the one-query membership lookup."""

from __future__ import annotations

import pytest
from django.db import connection

from annotators.models import Membership
from annotators.services import annotator_for_user, token_create
from labeling.models import Answer, Item, Lease, LeaseState, TaskOrder
from labeling.services.tasks import _pick_sql
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.labeling.test_workflow import Crowd, add_items, make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead_user(db):
    return UserFactory(username="boss")


def test_submit_with_next_returns_the_next_task_and_stores_the_answer(lead_user):
    project = make_project(lead_user, agree_k=2, min_answers=2, max_answers=3)
    items = add_items(project, 3)
    crowd = Crowd(project, 1)
    first = crowd.next(0).json()
    r = crowd.answer(0, "pos", task=first, next=True, client_request_id="r1")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["item"] == first["item"]["id"] and body["decision"]["label"] == "pos"
    nxt = body["next"]
    assert nxt["state"] == "task" and nxt["item"]["id"] != first["item"]["id"]
    assert Lease.objects.get(pk=nxt["lease"]["id"]).state == LeaseState.ACTIVE
    # The next task is the same one POST next-task now gives back (the lease the caller holds).
    assert crowd.next(0).json()["lease"]["id"] == nxt["lease"]["id"]
    # A retry of the same submission stores nothing new, answers the same, and hands back the
    # lease already held instead of a second one.
    again = crowd.answer(0, "pos", task=first, next=True, client_request_id="r1")
    assert again.status_code == 200
    assert {k: again.json()[k] for k in ("answer", "item", "status", "decision")} == \
        {k: body[k] for k in ("answer", "item", "status", "decision")}
    assert again.json()["next"]["lease"]["id"] == nxt["lease"]["id"]
    assert Answer.objects.filter(annotator__user=crowd.users[0]).count() == 1
    # Answer the remaining two; then there is no work left and `next` says so.
    second = crowd.answer(0, "neg", task=nxt, next=True).json()
    last = crowd.answer(0, "neg", task=second["next"], next=True).json()
    assert last["next"]["state"] == "no_work"
    assert Answer.objects.filter(item__in=items).count() == 3


def test_submit_with_next_tells_a_pause_without_losing_the_answer(lead_user):
    project = make_project(lead_user, agree_k=1, min_answers=1, max_answers=1, gold_rate=1.0,
                           pause_below_accuracy=0.6, pause_min_gold=1)
    from labeling.services.items import item_import_objects

    item_import_objects(project=project, objects=[{"external_id": f"g{i}", "gold": "pos"} for i in range(3)])
    crowd = Crowd(project, 1)
    r = crowd.answer(0, "neg", next=True)
    assert r.status_code == 201, r.json()
    assert r.json()["next"]["state"] == "paused"
    assert "your accuracy on check items is 0% over 1" in r.json()["next"]["message"]
    assert Answer.objects.filter(annotator__user=crowd.users[0]).count() == 1
    assert crowd.next(0).status_code == 403


@pytest.mark.parametrize("order", [TaskOrder.DEPTH_FIRST, TaskOrder.BREADTH_FIRST, TaskOrder.LEAST_CERTAIN])
@pytest.mark.parametrize("gold", [False, True])
def test_the_picker_can_use_its_partial_index(lead_user, order, gold):
    """The picker's conditions are written as the partial indexes' own (literals, not bound
    parameters), so the planner can walk the index in order instead of sorting the project's
    open items. SQLite's plan says so directly; on PostgreSQL, with sequential scans priced out
    (a test table is too small for the planner to prefer an index otherwise), the plan must name
    the index and carry no Sort."""
    project = make_project(lead_user)
    add_items(project, 5)
    index = "item_pick_gold" if gold else {
        TaskOrder.DEPTH_FIRST: "item_pick_depth", TaskOrder.BREADTH_FIRST: "item_pick_breadth",
        TaskOrder.LEAST_CERTAIN: "item_pick_uncertain"}[order]
    sql = _pick_sql(order, gold=gold, skip_locked=connection.vendor == "postgresql")
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql, [project.pk, 1, 1])
            plan = " | ".join(str(row[-1]) for row in cursor.fetchall())
            assert f"USING INDEX {index}" in plan and "TEMP B-TREE" not in plan, plan
        else:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_bitmapscan = off")
            cursor.execute("EXPLAIN " + sql, [project.pk, 1, 1])
            plan = " | ".join(row[0] for row in cursor.fetchall())
            assert index in plan and "Sort" not in plan, plan


def test_identity_checks_on_the_workflow_endpoints(lead_user):
    project = make_project(lead_user)
    add_items(project, 2)
    crowd = Crowd(project, 1)
    url = f"/api/v1/projects/{project.pk}"
    # Not a member of a project they cannot see: 404 (ids do not leak).
    stranger = client_for(UserFactory(username="stranger"))
    assert stranger.post(f"{url}/next-task", {}, format="json").status_code == 404
    assert stranger.post(f"{url}/answers", {"item": 1, "value": "pos"}, format="json").status_code == 404
    # A superuser sees the project but labels only where they are a member.
    admin = client_for(UserFactory(username="root", is_superuser=True, is_staff=True))
    r = admin.post(f"{url}/next-task", {}, format="json")
    assert r.status_code == 403 and r.json()["code"] == "not_member"
    # A pipeline token never labels.
    _, key = token_create(user=lead_user, kind="pipeline", project=project)
    pipeline = client_for(lead_user)
    pipeline.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert pipeline.post(f"{url}/next-task", {}, format="json").status_code == 403
    # A revoked token is refused at once.
    member = crowd.users[0]
    token, key = token_create(user=member, name="t")
    from annotators.services import token_revoke

    token_revoke(token=token)
    revoked = client_for(member)
    revoked.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    r = revoked.post(f"{url}/next-task", {}, format="json")
    assert r.status_code == 401 and "revoked" in r.json()["errors"][0]["message"]
    # A paused member is told why.
    Membership.objects.filter(annotator=annotator_for_user(user=member)).update(paused=True, paused_reason="x")
    r = crowd.next(0)
    assert r.status_code == 403 and r.json()["code"] == "paused"
    # Bad ids are 404s, not 500s.
    assert crowd.clients[0].post("/api/v1/projects/99999999999999999999/next-task", {},
                                 format="json").status_code == 404
    assert Item.objects.filter(project=project, lease_count__gt=0).count() == 0


def test_answer_bodies_in_any_form_get_drf_errors_or_the_same_result(lead_user):
    """The plain-body fast path and the serializer agree: odd forms go to the serializer."""
    project = make_project(lead_user, agree_k=1, min_answers=1, max_answers=1)
    add_items(project, 4)
    crowd = Crowd(project, 1)
    url = f"/api/v1/projects/{project.pk}/answers"
    client = crowd.clients[0]
    cases = [
        ({"value": "pos"}, "item", "This field is required."),
        ({"item": "x", "value": "pos"}, "item", "A valid integer is required."),
        ({"item": 1, "value": None}, "value", "This field may not be null."),
        ({"item": 1, "value": "pos", "seconds": -1}, "seconds", "Ensure this value is greater than or equal to 0."),
        ({"item": 1, "value": "pos", "client_request_id": ""}, "client_request_id", "This field may not be blank."),
        ({"item": 1, "value": "pos", "client_request_id": "x" * 65}, "client_request_id",
         "Ensure this field has no more than 64 characters."),
        ({"item": 1, "value": "pos", "next": "perhaps"}, "next", "Must be a valid boolean."),
    ]
    for body, field, message in cases:
        r = client.post(url, body, format="json")
        assert r.status_code == 400, (body, r.json())
        assert {"field": field, "message": message} in [
            {k: e[k] for k in ("field", "message")} for e in r.json()["errors"]], r.json()
    # Ids beyond what a database holds are "no such item", not a server error.
    r = client.post(url, {"item": 10**30, "value": "pos"}, format="json")
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "item"
    # Coerced forms (a numeric string id, padded request id) are accepted as DRF accepts them.
    task = crowd.next(0).json()
    r = client.post(url, {"item": str(task["item"]["id"]), "lease": task["lease"]["id"], "value": "pos",
                          "seconds": "2.5", "client_request_id": "  padded  "}, format="json")
    assert r.status_code == 201, r.json()
    from labeling.models import Answer

    stored = Answer.objects.get(pk=r.json()["answer"])
    assert stored.seconds == 2.5 and stored.client_request_id == "padded"
    # The plain form stores the same.
    task = crowd.next(0).json()
    r = client.post(url, {"item": task["item"]["id"], "lease": task["lease"]["id"], "value": "neg", "seconds": 3,
                          "client_request_id": "plain"}, format="json")
    assert r.status_code == 201
    stored = Answer.objects.get(pk=r.json()["answer"])
    assert stored.seconds == 3.0 and stored.client_request_id == "plain" and stored.value == "neg"


def test_lean_and_drf_paths_answer_the_same(lead_user):
    """A token-authenticated JSON POST takes the lean dispatch; a session-authenticated one goes
    through DRF. Both give the same bodies and statuses, errors included."""
    from rest_framework.test import APIClient

    project = make_project(lead_user, agree_k=1, min_answers=1, max_answers=1)
    add_items(project, 6)
    crowd = Crowd(project, 1)
    token_client = crowd.clients[0]
    session_client = APIClient()
    session_client.force_login(crowd.users[0])
    url = f"/api/v1/projects/{project.pk}"
    headers = []
    for client in (token_client, session_client):
        task = client.post(f"{url}/next-task", {}, format="json")
        assert task.status_code == 200 and task["Content-Type"] == "application/json"
        headers.append({h: task.get(h) for h in ("X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy",
                                                 "Cross-Origin-Opener-Policy", "Vary")})
        body = task.json()
        assert set(body) == {"state", "lease", "item"} and body["lease"]["expires_at"].endswith("Z")
        r = client.post(f"{url}/answers", {"item": body["item"]["id"], "lease": body["lease"]["id"],
                                           "value": "pos", "next": True}, format="json")
        assert r.status_code == 201 and set(r.json()) == {"answer", "item", "status", "decision", "next"}
        bad = client.post(f"{url}/answers", {"item": body["item"]["id"], "value": "maybe"}, format="json")
        assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "value"
        again = client.post(f"{url}/answers", {"item": body["item"]["id"], "value": "pos"}, format="json")
        assert again.status_code == 409 and again.json()["code"] == "already_answered"
    assert headers[0]["X-Frame-Options"] == "DENY" and headers[0]["X-Content-Type-Options"] == "nosniff"
    assert headers[0]["Referrer-Policy"] == headers[1]["Referrer-Policy"] == "same-origin"
    assert {k: v for k, v in headers[0].items() if k != "Vary"} == {k: v for k, v in headers[1].items() if k != "Vary"}
    # A host outside ALLOWED_HOSTS is refused on the lean path too.
    r = token_client.post(f"{url}/next-task", {}, format="json", HTTP_HOST="evil.example")
    assert r.status_code == 400
    # A body that is not JSON, with a token: DRF's parse error, not a crash.
    r = token_client.generic("POST", f"{url}/answers", "{not json", content_type="application/json")
    assert r.status_code == 400 and r.json()["errors"]


def test_review_findings_odd_bodies_are_400s_not_500s(lead_user):
    project = make_project(lead_user, schema_kind="text", choices=[], agree_k=1, min_answers=1, max_answers=1)
    add_items(project, 3)
    crowd = Crowd(project, 1)
    client = crowd.clients[0]
    url = f"/api/v1/projects/{project.pk}"
    task = crowd.next(0).json()
    base = {"item": task["item"]["id"], "lease": task["lease"]["id"]}
    # A number too large for a float, a NUL in the request id or in a text answer: 400 naming the field.
    for body, field in (({**base, "value": "x", "seconds": 10**400}, "seconds"),
                        ({**base, "value": "x", "client_request_id": "a\x00b"}, "client_request_id"),
                        ({**base, "value": "a\x00b"}, "value")):
        r = client.post(f"{url}/answers", body, format="json")
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == field, r.json()
    # Deeply nested JSON: DRF's parse error (with a valid token), 401 without one.
    deep = "[" * 100_000
    r = client.generic("POST", f"{url}/answers", deep, content_type="application/json")
    assert r.status_code == 400
    from rest_framework.test import APIClient

    anonymous = APIClient()
    anonymous.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    r = anonymous.generic("POST", f"{url}/answers", deep, content_type="application/json")
    assert r.status_code == 401
    # Paths the URLconf does not serve are not served by the lean path either.
    r = client.post(f"{url}/next-task%0A", {}, format="json")
    assert r.status_code == 404
    r = client.post("/api/v1/projects/" + "9" * 5000 + "/next-task", {}, format="json")
    assert r.status_code == 404


def test_a_retry_after_the_answer_paused_its_author_gets_the_stored_body(lead_user):
    project = make_project(lead_user, agree_k=1, min_answers=1, max_answers=1, gold_rate=1.0,
                           pause_below_accuracy=0.6, pause_min_gold=1)
    from labeling.services.items import item_import_objects

    item_import_objects(project=project, objects=[{"external_id": f"g{i}", "gold": "pos"} for i in range(2)])
    crowd = Crowd(project, 1)
    task = crowd.next(0).json()
    first = crowd.answer(0, "neg", task=task, client_request_id="once")
    assert first.status_code == 201
    again = crowd.answer(0, "neg", task=task, client_request_id="once")
    assert again.status_code == 200 and again.json() == first.json()
    assert crowd.next(0).status_code == 403  # paused


def test_answer_on_a_reviewed_item_under_a_live_lease_releases_the_lease(lead_user):
    project = make_project(lead_user)
    (item,) = add_items(project, 1)
    crowd = Crowd(project, 1)
    task = crowd.next(0).json()
    lead = client_for(lead_user)
    r = lead.post(f"/api/v1/projects/{project.pk}/items/{item.pk}/review", {"label": "neu"}, format="json")
    assert r.status_code == 200, r.json()
    r = crowd.answer(0, "pos", task=task)
    assert r.status_code == 201, r.json()
    assert r.json()["status"] == "reviewed" and r.json()["decision"]["confidence"] == 1.0
    item.refresh_from_db()
    assert item.lease_count == 0 and item.open_slots == item.needed - 0
    assert Lease.objects.get(pk=task["lease"]["id"]).state == LeaseState.ANSWERED


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="row locks that make a statement wait: PostgreSQL")
def test_a_submit_that_waited_for_the_item_lock_sees_the_lease_as_it_is_now():
    """Another transaction expires the caller's lease while their submit waits for the item's row
    lock. The submit must read the lease after the lock (not from its own statement's older
    snapshot): the lease stays expired, the count is released once, and the answer is taken as a
    late answer because the item still needs it."""
    import threading
    import time

    from django.db import connection as thread_connection
    from django.db import transaction

    from labeling.services.answers import answer_submit
    from labeling.services.tasks import _release_counts

    lead = UserFactory(username="boss")
    project = make_project(lead, agree_k=2, min_answers=2, max_answers=3)
    (item,) = add_items(project, 1)
    crowd = Crowd(project, 1)
    task = crowd.next(0).json()
    annotator = annotator_for_user(user=crowd.users[0])
    locked = threading.Event()

    def expire_under_lock():
        try:
            with transaction.atomic():
                Item.objects.select_for_update().get(pk=item.pk)
                locked.set()
                time.sleep(0.5)  # the submit below is waiting for the lock meanwhile
                Lease.objects.filter(pk=task["lease"]["id"]).update(state=LeaseState.EXPIRED)
                _release_counts([item.pk])
        finally:
            thread_connection.close()

    expirer = threading.Thread(target=expire_under_lock)
    expirer.start()
    locked.wait(5)
    result = answer_submit(project=project, annotator=annotator, item_id=item.pk, value="pos",
                           lease_id=task["lease"]["id"], client_request_id="late")
    expirer.join()
    assert result.created
    item.refresh_from_db()
    assert item.lease_count == 0 and item.open_slots == item.needed - item.lease_count
    assert Lease.objects.get(pk=task["lease"]["id"]).state == LeaseState.EXPIRED
    assert Answer.objects.filter(item=item).count() == 1


def test_nul_characters_in_project_fields_and_review_labels_are_400s(lead_user):
    lead = client_for(lead_user)
    r = lead.post("/api/v1/projects", {"name": "n", "schema_kind": "single", "choices": ["a\u0000", "b"],
                                       "rule_kind": "k_of_n", "agree_k": 1, "min_answers": 1, "max_answers": 1},
                  format="json")
    assert r.status_code == 400, r.json()
    r = lead.post("/api/v1/projects", {"name": "n\u0000", "schema_kind": "text", "rule_kind": "k_of_n",
                                       "agree_k": 1, "min_answers": 1, "max_answers": 1}, format="json")
    assert r.status_code == 400, r.json()
    project = make_project(lead_user, schema_kind="text", choices=[], agree_k=1, min_answers=1, max_answers=1)
    (item,) = add_items(project, 1)
    r = lead.post(f"/api/v1/projects/{project.pk}/items/{item.pk}/review", {"label": "x\u0000y"}, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "label", r.json()


def test_numeric_query_parameters_beyond_64_bits_or_not_ascii_are_400s_or_404s(lead_user):
    project = make_project(lead_user)
    add_items(project, 1)
    lead = client_for(lead_user)
    huge = "17662211355658663493632"
    for url in (f"/api/v1/jobs?project={huge}", "/api/v1/jobs?project=%C2%B2",
                f"/api/v1/projects/{project.pk}/answers?item={huge}",
                f"/api/v1/projects/{project.pk}/review?cursor={huge}",
                f"/api/v1/projects/{project.pk}/versions/{huge}"):
        r = lead.get(url)
        assert r.status_code in (400, 404), (url, r.status_code)
        assert r.json()["errors"], url


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="prepared statements: PostgreSQL")
def test_a_refused_submit_keeps_the_connections_prepared_statements():
    """A refusal (here: a second answer to the same item) commits the read-only transaction
    instead of rolling it back: psycopg's rollback deallocates every prepared statement of the
    connection, and each following request would pay for planning them again."""
    lead = UserFactory(username="boss")
    project = make_project(lead, agree_k=2, min_answers=2, max_answers=3)
    add_items(project, 2)
    crowd = Crowd(project, 1)
    task = crowd.next(0).json()
    assert crowd.answer(0, "pos", task=task).status_code == 201

    def prepared() -> set[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM pg_prepared_statements")
            return {row[0] for row in cursor.fetchall()}

    before = prepared()
    assert before
    again = crowd.answer(0, "neg", task=task, client_request_id="other")
    assert again.status_code == 409 and again.json()["code"] == "already_answered", again.json()
    assert prepared() >= before


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="a server-side disconnect: PostgreSQL")
def test_a_request_on_a_connection_the_server_dropped_reconnects_instead_of_failing():
    """The token query stands in for CONN_HEALTH_CHECKS' SELECT 1: when the kept connection is
    dead (the server restarted or killed it), it runs again on a new connection."""
    import psycopg
    from django.conf import settings

    lead = UserFactory(username="boss")
    project = make_project(lead, agree_k=2, min_answers=2, max_answers=3)
    add_items(project, 2)
    crowd = Crowd(project, 1)
    assert crowd.next(0).status_code == 200
    assert connection.health_check_enabled
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    db = settings.DATABASES["default"]
    with psycopg.connect(host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=connection.settings_dict["NAME"],
                         autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    connection.health_check_done = False  # a new request (the test client does not send the signal)
    r = crowd.next(0)
    assert r.status_code == 200, r.content
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid


def test_the_lean_endpoints_run_no_orm_queries(lead_user):
    """Next task and submit run only the hand-written statements: no ORM query, so in particular
    no deferred column of the token query's models is read on access."""
    from django.db import connection as conn
    from django.test.utils import CaptureQueriesContext

    project = make_project(lead_user, agree_k=2, min_answers=2, max_answers=3)
    add_items(project, 3)
    crowd = Crowd(project, 2)
    crowd.answer(0, "pos")  # the first request records the token's use (at most once a minute)
    crowd.answer(1, "pos")
    with CaptureQueriesContext(conn) as queries:
        task = crowd.next(0).json()
        r = crowd.answer(0, "neg", task=task, next=True)
    assert r.status_code == 201, r.json()
    # (the test's own transaction turns the submit's atomic block into a savepoint)
    sql = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    if conn.vendor == "postgresql":
        assert sql == []  # the hand-written statements run on psycopg cursors, outside this log
    else:  # on SQLite they are logged; none is an ORM read of the token query's models
        orm = [s for s in sql if any(f'"{t}"."' in s for t in (  # the ORM's qualified columns
            "labeling_project", "annotators_membership", "annotators_annotator", "annotators_apitoken", "auth_user"))]
        assert sql and orm == []


def test_the_token_lookup_builds_the_instances_the_orm_would(lead_user):
    """``_token_with_user`` fills instances without ``Model.__init__`` (``rawsql.build``): they
    must hold what the ORM reads, load deferred fields on access, and save like any instance."""
    from django.forms.models import model_to_dict

    from annotators.authentication import _token_with_user
    from annotators.models import ApiToken, hash_token
    from labeling.models import Project

    project = make_project(lead_user, agree_k=2, min_answers=2, max_answers=3)
    crowd = Crowd(project, 1)
    user = crowd.users[0]
    _, key = token_create(user=user, name="check")
    token, membership = _token_with_user(hash_token(key), project.pk)
    orm_token = ApiToken.objects.select_related("user").get(key_hash=hash_token(key))
    orm_membership = Membership.objects.select_related("annotator", "project").get(
        project=project, annotator__user=user)
    for ours, theirs in ((token, orm_token), (token.user, orm_token.user), (membership, orm_membership),
                         (membership.annotator, orm_membership.annotator), (membership.project, orm_membership.project)):
        assert type(ours) is type(theirs) and ours.pk == theirs.pk and not ours._state.adding
        assert model_to_dict(ours) == model_to_dict(theirs)  # deferred fields are read on access
    assert membership.project.created_at == Project.objects.get(pk=project.pk).created_at
    assert token.user_id == user.pk and membership.project_id == project.pk
    membership.paused_reason = "checked"
    membership.save(update_fields=["paused_reason"])
    assert Membership.objects.get(pk=membership.pk).paused_reason == "checked"
    membership.project.refresh_from_db()
    assert membership.project.name == project.name


def _statements(run) -> tuple[object, list[str]]:
    """What ``run()`` returns, and the SQL statements it sent (on PostgreSQL the hand-written
    ones go through ``rawsql._wire`` or ``rawsql._pipeline``, libpq directly)."""
    from labeling import rawsql

    sent: list[str] = []
    original, pipeline = rawsql._wire, rawsql._pipeline

    def wire(sql, params, db=None):
        sent.append(sql)
        return original(sql, params, db)

    def pipelined(db, steps):
        sent.extend(step[0] for step in steps if step is not rawsql.COMMIT)
        return pipeline(db, steps)

    rawsql._wire, rawsql._pipeline = wire, pipelined
    try:
        return run(), sent
    finally:
        rawsql._wire, rawsql._pipeline = original, pipeline


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the one-statement next task: PostgreSQL")
def test_next_task_is_one_statement_and_a_gold_roll_with_no_gold_left_falls_back_to_the_pool(lead_user):
    from labeling.services.items import item_import_objects
    from labeling.services.tasks import task_next

    project = make_project(lead_user, agree_k=1, min_answers=1, max_answers=1, gold_rate=1.0)
    item_import_objects(project=project, objects=[{"external_id": "g0", "gold": "pos"}])
    add_items(project, 3)
    annotator = annotator_for_user(user=UserFactory(username="ann"))
    member = Membership.objects.create(project=project, annotator=annotator)  # as the API passes it
    # The gold roll (rate 1.0): the one gold item, in one statement.
    offer, sent = _statements(lambda: task_next(project=project, annotator=annotator, membership=member, exclude_leases=[]))
    assert offer.item.is_gold and len(sent) == 1, sent
    # The same call again: the lease they hold comes back, still one statement, nothing new leased.
    again, sent = _statements(lambda: task_next(project=project, annotator=annotator, membership=member))
    assert again.lease.pk == offer.lease.pk and len(sent) == 1
    # Excluding it: gold is rolled again but none is left for them, so a pool item is leased.
    pool, sent = _statements(lambda: task_next(project=project, annotator=annotator, membership=member,
                                               exclude_leases=[offer.lease.pk]))
    assert not pool.item.is_gold and len(sent) == 2, sent
    assert Lease.objects.filter(annotator=annotator, state=LeaseState.ACTIVE).count() == 2
    # Two held and excluded, a third allowed; then the fourth is refused (at most three open).
    third = task_next(project=project, annotator=annotator, membership=member, exclude_leases=[offer.lease.pk, pool.lease.pk])
    assert third.lease.pk not in (offer.lease.pk, pool.lease.pk)
    from labeling.errors import DomainError

    with pytest.raises(DomainError) as refused:
        task_next(project=project, annotator=annotator, membership=member,
                  exclude_leases=[offer.lease.pk, pool.lease.pk, third.lease.pk])
    assert refused.value.code == "too_many_leases"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="asynchronous commit: PostgreSQL")
def test_a_new_lease_commits_without_waiting_for_the_wal_flush():
    """Next task's own transaction (a lease: soft state) commits asynchronously; the setting is
    local to it, and an answer's transaction commits as usual."""
    lead = UserFactory(username="boss")
    project = make_project(lead, agree_k=2, min_answers=2, max_answers=3)
    add_items(project, 12)
    crowd = Crowd(project, 6)

    def unflushed_wal() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_insert_lsn() - pg_current_wal_flush_lsn()")
            return int(cursor.fetchone()[0])

    def setting() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]

    lags = []
    for i in range(6):
        (r,), sent = _statements(lambda i=i: [crowd.next(i)])
        assert r.status_code == 200 and r.json()["state"] == "task", r.json()
        assert any("synchronous_commit" in sql for sql in sent), sent
        lags.append(unflushed_wal())  # the lease's commit record, not yet flushed (the WAL
        assert setting() == "on"      # writer flushes every 200 ms, so some lag must show)
    assert any(lag > 0 for lag in lags), lags
    (r,), sent = _statements(lambda: [crowd.answer(0, "pos", task=None)])
    assert r.status_code == 201, r.json()
    submit = [sql for sql in sent if "INSERT INTO labeling_answer" in sql]
    assert submit and not any("synchronous_commit" in sql for sql in submit)


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="asynchronous commit: PostgreSQL")
def test_inside_a_callers_transaction_a_lease_commits_with_it(lead_user):
    """Inside an atomic block (here the test's own) the lease statement leaves the commit alone:
    the caller's transaction may hold writes that must be durable."""
    project = make_project(lead_user, agree_k=2, min_answers=2, max_answers=3)
    add_items(project, 2)
    crowd = Crowd(project, 1)
    assert connection.in_atomic_block
    (r,), sent = _statements(lambda: [crowd.next(0)])
    assert r.status_code == 200 and r.json()["state"] == "task", r.json()
    assert sent and not any("synchronous_commit" in sql for sql in sent), sent


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="pipelined statements: PostgreSQL")
def test_an_answer_with_next_takes_three_round_trips_and_commits_before_the_next_lease():
    """Token; lock + state (one pipeline, BEGIN first); writes + COMMIT + next task (another).
    The answer is committed whether or not the next lease is, and both are there afterwards."""
    from labeling import rawsql

    lead = UserFactory(username="boss")
    project = make_project(lead, agree_k=2, min_answers=2, max_answers=3)
    add_items(project, 4)
    crowd = Crowd(project, 2)
    crowd.answer(1, "pos")  # warm: token use recorded, statements prepared
    first = crowd.next(0).json()
    trips: list[list[str]] = []
    wire, pipeline = rawsql._wire, rawsql._pipeline
    rawsql._wire = lambda sql, params, db=None: (trips.append([sql]), wire(sql, params, db))[1]
    rawsql._pipeline = lambda db, steps: (trips.append([s if s is rawsql.COMMIT else s[0] for s in steps]),
                                          pipeline(db, steps))[1]
    try:
        r = crowd.answer(0, "pos", task=first, next=True)
    finally:
        rawsql._wire, rawsql._pipeline = wire, pipeline
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["next"]["state"] == "task" and body["next"]["item"]["id"] != first["item"]["id"]
    assert len(trips) == 3, trips
    assert "annotators_apitoken" in trips[0][0]
    assert "FOR UPDATE" in trips[1][0] and len(trips[1]) == 2
    assert trips[2][1] is rawsql.COMMIT and "synchronous_commit" in trips[2][2]
    answer = Answer.objects.get(pk=body["answer"])
    assert answer.item_id == first["item"]["id"] and answer.value == "pos"
    assert Lease.objects.get(pk=first["lease"]["id"]).state == LeaseState.ANSWERED
    assert Lease.objects.get(pk=body["next"]["lease"]["id"]).state == LeaseState.ACTIVE
    assert not connection.in_atomic_block and connection.connection.pgconn.transaction_status == 0  # idle


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="pipelined statements: PostgreSQL")
def test_a_failing_statement_in_a_pipeline_rolls_back_and_one_after_the_commit_does_not():
    from django.db import IntegrityError, transaction

    from labeling import rawsql
    from labeling.models import Project

    project = make_project(UserFactory(username="boss"))
    dup = ("INSERT INTO labeling_project (id, name, created_at, updated_at) SELECT id, name, created_at, "
           "updated_at FROM labeling_project WHERE id = %s")
    rename = ("UPDATE labeling_project SET name = %s WHERE id = %s", ["renamed", project.pk])
    with pytest.raises(IntegrityError), transaction.atomic():
        rawsql.fetch_many([rename, (dup, [project.pk]), ("SELECT 1", [])])
    assert Project.objects.get(pk=project.pk).name == project.name  # rolled back with the block
    with transaction.atomic():
        out = rawsql.fetch_many([rename, rawsql.COMMIT], then=(dup, [project.pk]))
    assert out[0] is None and isinstance(out[2], IntegrityError)  # the then-statement's error, not raised
    assert Project.objects.get(pk=project.pk).name == "renamed"  # committed before it
    assert rawsql.fetch_many([("SELECT %s::int", [7])]) == [[(7,)]]  # the connection is usable


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="table storage settings: PostgreSQL")
def test_the_tables_every_answer_rewrites_are_vacuumed_every_2000_dead_rows(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, reloptions FROM pg_class WHERE relname IN ('labeling_item', 'labeling_lease')")
        options = dict(cursor.fetchall())
    for table in ("labeling_item", "labeling_lease"):
        assert {"autovacuum_vacuum_threshold=2000", "autovacuum_vacuum_scale_factor=0"} <= set(options[table]), options
