"""Page weight: what a first visit (empty cache) transfers, measured by Chromium itself.

The live server serves static files as production does (hashed, compressed, by whitenoise:
tests/browser/conftest.py). Budgets from issue 18: the login page at most 600 KB, any page at
most 1.2 MB; heavy scripts only where they are used (vis-network on none of these pages).
"""

import pytest

from workflows.cases import services
from workflows.models import WorkItem

pytestmark = pytest.mark.browser

LOGIN_BUDGET = 600 * 1024
PAGE_BUDGET = 1200 * 1024


def first_load(page, path: str) -> tuple[int, dict[str, int]]:
    """Bytes Chromium received for `path` and everything it loaded (Network.loadingFinished's
    encodedDataLength: the compressed bodies with their headers), and the bytes per URL."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    urls, sizes = {}, {}
    cdp.on(
        "Network.requestWillBeSent", lambda e: urls.__setitem__(e["requestId"], e["request"]["url"])
    )
    cdp.on(
        "Network.loadingFinished",
        lambda e: sizes.__setitem__(e["requestId"], int(e["encodedDataLength"])),
    )
    page.goto(path, wait_until="networkidle")
    by_url = {urls.get(request, request): size for request, size in sizes.items()}
    return sum(by_url.values()), by_url


def describe(by_url: dict[str, int]) -> str:
    heaviest = sorted(by_url.items(), key=lambda pair: -pair[1])[:8]
    return "; ".join(f"{url.rsplit('/', 1)[-1]} {size // 1024} KB" for url, size in heaviest)


def test_first_loads_stay_within_the_budgets(fresh_page, signed_in, launch, demo_users):
    case = launch("2.2")
    item = WorkItem.objects.get(case=case, status="open")
    services.task_claim(item=item, user=demo_users("network_work.staff"))
    coordinator = signed_in("coordinator.office")

    weights = {}
    total, by_url = first_load(fresh_page(), "/accounts/login/")
    weights["/accounts/login/"] = total
    assert total <= LOGIN_BUDGET, f"login page {total // 1024} KB: {describe(by_url)}"
    pages = [
        "/workflows/",
        "/workflows/inbox/",
        "/workflows/dashboard/",
        f"/workflows/cases/{case.pk}/",
        f"/workflows/tasks/{item.pk}/",
        "/workflows/reports/",
        "/workflows/desk/audit/",
    ]
    for path in pages:
        total, by_url = first_load(fresh_page(coordinator), path)
        weights[path] = total
        assert total <= PAGE_BUDGET, f"{path} {total // 1024} KB: {describe(by_url)}"
        assert not any("vis-network" in url for url in by_url), f"{path} loads vis-network"
        # Compressed and cached: every stylesheet and script has a hashed, immutable name.
        for url in by_url:
            if url.endswith((".css", ".js")):
                assert url.rsplit("/", 1)[-1].count(".") >= 2, f"{url} has no hashed name"
    print("\nfirst-load bytes:", weights)


def test_static_files_come_compressed_with_long_lived_caching(fresh_page, site):
    page = fresh_page()
    responses = []
    page.on("response", lambda response: responses.append(response))
    page.goto("/accounts/login/", wait_until="networkidle")
    css = next(r for r in responses if r.url.endswith(".css"))
    headers = css.all_headers()
    assert headers.get("content-encoding") in {"gzip", "br"}, headers
    assert "immutable" in headers.get("cache-control", ""), headers
