"""Playwright against pytest-django's live_server, in Debian's Chromium (no downloaded browser).

Every module here sets `pytestmark = pytest.mark.browser`; exclude them locally with
PYTEST_ARGS='-m "not browser"'. Without /usr/bin/chromium they fail with the fix instead of
skipping, so CI cannot pass without running them.
"""

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import DEMO_PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 860}
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


def screenshot(page, name: str) -> Path:
    """Save the page into docs/screenshots/.

    Always writes NAME.tmp.png (git-ignored); replaces the committed NAME.png only when it is
    missing or UPDATE_SCREENSHOTS=1 (`make screenshots`), so a test run leaves the tree clean.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    fresh = SCREENSHOTS / f"{name}.tmp.png"
    page.screenshot(path=str(fresh))
    target = SCREENSHOTS / f"{name}.png"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1" or not target.exists():
        shutil.copyfile(fresh, target)
    return target
