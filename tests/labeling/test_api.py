"""The REST API: projects, members, permissions, tokens, error shape, the OpenAPI schema."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from annotators.models import Role
from annotators.services import membership_set, token_create
from labeling.models import Item, Project
from tests.conftest import client_for
from tests.factories import ItemFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

PROJECT = {"name": "Handles", "schema_kind": "text", "text_normalization": ["trim", "lowercase", "strip_at"],
           "rule_kind": "k_of_n", "agree_k": 7, "min_answers": 7, "max_answers": 9}


def test_create_project_makes_the_creator_lead(lead_client, lead):
    r = lead_client.post("/api/v1/projects", PROJECT, format="json")
    assert r.status_code == 201, r.json()
    project = Project.objects.get(pk=r.json()["id"])
    assert project.memberships.get().role == Role.LEAD
    assert project.memberships.get().annotator.user == lead


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"agree_k": 10}, "agree_k", "10 agreeing answers can never be reached with at most 9 answers"),
        ({"min_answers": 10}, "min_answers", "minimum answers (10) is more than the maximum (9)"),
        ({"schema_kind": "single", "choices": []}, "choices", "a single-choice schema needs at least one choice"),
        ({"rule_kind": "confidence"}, "confidence_target",
         "a confidence rule needs a target strictly between 0 and 1"),
        ({"text_normalization": ["shout"]}, "text_normalization.0", '"shout" is not a valid choice.'),
        ({"max_answers": "many"}, "max_answers", "A valid integer is required."),
    ],
)
def test_invalid_project_names_field_and_problem(lead_client, change, field, message):
    r = lead_client.post("/api/v1/projects", {**PROJECT, **change}, format="json")
    assert r.status_code == 400
    assert {"field": field, "message": message} in r.json()["errors"]
    assert not Project.objects.exists()


def test_annotator_sees_only_their_projects(annotator_client, annotator_user):
    mine, other = ProjectFactory(name="mine"), ProjectFactory(name="other")
    membership_set(project=mine, user=annotator_user, role=Role.ANNOTATOR)
    r = annotator_client.get("/api/v1/projects")
    assert [p["name"] for p in r.json()["results"]] == ["mine"]
    assert annotator_client.get(f"/api/v1/projects/{other.pk}").status_code == 404
    assert annotator_client.get(f"/api/v1/projects/{mine.pk}").status_code == 200
    # An annotator reads neither items (gold answers) nor answers of others, and cannot edit.
    assert annotator_client.get(f"/api/v1/projects/{mine.pk}/items").status_code == 403
    assert annotator_client.patch(f"/api/v1/projects/{mine.pk}", {"name": "x"}, format="json").status_code == 403


def test_annotator_of_a_cannot_see_b_items(project, annotator_client):
    other = ProjectFactory()
    ItemFactory(project=other)
    for path in ("", "/items", "/answers", "/members", "/stats"):
        assert annotator_client.get(f"/api/v1/projects/{other.pk}{path}").status_code == 404, path


def test_anonymous_requests_are_refused(project):
    anon = APIClient()
    for method, path in [("get", "/api/v1/projects"), ("post", "/api/v1/projects"),
                         ("get", f"/api/v1/projects/{project.pk}/items"), ("get", "/api/v1/jobs")]:
        r = getattr(anon, method)(path)
        assert r.status_code in (401, 403), path
        assert r.json()["errors"][0]["field"] is None


def test_bad_token_is_401_with_reason(project):
    anon = APIClient()
    anon.credentials(HTTP_AUTHORIZATION="Token qrm_nope")
    r = anon.get("/api/v1/projects")
    assert r.status_code == 401
    assert r.json()["errors"] == [{"field": None, "message": "unknown API token"}]


def test_pipeline_token_reads_its_project_only_and_cannot_write(project, lead):
    ItemFactory(project=project, external_id="i1")
    other = ProjectFactory()
    membership_set(project=other, user=lead, role=Role.LEAD)
    pipe = client_for(lead, kind="pipeline", project=project, name="train")
    assert pipe.get(f"/api/v1/projects/{project.pk}/items").json()["results"][0]["external_id"] == "i1"
    assert [p["id"] for p in pipe.get("/api/v1/projects").json()["results"]] == [project.pk]
    assert pipe.get(f"/api/v1/projects/{other.pk}/items").status_code == 404
    r = pipe.post(f"/api/v1/projects/{project.pk}/items/import", [{"external_id": "x"}], format="json")
    assert r.status_code == 403
    assert r.json()["errors"][0]["message"] == "pipeline tokens are read-only"
    assert pipe.patch(f"/api/v1/projects/{project.pk}", {"name": "x"}, format="json").status_code == 403
    assert pipe.post("/api/v1/projects", PROJECT, format="json").status_code == 403
    assert pipe.post("/api/v1/tokens", {}, format="json").status_code == 403
    assert not Item.objects.filter(external_id="x").exists()


def test_revoked_token_is_refused(lead):
    token, key = token_create(user=lead)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/projects").status_code == 200
    assert client.delete(f"/api/v1/tokens/{token.pk}").status_code == 204
    r = client.get("/api/v1/projects")
    assert r.status_code == 401 and r.json()["errors"][0]["message"] == "this API token was revoked"


def test_token_created_over_the_api_is_shown_once(lead_client, project):
    r = lead_client.post("/api/v1/tokens", {"kind": "pipeline", "project": project.pk, "name": "ci"}, format="json")
    assert r.status_code == 201
    key = r.json()["key"]
    assert key.startswith("qrm_")
    listed = lead_client.get("/api/v1/tokens").json()["results"]
    assert all("key" not in t for t in listed)
    assert any(t["prefix"] == key[:12] for t in listed)


def test_members_add_change_and_last_lead_kept(lead_client, project, lead):
    UserFactory(username="dora")
    r = lead_client.post(f"/api/v1/projects/{project.pk}/members", {"username": "dora"}, format="json")
    assert r.status_code == 201 and r.json()["role"] == "annotator"
    r = lead_client.post(f"/api/v1/projects/{project.pk}/members", {"username": "nobody"}, format="json")
    assert r.json()["errors"] == [{"field": "username", "message": "no user named 'nobody'"}]
    lead_member = project.memberships.get(annotator__user=lead)
    r = lead_client.patch(f"/api/v1/projects/{project.pk}/members/{lead_member.pk}", {"role": "annotator"},
                          format="json")
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == "role"


def test_items_filter_and_cursor_pagination(lead_client, project):
    for i in range(5):
        ItemFactory(project=project, external_id=f"i{i}", status="accepted" if i % 2 else "open")
    r = lead_client.get(f"/api/v1/projects/{project.pk}/items?status=accepted&page_size=1")
    body = r.json()
    assert [i["external_id"] for i in body["results"]] == ["i1"]
    r2 = lead_client.get(body["next"])
    assert [i["external_id"] for i in r2.json()["results"]] == ["i3"]
    r = lead_client.get(f"/api/v1/projects/{project.pk}/items?status=bogus")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "status"
    stats = lead_client.get(f"/api/v1/projects/{project.pk}/stats").json()
    assert stats["items"]["accepted"] == 2 and stats["items"]["open"] == 3


def test_unknown_api_path_is_json_404(lead_client):
    r = lead_client.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert r.json()["errors"][0]["field"] is None


def test_malformed_json_body_is_400(lead_client):
    r = lead_client.generic("POST", "/api/v1/projects", "{not json", content_type="application/json")
    assert r.status_code == 400
    assert r.json()["errors"][0]["message"].startswith("JSON parse error")


def test_openapi_schema_generates_without_warnings():
    from io import StringIO

    from django.core.management import call_command

    out, err = StringIO(), StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out, stderr=err)
    assert "openapi: 3" in out.getvalue()
    assert "Warning" not in err.getvalue()


def test_planner_endpoint_hand_computed(lead_client):
    # p=0.8, two classes, fixed 2 of 3: a 2-majority always exists; right when >= 2 of 3 are right.
    r = lead_client.get("/api/v1/plan?accuracy=0.8&classes=2&rule=2/3")
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["p_accept"] == pytest.approx(1.0)
    assert body["p_correct_given_accept"] == pytest.approx(0.8**3 + 3 * 0.8**2 * 0.2)
    assert body["expected_answers"] == pytest.approx(3.0)
    # Adaptive 2 of 3 stops after two agreeing answers: 2 + P(first two disagree) = 2.32.
    assert lead_client.get("/api/v1/plan?accuracy=0.8&classes=2&rule=adaptive:2/3").json()[
        "expected_answers"] == pytest.approx(2.32)


@pytest.mark.parametrize("query, field", [
    ("accuracy=2&classes=2&rule=2/3", "accuracy"),
    ("accuracy=0.8&classes=one&rule=2/3", "classes"),
    ("accuracy=0.8&classes=2&rule=5/3", "rule"),
    ("classes=2&rule=2/3", "accuracy"),
])
def test_planner_endpoint_names_the_bad_parameter(lead_client, query, field):
    r = lead_client.get(f"/api/v1/plan?{query}")
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == field
