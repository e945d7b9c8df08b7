"""The webhook: a signed POST per new version, retried with backoff, every attempt recorded."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from labeling.exports.models import DeliveryStatus, WebhookDelivery
from labeling.exports.selection import Selection
from labeling.exports.services import dataset_version_create, export_settings_update
from labeling.exports.webhooks import SIGNATURE_HEADER, backoff_seconds, verify_signature
from tests.exports.conftest import add_items

pytestmark = pytest.mark.django_db


class Receiver:
    """A local HTTP endpoint that answers with the given status codes in turn and keeps each call."""

    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.calls: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append((dict(self.headers), body))
                code = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"ok" if code < 300 else b"try later")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory():
    made = []

    def make(statuses=()):
        r = Receiver(statuses)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


@pytest.fixture
def quick_backoff(settings):
    settings.QUORUM_EXPORTS = {**settings.QUORUM_EXPORTS, "WEBHOOK_BACKOFF_SECONDS": 0, "WEBHOOK_MAX_ATTEMPTS": 3,
                               "WEBHOOK_TIMEOUT_SECONDS": 5}


def test_a_new_version_calls_the_webhook_with_a_signed_body(project, receiver_factory, quick_backoff,
                                                            django_capture_on_commit_callbacks):
    receiver = receiver_factory([500])  # the first call fails, the retry is delivered
    export_settings_update(project=project, webhook_url=receiver.url, webhook_secret="topsecret")
    add_items(project, 12)
    with django_capture_on_commit_callbacks(execute=True):
        version = dataset_version_create(project=project, selection=Selection(), formats=["jsonl"]).version
    assert len(receiver.calls) == 2
    headers, body = receiver.calls[-1]
    assert verify_signature(body, "topsecret", headers[SIGNATURE_HEADER])
    assert not verify_signature(body, "wrong", headers[SIGNATURE_HEADER])
    payload = json.loads(body)
    assert payload["event"] == "dataset_version.ready" and payload["version"] == version.number
    assert payload["fingerprint"] == version.fingerprint and payload["rows"] == 12
    assert payload["manifest_url"].endswith(f"/projects/{project.pk}/versions/1/manifest")
    assert receiver.calls[0][1] == body  # a retry sends the same bytes
    delivery = WebhookDelivery.objects.get(project=project)
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 2
    assert delivery.last_status_code == 200 and delivery.delivered_at is not None


def test_a_webhook_that_keeps_failing_is_given_up_with_the_reason(project, receiver_factory, quick_backoff,
                                                                  django_capture_on_commit_callbacks, lead_client):
    receiver = receiver_factory([503, 503, 503, 503])
    export_settings_update(project=project, webhook_url=receiver.url, webhook_secret="k")
    add_items(project, 3)
    with django_capture_on_commit_callbacks(execute=True):
        dataset_version_create(project=project, selection=Selection(), formats=["jsonl"])
    delivery = WebhookDelivery.objects.get(project=project)
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 3 and len(receiver.calls) == 3
    assert delivery.last_status_code == 503 and "try later" in delivery.last_error
    listed = lead_client.get(f"/api/v1/projects/{project.pk}/webhook-deliveries").json()["results"]
    assert listed[0]["status"] == "failed" and listed[0]["version"] == 1


def test_an_unreachable_webhook_is_recorded(project, quick_backoff, django_capture_on_commit_callbacks):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    export_settings_update(project=project, webhook_url=f"http://127.0.0.1:{port}/gone", webhook_secret="k")
    add_items(project, 3)
    with django_capture_on_commit_callbacks(execute=True):
        dataset_version_create(project=project, selection=Selection(), formats=["jsonl"])
    delivery = WebhookDelivery.objects.get(project=project)
    assert delivery.status == DeliveryStatus.FAILED and "ConnectionError" in delivery.last_error


def test_no_webhook_no_delivery(project, django_capture_on_commit_callbacks):
    add_items(project, 3)
    with django_capture_on_commit_callbacks(execute=True):
        dataset_version_create(project=project, selection=Selection(), formats=["jsonl"])
    assert not WebhookDelivery.objects.exists()


def test_backoff_grows_and_is_capped(settings):
    settings.QUORUM_EXPORTS = {**settings.QUORUM_EXPORTS, "WEBHOOK_BACKOFF_SECONDS": 10}
    assert 8 <= backoff_seconds(1) <= 12
    assert 64 <= backoff_seconds(4) <= 96
    assert backoff_seconds(30) <= 3600 * 1.2
