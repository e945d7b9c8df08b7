"""``manage.py export_dataset`` and the lead's versions page."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from labeling.exports.models import DatasetVersion
from labeling.exports.selection import Selection
from labeling.exports.services import dataset_version_create
from tests.exports.conftest import add_items

pytestmark = pytest.mark.django_db


def test_export_dataset_writes_a_version_and_copies_its_files(project, lead, tmp_path, exports_settings):
    add_items(project, 30, gold_every=6)
    out, err = io.StringIO(), io.StringIO()
    call_command("export_dataset", "--project", str(project.pk), "--format", "jsonl", "--format", "parquet",
                 "--note", "shell", "--user", "lead", "--out", str(tmp_path / "out"), stdout=out, stderr=err)
    v = DatasetVersion.objects.get(project=project)
    assert v.formats == ["jsonl", "parquet"] and v.note == "shell" and v.created_by == lead
    assert f"wrote version 1 of project {project.pk}: 30 rows" in out.getvalue()
    assert "export" in err.getvalue()  # the progress bar
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(v.files.values_list("name", flat=True))
    again = io.StringIO()
    call_command("export_dataset", "--project", str(project.pk), "--format", "parquet", "--format", "jsonl",
                 "--no-progress", stdout=again)
    assert "unchanged since version 1" in again.getvalue()
    call_command("export_dataset", "--project", str(project.pk), "--no-gold", "--format", "csv", "--no-progress",
                 stdout=io.StringIO())
    assert DatasetVersion.objects.get(project=project, number=2).row_count == 25


@pytest.mark.parametrize("args, message", [
    (["--project", "999"], "no project 999"),
    (["--project", "{p}", "--no-accepted", "--no-reviewed", "--no-gold"], "empty"),
    (["--project", "{p}", "--user", "nobody"], "no user"),
])
def test_export_dataset_refuses_clearly(project, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("export_dataset", *[a.format(p=project.pk) for a in args], "--no-progress",
                     stdout=io.StringIO())


@pytest.mark.urls("tests.exports.urls")
def test_the_lead_sees_versions_with_manifest_diff_and_downloads(client, lead, annotator_user, project,
                                                                 exports_settings):
    add_items(project, 20)
    dataset_version_create(project=project, selection=Selection(), formats=["jsonl", "csv"], note="first cut")
    add_items(project, 4, start=20)
    dataset_version_create(project=project, selection=Selection(), formats=["jsonl", "csv"])
    client.force_login(lead)
    r = client.get(f"/projects/{project.pk}/versions/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "Version 2" in html and "Version 1" in html and "first cut" in html
    assert f"/api/v1/projects/{project.pk}/versions/2/files/train.jsonl" in html
    assert "<strong>+4</strong> added" in html and "from version 1" in html
    download = client.get(f"/api/v1/projects/{project.pk}/versions/2/files/train.csv")  # the browser session works
    assert download.status_code == 200
    client.force_login(annotator_user)
    assert client.get(f"/projects/{project.pk}/versions/").status_code == 404
