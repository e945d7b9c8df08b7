"""Browser tests: Debian's Chromium driven by Playwright, against pytest-django's live server.

- ``browser_type_launch_args`` points Playwright at /usr/bin/chromium (a browser download does
  not work on these machines) with the flags that keep it quiet and offline.
- The sync ``page`` fixture runs an event loop in the test's thread, so Django's ORM, used by the
  tests to build data and check results, would refuse to run there without
  DJANGO_ALLOW_ASYNC_UNSAFE. The tests are plain sequential code; nothing is shared across threads.
- Screenshots go to test-results/screenshots/ (ignored by git); with QUORUM_UPDATE_SCREENSHOTS=1
  they are also copied to docs/screenshots/, the ones the README shows.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

import pytest  # noqa: E402
from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-results" / "screenshots"
DOCS_SHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


def pytest_configure(config):
    # pytest-playwright 0.10's own session fixture (base_url) trips a pytest 9 deprecation notice.
    config.addinivalue_line("filterwarnings",
                            "ignore:Session-scoped fixtures defined as instance methods:pytest.PytestRemovedIn10Warning")


def pytest_collection_modifyitems(config, items):
    if not Path(CHROMIUM).exists():
        skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing: apt-get install -y chromium (make test does it)")
        for item in items:
            if "tests/browser" in str(item.fspath):
                item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": LAPTOP, "locale": "en-US", "timezone_id": "UTC"}


@pytest.fixture
def login(live_server):
    """login(page, user): give the page's browser context a session for ``user``."""

    def _login(page, user):
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value,
                                   "url": live_server.url}])
        return page

    return _login


def screenshot(page, name: str, *, full_page: bool = False, phone: bool = True) -> None:
    """Keep <name>-laptop.png (1366x768) and <name>-phone.png (390x844) of the current page."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    files = [SHOTS / f"{name}-laptop.png"]
    if full_page:  # a sticky header would otherwise be drawn where the page happens to be scrolled
        page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=files[0], full_page=full_page)
    if phone:
        size = page.viewport_size
        page.set_viewport_size(PHONE)
        page.wait_for_timeout(150)
        files.append(SHOTS / f"{name}-phone.png")
        page.screenshot(path=files[1])
        page.set_viewport_size(size)
        page.wait_for_timeout(100)
    if os.environ.get("QUORUM_UPDATE_SCREENSHOTS") == "1":
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copyfile(f, DOCS_SHOTS / f.name)
