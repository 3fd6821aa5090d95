"""Browser tests: Playwright driving Debian's Chromium against a live server in this process.

Skipped, with the reason, when /usr/bin/chromium is absent (`apt-get install chromium`).
Screenshots go to artifacts/screenshots/ (CI keeps them as test artefacts).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make between
# browser steps are synchronous and safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is absent: apt-get install chromium")
    from playwright.sync_api import expect, sync_playwright

    # The CI box has two shared cores: parsing plotly.min.js alone can take seconds.
    expect.set_options(timeout=30_000)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(30_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.errors = errors
    yield tab
    context.close()


@pytest.fixture
def shoot():
    """shoot(page, name): a full-page screenshot in artifacts/screenshots/name.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str, full_page: bool = False) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


def count_requests(httpd) -> None:
    """Give Django's live server an `in_flight` count: raised when a request is accepted (in the
    server's thread, before its handler thread starts), lowered when the handler thread ends."""
    if hasattr(httpd, "in_flight"):
        return
    lock = threading.Lock()
    httpd.in_flight = 0
    accept, handle = httpd.process_request, httpd.process_request_thread

    def process_request(request, client_address):
        with lock:
            httpd.in_flight += 1
        accept(request, client_address)

    def process_request_thread(request, client_address):
        try:
            handle(request, client_address)
        finally:
            with lock:
                httpd.in_flight -= 1

    httpd.process_request, httpd.process_request_thread = process_request, process_request_thread


@pytest.fixture(autouse=True)
def live_server_drains(request):
    """A test on Django's live server ends only when no request is still being served: a closed page's
    last poll, still reading the shared in-memory connection, would race the database's flush.
    (Autouse fixtures are set up first, so this one is torn down after `page` closes the browser.)"""
    if "live_server" not in request.fixturenames:
        yield
        return
    httpd = request.getfixturevalue("live_server").thread.httpd
    count_requests(httpd)
    yield
    deadline = time.monotonic() + 30
    while httpd.in_flight:
        if time.monotonic() > deadline:
            pytest.fail(f"the live server still serves {httpd.in_flight} requests 30 s after the test")
        time.sleep(0.02)
