"""Playwright against pytest-django's live_server, in Debian's Chromium (no downloaded browser).

Every module here sets `pytestmark = pytest.mark.browser`; exclude them locally with
PYTEST_ARGS='-m "not browser"'. Without /usr/bin/chromium they fail with the fix instead of
skipping, so CI cannot pass without running them.
"""

import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import override_settings

from tests.conftest import DEMO_PASSWORD

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 860}
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
# Static files as production serves them: collected into their own root (reused while the
# sources are unchanged), hashed names, gzip/brotli copies, answered by whitenoise.
STATIC_ROOT = ROOT / "var" / "test-static"


def served_like_production() -> override_settings:
    return override_settings(
        STATIC_ROOT=str(STATIC_ROOT),
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
        },
    )


# Long enough for a slow CI machine, short enough that a broken page fails fast.
TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """One headless Chromium for the whole session."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing, so the browser tests cannot run. Install it with "
            "`make system-deps` (as root) or `apt-get install -y chromium`, or leave these tests "
            "out locally with: make test PYTEST_ARGS='-m \"not browser\"'",
            pytrace=False,
        )
    # Playwright's sync API keeps an asyncio loop in this thread; Django would otherwise
    # refuse ORM calls from the test body (fixtures, assertions on rows).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _static_sources_fingerprint() -> str:
    """Names, sizes and times of every file collectstatic would take."""
    ignore = apps.get_app_config("staticfiles").ignore_patterns
    digest = hashlib.sha256()
    for finder in finders.get_finders():
        for path, storage in finder.list(ignore):
            stat = os.stat(storage.path(path))
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@pytest.fixture(scope="session")
def collected_static() -> Path:
    """var/test-static, collected (hashed, compressed) unless already up to date: compressing
    takes about a minute, so later runs reuse it."""
    stamp = STATIC_ROOT.with_name("test-static.fingerprint")
    with served_like_production():
        fingerprint = _static_sources_fingerprint()
        if not stamp.exists() or stamp.read_text() != fingerprint:
            shutil.rmtree(STATIC_ROOT, ignore_errors=True)
            call_command("collectstatic", interactive=False, verbosity=0)
            stamp.write_text(fingerprint)
    return STATIC_ROOT


def _as_is(application):
    """The live server's "static handler" that handles nothing: /static/ reaches whitenoise."""
    return application


@pytest.fixture(scope="session")
def live_server(collected_static):
    """pytest-django's live server, but static files come from whitenoise (compressed, hashed,
    cached) instead of Django's uncompressed development handler, so page weights are real."""
    from pytest_django.live_server_helper import LiveServer

    server = LiveServer(os.environ.get("DJANGO_LIVE_TEST_SERVER_ADDRESS", "localhost"), start=False)
    server.thread.static_handler = _as_is
    # whitenoise reads STATIC_ROOT once, when the server thread builds its handler.
    with served_like_production():
        server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _static_served_like_production(collected_static):
    """Pages rendered during a browser test name the hashed files the live server serves."""
    with served_like_production():
        yield


@pytest.fixture
def site(live_server, django_db_serialized_rollback, demo_users):
    """The live server's base URL, with the catalogue and the demo accounts loaded.

    Serialized rollback puts the migrations' rows (role groups) back after the flush that
    ends every live-server test, so later tests still find them.
    """
    return live_server.url


@pytest.fixture
def login(browser, site) -> Iterator[Callable]:
    """login(username, language="en") -> a Page logged in through the real login form.

    Each user gets their own browser context (own cookies), so a journey can switch people
    without logging out.
    """
    contexts = []

    def do(username: str, *, language: str = "en-GB"):
        context = browser.new_context(
            base_url=site, locale=language, timezone_id="Asia/Shanghai", viewport=VIEWPORT
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.goto("/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.locator("form button[type=submit]").click()
        page.wait_for_url(f"{site}/workflows/")
        return page

    yield do
    for context in contexts:
        context.close()


def screenshot(page, name: str, *, shown_in_readme: bool = True) -> Path:
    """Save the page into docs/screenshots/.

    Always writes NAME.tmp.png (git-ignored); replaces the committed NAME.png only when it is
    missing or UPDATE_SCREENSHOTS=1 (`make screenshots`), so a test run leaves the tree clean.
    Pictures the README does not show stay .tmp.png only, to look at after a run.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    fresh = SCREENSHOTS / f"{name}.tmp.png"
    page.screenshot(path=str(fresh))
    if not shown_in_readme:
        return fresh
    target = SCREENSHOTS / f"{name}.png"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1" or not target.exists():
        shutil.copyfile(fresh, target)
    return target


@pytest.fixture
def signed_in(login) -> Callable:
    """signed_in(username) -> the cookies of a session opened through the login form, to give
    fresh contexts (empty cache, any viewport or language) that person's session."""

    def do(username: str) -> dict:
        page = login(username)
        return page.context.storage_state()

    return do


@pytest.fixture
def fresh_page(browser, site) -> Iterator[Callable]:
    """fresh_page(state=None, viewport=DESKTOP, language="en") -> a Page in a new context: empty
    cache, the session in `state` (signed_in's), the language cookie set to `language`."""
    contexts = []

    def do(state: dict | None = None, *, viewport: dict = DESKTOP, language: str = "en"):
        context = browser.new_context(
            base_url=site,
            storage_state=state,
            viewport=viewport,
            locale="zh-CN" if language == "zh-hans" else "en-GB",
            timezone_id="Asia/Shanghai",
        )
        context.add_cookies([{"name": "django_language", "value": language, "url": site}])
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield do
    for context in contexts:
        context.close()
