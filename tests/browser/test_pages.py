"""The pages in real Chromium: what an annotator and a lead do, and what they see."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from labeling.models import Consensus, Item, Project
from labeling.selectors_stats import agreement_report
from labeling.services.quality import annotator_pause_set
from tests.browser import data
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def eventually(check, timeout: float = 5.0):
    """The pages post in the background: wait until the database shows what the page did."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the database never showed it")
        time.sleep(0.05)


def wait_for_next_item(page, previous_id):
    page.wait_for_function(
        "prev => document.body.dataset.screen !== 'task' || document.body.dataset.itemId !== String(prev)",
        arg=previous_id)


def test_annotator_labels_ten_items_with_the_keyboard_and_the_lead_sees_consensus(page, live_server, login):
    lead, ann, bob = data.user("lead"), data.user("ann"), data.user("bob")
    p = data.project(lead, members=[ann, bob])
    items = data.items(p, [{"external_id": f"rev-{i + 1:03d}", "data": {"text": text}}
                           for i, (text, _) in enumerate(data.REVIEWS[:10])])
    for item in items:  # one answer each already: the annotator's agreeing answer decides the item
        data.answer(p, bob, item, "positive")

    posts = []  # the page's POSTs to the API, by path
    page.on("request", lambda r: posts.append(r.url.split("/api/v1/")[-1]) if r.method == "POST" else None)
    # Log in with the keyboard too.
    page.goto(f"{live_server.url}/login/?next=/projects/{p.pk}/annotate")
    page.keyboard.type("ann")
    page.keyboard.press("Tab")
    page.keyboard.type(data.PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/projects/{p.pk}/annotate")
    expect(page.locator("body")).to_have_attribute("data-screen", "task")
    expect(page.locator(".instructions")).to_contain_text("positive")

    seen = []
    for n in range(10):
        # The annotator reads the item; meanwhile the page has leased the next one.
        expect(page.locator("body")).to_have_attribute("data-prefetched", "1")
        item_id = int(page.locator("body").get_attribute("data-item-id"))
        seen.append(item_id)
        expect(page.locator("#item")).to_contain_text(Item.objects.get(pk=item_id).data["text"])
        page.keyboard.press("1")
        expect(page.locator(".choice").first).to_have_attribute("aria-pressed", "true")
        if n == 2:
            screenshot(page, "annotate")
        if n == 3:
            page.keyboard.press("?")
            expect(page.locator("#help")).to_be_visible()
            page.keyboard.press("Escape")
            expect(page.locator("#help")).to_be_hidden()
        page.keyboard.press("Enter")
        wait_for_next_item(page, item_id)

    expect(page.locator("body")).to_have_attribute("data-screen", "no_work")
    expect(page.locator("#msg-title")).to_have_text("All done for now")
    expect(page.locator('[data-counter="answered_today"] b')).to_have_text("10")
    screenshot(page, "no-work", phone=False)
    assert sorted(seen) == sorted(i.pk for i in items)

    # Every switch after Submit showed an item that was already leased and loaded.
    switches = page.evaluate("window.quorumMetrics.switches")
    print(f"switch times after Submit (ms): {[round(x, 1) for x in switches]}")
    assert len(switches) == 9, switches
    assert max(switches) < 100, f"switching items took {max(switches):.1f} ms: {switches}"
    # One request per answer: each answer brings the next prefetch back (`next: true`); next-task
    # was asked only for the first item and the first prefetch.
    assert posts.count(f"projects/{p.pk}/answers") == 10, posts
    assert posts.count(f"projects/{p.pk}/next-task") == 2, " ".join(posts)

    # Each item now has two agreeing answers: the lead sees the consensus.
    eventually(lambda: Consensus.objects.filter(item__project=p, status="accepted").count() == 10)
    assert Consensus.objects.filter(item__project=p, status="accepted", label="positive").count() == 10
    lead_page = page.context.browser.new_page(viewport={"width": 1366, "height": 768})
    login(lead_page, lead)
    lead_page.goto(f"{live_server.url}/projects/{p.pk}/")
    rows = lead_page.locator("#recent-decisions tbody tr")
    expect(rows).to_have_count(10)
    for i in range(10):
        expect(rows.nth(i).locator(".consensus-label")).to_have_text("positive")
        expect(rows.nth(i)).to_contain_text("Accepted")
    expect(lead_page.locator('#status-bar [data-status="accepted"] b')).to_have_text("10")
    lead_page.close()


def test_lead_creates_a_two_of_three_project_and_sees_the_bad_import_line(page, live_server, login):
    lead = data.user("lead")
    login(page, lead)
    page.goto(f"{live_server.url}/projects/new")
    page.fill('input[name="name"]', "Animal photos")
    page.fill('textarea[name="instructions"]', "Which animal is in the photo?")
    page.check('input[name="schema_kind"][value="single"]', force=True)
    page.fill('textarea[name="choices"]', "cat\ndog\nbird")
    page.check('input[name="rule_kind"][value="k_of_n"]', force=True)
    page.fill('input[name="agree_k"]', "2")
    page.fill('input[name="min_answers"]', "2")
    page.fill('input[name="max_answers"]', "3")

    # The planner follows the rule as it is typed.
    expect(page.locator("#plan-rule")).to_have_text("adaptive:2/3")
    expect(page.locator("#plan-classes")).to_contain_text("3 possible answers")
    expect(page.locator("#plan-correct")).to_have_text(re.compile(r"^\d+\.\d%$"))
    at_80 = page.locator("#plan-correct").inner_text()
    page.fill("#plan-accuracy", "0.95")
    expect(page.locator("#plan-correct")).not_to_have_text(at_80)
    page.fill('input[name="agree_k"]', "4")  # more than can ever agree in 3 answers
    expect(page.locator("#plan-error")).to_be_visible()
    page.fill('input[name="agree_k"]', "2")
    expect(page.locator("#plan-error")).to_be_hidden()
    page.evaluate("document.activeElement.blur(); window.scrollTo(0, 0)")
    screenshot(page, "project-form", full_page=True)

    # The API's validation comes back beside the field.
    page.fill('input[name="max_answers"]', "1")
    page.click("#save-btn")
    expect(page.locator('[data-field="agree_k"] .field-error, #form-errors')).not_to_have_count(0)
    page.fill('input[name="max_answers"]', "3")
    page.click("#save-btn")
    page.wait_for_url("**/import?created=1")
    project = Project.objects.get(name="Animal photos")
    assert (project.agree_k, project.min_answers, project.max_answers) == (2, 2, 3)
    assert project.choices == ["cat", "dog", "bird"]

    bad = (b'{"external_id": "p1", "data": {"image": "https://example.org/cat.jpg"}}\n'
           b'{"external_id": "p2", "data": {"image": "https://example.org/dog.jpg"}\n'
           b'{"external_id": "p3", "data": {"image": "https://example.org/bird.jpg"}}\n')
    page.set_input_files("#import-file", files=[{"name": "photos.jsonl", "mimeType": "application/x-ndjson",
                                                 "buffer": bad}])
    page.click("#import-btn")
    error_row = page.locator('table.import-errors tr[data-line="2"]')
    expect(error_row).to_be_visible()
    expect(page.locator("table.import-errors tbody tr")).to_have_count(1)
    expect(page.locator("#import-result")).to_contain_text("Nothing was imported")
    assert Item.objects.filter(project=project).count() == 0
    screenshot(page, "import-errors")

    good = bad.replace(b'dog.jpg"}\n', b'dog.jpg"}}\n')
    page.set_input_files("#import-file", files=[{"name": "photos.jsonl", "mimeType": "application/x-ndjson",
                                                 "buffer": good}])
    page.click("#import-btn")
    expect(page.locator("#import-result")).to_contain_text("Imported 3 items")
    expect(page.locator("#item-count")).to_have_text("3")
    assert Item.objects.filter(project=project).count() == 3

    # A background import: the job's progress, then its result.
    more = b'external_id,image\np4,https://example.org/fox.jpg\np5,https://example.org/owl.jpg\n'
    page.check("#import-job")
    page.set_input_files("#import-file", files=[{"name": "more.csv", "mimeType": "text/csv", "buffer": more}])
    page.click("#import-btn")
    expect(page.locator("#import-job-box .job")).to_be_visible()
    expect(page.locator("#import-result")).to_contain_text("Imported 2 items")
    expect(page.locator("#jobs")).to_contain_text("succeeded")
    assert Item.objects.filter(project=project).count() == 5


def test_item_with_script_is_shown_as_text(page, live_server, login):
    lead, ann = data.user("lead"), data.user("ann")
    p = data.project(lead, members=[ann],
                     instructions="Label it. <script>window.__pwned = 'instructions'</script> **Bold** is fine.")
    payload = "<script>window.__pwned = 'item'</script>Great <b>product</b>"
    data.items(p, [{"external_id": "x1", "data": {"text": payload,
                                                  "note": '<img src=x onerror="window.__pwned = \'img\'">'}}])
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, ann)
    page.goto(f"{live_server.url}/projects/{p.pk}/annotate")
    expect(page.locator("body")).to_have_attribute("data-screen", "task")
    expect(page.locator("#item .item-text")).to_contain_text(payload)
    expect(page.locator("#item")).to_contain_text('<img src=x onerror="window.__pwned = \'img\'">')
    assert page.locator("#item script, #item img, #item b").count() == 0
    assert page.locator(".instructions script").count() == 0
    expect(page.locator(".instructions strong")).to_have_text("Bold")
    page.wait_for_timeout(200)
    assert page.evaluate("window.__pwned") is None
    assert dialogs == []


def test_review_queue_resolves_items_by_key_and_by_click(page, live_server, login):
    lead, a, b, c = (data.user(n) for n in ("lead", "ann", "bob", "carol"))
    p = data.project(lead, members=[a, b, c])
    first, second, third = data.items(p, [{"external_id": f"rev-{i + 1:03d}", "data": {"text": text}}
                                          for i, (text, _) in enumerate(data.REVIEWS[2:5])])
    for item in (first, second):  # three annotators, three labels: 2 of 3 can no longer be reached
        for person, value in zip((a, b, c), ("positive", "neutral", "negative")):
            data.answer(p, person, item, value)
    data.answer(p, a, third, "positive")
    data.answer(p, b, third, "positive")
    assert set(Item.objects.filter(project=p).values_list("status", flat=True)) == {"no_consensus", "accepted"}

    login(page, lead)
    page.goto(f"{live_server.url}/projects/{p.pk}/review")
    cards = page.locator(".review-card")
    expect(cards).to_have_count(2)
    expect(cards.first).to_have_class(re.compile(r"\bactive\b"))
    expect(cards.first.locator(".answer-chip")).to_have_count(3)
    for name in ("ann", "bob", "carol"):
        expect(cards.first.locator(".answers-grid")).to_contain_text(name)
    screenshot(page, "review")

    page.keyboard.press("2")  # one keystroke: "neutral"
    expect(cards.first).to_have_class(re.compile(r"\bresolved\b"))
    expect(cards.first).to_contain_text("Reviewed")
    expect(cards.nth(1)).to_have_class(re.compile(r"\bactive\b"))
    cards.nth(1).locator(".resolve-row .choice", has_text="negative").click()
    expect(page.locator("#review-done")).to_be_visible()
    expect(page.locator("#review-count")).to_have_text("0")

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.consensus.label, first.consensus.reviewed_by_id) == ("reviewed", "neutral", lead.pk)
    assert (second.status, second.consensus.label) == ("reviewed", "negative")


def test_paused_annotator_sees_why(page, live_server, login):
    lead, ann = data.user("lead"), data.user("ann")
    p = data.project(lead, members=[ann])
    data.items(p, [{"external_id": "r1", "data": {"text": "It arrived on Tuesday."}}])
    annotator_pause_set(membership=data.membership(p, ann), paused=True,
                        reason="gold accuracy 40% is below the project's 50%", actor=lead)

    login(page, ann)
    page.goto(f"{live_server.url}/projects/{p.pk}/annotate")
    expect(page.locator("body")).to_have_attribute("data-screen", "paused")
    expect(page.locator("#msg-title")).to_have_text("You are paused in this project")
    expect(page.locator("#msg-reason")).to_contain_text("gold accuracy 40% is below the project's 50%")
    expect(page.locator("#screen-task")).to_be_hidden()
    screenshot(page, "paused")

    page.goto(f"{live_server.url}/")
    expect(page.locator(f'[data-project="{p.pk}"] .me-note')).to_contain_text("You are paused in this project")


def test_lead_reads_progress_and_agreement_and_pauses_an_annotator(page, live_server, login):
    lead = data.user("lead")
    people = [data.user(n) for n in ("alice", "bob", "carol", "dana", "eve")]
    p, _ = data.busy_project(lead, people, accuracy=[0.95, 0.9, 0.85, 0.75, 0.4])
    report = agreement_report(project=p, level="nominal")
    # Two more projects, so the home page looks like a lead's on a working day.
    athletes = data.project(lead, members=people[:3], name="Official Twitter handles of athletes",
                            schema_kind="text", choices=[], agree_k=3, min_answers=3, max_answers=5,
                            text_normalization=["trim", "lowercase", "strip_at"],
                            instructions="Type the athlete's **official** handle.")
    handles = data.items(athletes, [{"external_id": f"ath-{i}", "data": {"name": n, "sport": sp}}
                                    for i, (n, sp) in enumerate([("Serena Williams", "tennis"),
                                                                 ("LeBron James", "basketball"),
                                                                 ("Usain Bolt", "athletics")])])
    for person in people[:3]:
        data.answer(athletes, person, handles[0], "@serenawilliams")
    data.project(lead, members=people, name="Photo quality", schema_kind="rating", choices=[],
                 scale_min=1, scale_max=5, instructions="How sharp is the photo?")

    login(page, lead)
    page.goto(f"{live_server.url}/")
    expect(page.locator(f'[data-project="{p.pk}"]')).to_contain_text("Product review sentiment")
    screenshot(page, "home")

    page.goto(f"{live_server.url}/projects/{p.pk}/")
    expect(page.locator("#throughput tbody tr")).to_have_count(5)
    expect(page.locator("#per-day svg rect")).not_to_have_count(0)
    screenshot(page, "dashboard", full_page=True)
    page.click("#reaggregate-btn")  # a job: its progress, then its result
    expect(page.locator("#job-box .alert")).to_contain_text("Done: every decision was recomputed")
    expect(page.locator("#job-box .bar")).to_be_visible()

    page.goto(f"{live_server.url}/projects/{p.pk}/agreement")
    expect(page.locator("#alpha")).to_have_text(f"{report['alpha']:.3f}")
    expect(page.locator("#kappa")).to_have_text(f"{report['fleiss_kappa']:.3f}")
    expect(page.locator("#histogram svg rect")).to_have_count(len(report["histogram"]["counts"]))
    expect(page.locator("#confusion svg rect")).to_have_count(9)
    expect(page.locator("#pairwise svg rect")).to_have_count(25)
    expect(page.locator("#annotator-table tbody tr")).to_have_count(len(report["annotators"]))
    screenshot(page, "agreement", full_page=True)

    row = page.locator('#annotator-table tr[data-annotator="eve"]')
    row.get_by_role("button", name="Pause").click()
    page.fill("#pause-reason", "too many wrong gold answers")
    page.locator("#pause-form button[type=submit]").click()
    expect(row.locator(".badge", has_text="Paused")).to_be_visible()
    eve = data.membership(p, people[4])
    assert eve.paused and eve.paused_reason == "too many wrong gold answers"
    row.get_by_role("button", name="Unpause").click()
    expect(row.locator(".badge", has_text="Active")).to_be_visible()
    eve.refresh_from_db()
    assert not eve.paused

    page.goto(f"{live_server.url}/projects/{p.pk}/members")
    expect(page.locator("#member-table tbody tr")).to_have_count(6)
    page.fill("#token-name", "training pipeline")
    page.locator("#token-form button[type=submit]").click()
    expect(page.locator("#token-key")).to_have_text(re.compile(r"^qrm_"))
    expect(page.locator("#token-table")).to_contain_text("training pipeline")
    screenshot(page, "members", full_page=True, phone=False)


def test_expired_lease_gets_a_clear_screen_and_a_late_answer_is_explained(page, live_server, login):
    from labeling.models import Lease
    from labeling.services.tasks import lease_expire_due

    lead, ann, bob, carol = (data.user(n) for n in ("lead", "ann", "bob", "carol"))
    p = data.project(lead, members=[ann, bob, carol], task_order="breadth_first")
    first, second = data.items(p, [{"external_id": "r1", "data": {"text": "It arrived on Tuesday."}},
                                   {"external_id": "r2", "data": {"text": "It weighs about a kilo."}}])
    page.clock.install()
    login(page, ann)
    page.goto(f"{live_server.url}/projects/{p.pk}/annotate")
    expect(page.locator("body")).to_have_attribute("data-prefetched", "1")
    shown = int(page.locator("body").get_attribute("data-item-id"))
    item = first if shown == first.pk else second

    # On the server the lease runs out and two others decide the item; the page does not know yet.
    Lease.objects.filter(item=item, annotator__user=ann).update(expires_at=timezone.now() - timedelta(seconds=1))
    lease_expire_due(project=p)
    data.answer(p, bob, item, "neutral")
    data.answer(p, carol, item, "neutral")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    expect(page.locator(".toast")).to_contain_text("ran out")
    expect(page.locator(".toast")).to_contain_text("not counted")
    expect(page.locator("body")).to_have_attribute("data-screen", "task")
    assert not item.answers.filter(annotator__user=ann).exists()

    # The annotator sits on the next item past its lease: a clear screen says so.
    page.clock.fast_forward("11:00")
    expect(page.locator("body")).to_have_attribute("data-screen", "expired")
    expect(page.locator("#msg-title")).to_have_text("Time ran out on this item")
    screenshot(page, "expired", phone=False)
    page.keyboard.press("Enter")
    expect(page.locator("body")).to_have_attribute("data-screen", "task")
    # Skipping it leaves nothing else for this annotator.
    skipped = int(page.locator("body").get_attribute("data-item-id"))
    page.keyboard.press("s")
    expect(page.locator("body")).to_have_attribute("data-screen", "no_work")
    eventually(lambda: Lease.objects.filter(item_id=skipped, annotator__user=ann, state="skipped").exists())


@pytest.mark.parametrize("schema, keys, stored", [
    ({"schema_kind": "multi", "choices": ["red", "green", "blue"]}, ["1", "3", "2", "2", "Enter"], ["blue", "red"]),
    ({"schema_kind": "rating", "choices": [], "scale_min": 1, "scale_max": 5}, ["2", "4", "Enter"], 4),
    ({"schema_kind": "text", "choices": [], "text_normalization": ["trim", "strip_at"]},
     ["type: @KingJames ", "Enter"], "@KingJames "),
], ids=["multi", "rating", "text"])
def test_every_answer_type_works_from_the_keyboard(page, live_server, login, schema, keys, stored):
    from labeling.models import Answer

    lead, ann = data.user("lead"), data.user("ann")
    p = data.project(lead, members=[ann], agree_k=1, min_answers=1, max_answers=1, **schema)
    data.items(p, [{"external_id": "x1", "data": {"name": "LeBron James", "sport": "basketball"}}])
    login(page, ann)
    page.goto(f"{live_server.url}/projects/{p.pk}/annotate")
    expect(page.locator("body")).to_have_attribute("data-screen", "task")
    expect(page.locator("#item")).to_contain_text("LeBron James")
    for key in keys:
        if key.startswith("type: "):
            page.keyboard.type(key.removeprefix("type: "))
        else:
            page.keyboard.press(key)
    expect(page.locator("body")).to_have_attribute("data-screen", "no_work")
    eventually(lambda: Answer.objects.filter(item__project=p, annotator__user=ann).exists())
    assert Answer.objects.get(item__project=p, annotator__user=ann).value == stored
