"""Label Studio JSON interop, on a file in Label Studio's documented export format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotators.models import Annotator
from labeling.exports.labelstudio import LabelStudioError, labelstudio_config, parse_tasks
from labeling.exports.selection import Selection
from labeling.exports.services import dataset_version_create
from labeling.exports.storage import DiskStorage
from labeling.models import Answer, Consensus, Item

pytestmark = pytest.mark.django_db
FIXTURE = Path(__file__).parent / "data" / "labelstudio_export.json"


@pytest.fixture
def sentiment(project):
    project.choices = ["Positive", "Negative", "Neutral"]
    project.save()
    return project


def test_a_label_studio_export_becomes_items_and_answers(lead_client, sentiment):
    r = lead_client.post(f"/api/v1/projects/{sentiment.pk}/labelstudio/import",
                         {"file": SimpleUploadedFile("export.json", FIXTURE.read_bytes())}, format="multipart")
    assert r.status_code == 201, r.json()
    assert r.json() == {"items": 4, "gold": 1, "answers": 8, "annotators": 3,
                        "skipped": {"cancelled": 1, "predictions": 1, "empty": 0, "repeated": 1}}
    items = {i.external_id: i for i in Item.objects.filter(project=sentiment)}
    assert set(items) == {"1", "2", "3", "4"}
    assert items["1"].data == {"text": "The battery lasts all day and charges fast."}
    assert items["3"].is_gold and items["3"].gold == "Neutral"
    answers = Answer.objects.filter(item__project=sentiment).select_related("annotator__user")
    by_item: dict[str, dict[str, str]] = {}
    for a in answers:
        by_item.setdefault(a.item.external_id, {})[a.annotator.user.username] = a.value
    assert by_item["1"] == {"labelstudio:ann1@example.com": "Positive", "labelstudio:ann2@example.com": "Positive",
                            "labelstudio:12": "Negative"}
    assert by_item["2"]["labelstudio:ann1@example.com"] == "Neutral"  # the later of two annotations by one person
    assert items["1"].answer_count == 3
    assert Answer.objects.get(item=items["1"], annotator__user__username="labelstudio:12").seconds == 4.288
    assert not Annotator.objects.get(user__username="labelstudio:12").user.is_active
    # Importing the same file again refuses everything: the ids exist.
    again = lead_client.post(f"/api/v1/projects/{sentiment.pk}/labelstudio/import",
                             json.loads(FIXTURE.read_text()), format="json")
    assert again.status_code == 400 and "already exists" in again.json()["errors"][0]["message"]
    assert Answer.objects.filter(item__project=sentiment).count() == 8


@pytest.mark.parametrize("tasks, message", [
    ({"not": "a list"}, "array of tasks"),
    ([{"id": 1}], "no data object"),
    ([{"id": 1, "data": {"text": "a"}, "annotations": [{"result": [{"type": "choices", "from_name": "s",
                                                                  "value": {"choices": ["A", "B"]}}],
                                                       "completed_by": 1}]}], "exactly one choice"),
    ([{"id": 1, "data": {"text": "a"}, "annotations": [{"result": [{"type": "choices", "value": {"choices": ["A"]}}],
                                                       "completed_by": {"first_name": "x"}}]}], "neither an email"),
    ([{"id": 1, "data": {"text": "a"}}, {"id": 1, "data": {"text": "b"}}], "twice"),
])
def test_bad_label_studio_files_say_which_task(tasks, message):
    with pytest.raises(LabelStudioError, match=message):
        parse_tasks(tasks, schema_kind="single")


def test_values_outside_the_schema_are_refused_whole(lead_client, project):
    r = lead_client.post(f"/api/v1/projects/{project.pk}/labelstudio/import", json.loads(FIXTURE.read_text()),
                         format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] in ("value", "items", "gold")
    assert not Item.objects.filter(project=project).exists()


def test_not_json_is_a_400(lead_client, project):
    r = lead_client.post(f"/api/v1/projects/{project.pk}/labelstudio/import",
                         {"file": SimpleUploadedFile("x.json", b"{nope")}, format="multipart")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "file"


def test_a_version_in_label_studio_format_reads_back(lead_client, sentiment, exports_settings):
    lead_client.post(f"/api/v1/projects/{sentiment.pk}/labelstudio/import", json.loads(FIXTURE.read_text()),
                     format="json")
    for item in Item.objects.filter(project=sentiment, is_gold=False):  # decisions, as the workflow would make
        values = list(item.answers.values_list("value", flat=True))
        top = max(set(values), key=values.count)
        Consensus.objects.create(item=item, label=top, confidence=values.count(top) / len(values), method="majority",
                                 votes={v: values.count(v) for v in set(values)}, status="accepted")
    version = dataset_version_create(project=sentiment, selection=Selection(), formats=["labelstudio"]).version
    tasks = []
    for split in ("train", "validation", "test"):
        path = DiskStorage().local_path(version.files.get(name=f"{split}.labelstudio.json").key)
        tasks += json.loads(path.read_text())
    assert len(tasks) == 4
    by_ext = {t["meta"]["external_id"]: t for t in tasks}
    assert by_ext["1"]["data"] == {"text": "The battery lasts all day and charges fast."}
    result = by_ext["1"]["annotations"][0]["result"][0]
    assert result["type"] == "choices" and result["value"] == {"choices": ["Positive"]}
    assert result["to_name"] == "text" and result["from_name"] == "label"
    assert by_ext["3"]["annotations"][0]["ground_truth"] is True
    # ... and what Quorum wrote, Quorum (or Label Studio) reads again: the same labels as answers.
    parsed = parse_tasks(tasks, schema_kind="single")
    assert {a.external_id: a.value for a in parsed.answers} == {
        "1": "Positive", "2": by_ext["2"]["annotations"][0]["result"][0]["value"]["choices"][0],
        "3": "Neutral", "4": by_ext["4"]["annotations"][0]["result"][0]["value"]["choices"][0]}
    config = labelstudio_config(schema_kind="single", choices=sentiment.choices, scale_max=None)
    assert '<Choice value="Negative"/>' in config and '<Text name="text" value="$text"/>' in config
