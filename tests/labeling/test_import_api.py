"""Item import through the API: good files are stored, bad files give a 400 naming the line and
store nothing."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeling.models import Item

pytestmark = pytest.mark.django_db


def upload(client, project, name: str, content: bytes, **extra):
    return client.post(
        f"/api/v1/projects/{project.pk}/items/import",
        {"file": SimpleUploadedFile(name, content), **extra},
        format="multipart",
    )


def messages(response) -> list[str]:
    return [e["message"] for e in response.json()["errors"]]


def test_jsonl_file_imports_every_item(lead_client, project):
    lines = [json.dumps({"external_id": f"a{i}", "data": {"text": f"t{i}"}}) for i in range(50)]
    lines.append(json.dumps({"external_id": "g1", "text": "gold one", "gold": "pos"}))
    r = upload(lead_client, project, "items.jsonl", "\n".join(lines).encode())
    assert r.status_code == 201, r.json()
    assert r.json() == {"created": 51, "gold": 1}
    assert Item.objects.filter(project=project).count() == 51
    gold = Item.objects.get(project=project, external_id="g1")
    assert gold.is_gold and gold.gold == "pos" and gold.data == {"text": "gold one"}


def test_csv_file_imports_with_data_columns_and_gold(lead_client, project):
    content = b'external_id,text,source,gold\n1,"hello, world",web,pos\n2,"two\nlines",web,\n'
    r = upload(lead_client, project, "items.csv", content)
    assert r.status_code == 201, r.json()
    item = Item.objects.get(project=project, external_id="1")
    assert item.data == {"text": "hello, world", "source": "web"} and item.gold == "pos"
    assert Item.objects.get(project=project, external_id="2").data["text"] == "two\nlines"


def test_json_array_body(lead_client, project):
    body = [{"external_id": "x1", "data": {"text": "a"}}, {"id": 7, "text": "b"}]
    r = lead_client.post(f"/api/v1/projects/{project.pk}/items/import", body, format="json")
    assert r.status_code == 201, r.json()
    assert set(Item.objects.values_list("external_id", flat=True)) == {"x1", "7"}


def test_json_array_file_errors_name_the_line(lead_client, project):
    content = b'[\n {"external_id": "a", "text": "ok"},\n {"text": "no id"},\n {"external_id": "c"}\n]'
    r = upload(lead_client, project, "items.json", content)
    assert r.status_code == 400
    assert r.json()["errors"] == [{"field": "external_id", "message": "line 3: missing external_id", "line": 3}]
    assert not Item.objects.exists()


def test_malformed_jsonl_line_names_line_and_stores_nothing(lead_client, project):
    content = b'{"external_id": "a", "text": "x"}\n{"external_id": "b", "text": \n{"external_id": "c"}\n'
    r = upload(lead_client, project, "items.jsonl", content)
    assert r.status_code == 400
    (msg,) = messages(r)
    assert msg.startswith("line 2: not valid JSON")
    assert not Item.objects.exists()


def test_duplicate_ids_in_file_and_against_stored_items(lead_client, project):
    assert upload(lead_client, project, "a.jsonl", b'{"external_id": "old"}\n').status_code == 201
    content = b'{"external_id": "n1"}\n{"external_id": "n2"}\n{"external_id": "n1"}\n{"external_id": "old"}\n'
    r = upload(lead_client, project, "b.jsonl", content)
    assert r.status_code == 400
    assert messages(r) == ["line 3: duplicate external_id 'n1' (first on line 1)"]
    # Once the file itself is clean, ids already stored are reported.
    r = upload(lead_client, project, "c.jsonl", b'{"external_id": "n1"}\n{"external_id": "old"}\n')
    assert r.status_code == 400
    assert messages(r) == ["line 2: external_id 'old' already exists in this project"]
    assert list(Item.objects.values_list("external_id", flat=True)) == ["old"]


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"text,source\nhello,web\n", "line 1: no external_id column; the header has ['text', 'source']"),
        (b"external_id,text\n1,hello\n2,hello,extra\n", "line 3: 3 cells but the header has 2 columns"),
        (b"external_id,text,text\n1,a,b\n", "line 1: repeated column name(s) ['text']"),
        (b"external_id,,x\n1,a,b\n", "line 1: column 2 of the header has no name"),
    ],
)
def test_wrong_columns(lead_client, project, content, expected):
    r = upload(lead_client, project, "items.csv", content)
    assert r.status_code == 400
    assert messages(r) == [expected]
    assert not Item.objects.exists()


def test_bad_encoding_names_the_line(lead_client, project):
    content = "external_id,text\n1,caf\u00e9\n".encode() + "2,na\u00efve\n".encode("latin-1")
    r = upload(lead_client, project, "items.csv", content)
    assert r.status_code == 400
    (msg,) = messages(r)
    assert msg.startswith("line 3: not valid UTF-8 (byte 0xef")
    assert not Item.objects.exists()


def test_empty_file(lead_client, project):
    for name in ("empty.jsonl", "empty.csv", "empty.json"):
        r = upload(lead_client, project, name, b"")
        assert r.status_code == 400, name
        assert r.json()["errors"][0]["field"] in ("file", "format")
    r = upload(lead_client, project, "header-only.csv", b"external_id,text\n")
    assert messages(r) == ["the file holds no items"]
    assert not Item.objects.exists()


def test_ten_megabyte_line_is_refused_without_storing(lead_client, project):
    big = json.dumps({"external_id": "big", "text": "x" * (10 * 1024 * 1024)}).encode()
    content = b'{"external_id": "a"}\n' + big + b'\n{"external_id": "c"}\n'
    r = upload(lead_client, project, "items.jsonl", content)
    assert r.status_code == 400
    (msg,) = messages(r)
    assert msg.startswith("line 2: 10.0 MB long; one item may be at most 1.0 MB")
    assert not Item.objects.exists()


def test_csv_formula_cell_is_refused_unless_allowed(lead_client, project):
    content = b'external_id,text\n1,fine\n2,"=HYPERLINK(""http://x"",""click"")"\n3,-5 degrees\n'
    r = upload(lead_client, project, "items.csv", content)
    assert r.status_code == 400
    (msg,) = messages(r)
    assert msg.startswith("line 3: column 'text' holds a spreadsheet formula")
    assert r.json()["errors"][0]["field"] == "text"
    assert not Item.objects.exists()
    r = upload(lead_client, project, "items.csv", content, allow_formulas="true")
    assert r.status_code == 201
    assert Item.objects.get(external_id="2").data["text"].startswith("=HYPERLINK")
    assert Item.objects.get(external_id="3").data["text"] == "-5 degrees"


def test_bad_gold_names_line(lead_client, project):
    r = upload(lead_client, project, "items.jsonl", b'{"external_id": "a", "gold": "maybe"}\n')
    assert r.status_code == 400
    assert messages(r) == ["line 1: gold: 'maybe' is not one of the choices ['pos', 'neg', 'neu']"]


def test_every_bad_line_is_listed(lead_client, project):
    content = b'{"external_id": "a"}\nnot json\n{"external_id": ""}\n[1]\n'
    r = upload(lead_client, project, "items.jsonl", content)
    assert [e["line"] for e in r.json()["errors"]] == [2, 3, 4]


def test_unknown_format_is_a_400(lead_client, project):
    r = upload(lead_client, project, "items.txt", b"hello")
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == "format"


def test_large_file_becomes_a_job(lead_client, project, settings, django_capture_on_commit_callbacks):
    settings.QUORUM = {**settings.QUORUM, "SYNC_IMPORT_MAX_ITEMS": 10}
    content = "\n".join(json.dumps({"external_id": str(i)}) for i in range(25)).encode()
    with django_capture_on_commit_callbacks(execute=True):
        r = upload(lead_client, project, "items.jsonl", content)
    assert r.status_code == 202, r.json()
    job = r.json()
    # Unit tests run the worker's task in-process; the job has finished by now.
    r = lead_client.get(job["url"])
    assert r.json()["status"] == "succeeded", r.json()
    assert r.json()["result"] == {"created": 25, "gold": 0}
    assert r.json()["progress"] == 1.0
    assert Item.objects.filter(project=project).count() == 25


def test_failed_import_job_stores_nothing_and_says_why(lead_client, project, django_capture_on_commit_callbacks):
    content = b'{"external_id": "a"}\n{"external_id": "a"}\n'
    with django_capture_on_commit_callbacks(execute=True):
        r = upload(lead_client, project, "items.jsonl", content, run_as_job="true")
    assert r.status_code == 202
    job = lead_client.get(r.json()["url"]).json()
    assert job["status"] == "failed"
    assert "line 2: duplicate external_id 'a'" in job["error"]
    assert job["result"]["errors"][0]["line"] == 2
    assert not Item.objects.exists()


def test_annotator_cannot_import(annotator_client, project):
    r = upload(annotator_client, project, "items.jsonl", b'{"external_id": "a"}\n')
    assert r.status_code == 403
    assert r.json()["errors"][0]["message"] == "only the project's leads may do this"


def test_nul_characters_are_refused_by_line_and_nothing_is_stored(lead_client, project):
    """PostgreSQL cannot store U+0000 in text or jsonb: refused with the line, never a 500."""
    jsonl = b'{"external_id": "a", "text": "ok"}\n{"external_id": "b", "text": "bad\\u0000byte"}\n'
    r = upload(lead_client, project, "items.jsonl", jsonl)
    assert r.status_code == 400 and messages(r) == [
        "line 2: contains a NUL character (\\u0000), which the database cannot store; remove it"]
    csv_content = b"external_id,text\na,ok\nb,bad\x00byte\n"
    r = upload(lead_client, project, "items.csv", csv_content)
    assert r.status_code == 400 and "line 3: contains a NUL character" in messages(r)[0]
    r = lead_client.post(f"/api/v1/projects/{project.pk}/items/import",
                         [{"external_id": "c", "data": {"k\u0000": "v"}}], format="json")
    assert r.status_code == 400
    assert not Item.objects.exists()
