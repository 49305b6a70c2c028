"""Pages outside the app's menu: /healthz, the error pages (400, 404, 403) inside the
product's shell, and the language switch.
"""

from django.http import JsonResponse
from django.shortcuts import render
from django.views import defaults, i18n
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from workflows.common import health
from workflows.common.bounds import InputRejected
from workflows.organisations import languages


@never_cache
@require_GET
def healthz(request):
    """Public health check: 200 when the database answers and mail goes out, else 503
    (`?scope=web`: the database alone); names no host, secret or error text."""
    report, healthy = health.health_report(scope=request.GET.get("scope", ""))
    return JsonResponse(report, status=200 if healthy else 503)


def bad_request(request, exception):
    """400 for any URL: the refused field and why when a bound refused a query parameter
    (bounds.InputRejected), else the generic page; JSON under /api/."""
    problem = str(exception) if isinstance(exception, InputRejected) else ""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": problem or "Bad request."}, status=400)
    return render(request, "400.html", {"problem": problem}, status=400)


def page_not_found(request, exception):
    """404 for any URL: JSON under /api/ (e.g. a malformed id), the HTML page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def permission_denied(request, exception):
    """403: a signed-in person refused on a page of the site keeps the side menu of
    Reformflow's pages (templates/403.html), so the way on is one click. viewflow's
    SiteMiddleware refuses before it puts the site on the request, so it is put here."""
    match = request.resolver_match
    extra = getattr(getattr(match, "url_name", None), "extra", None) or {}
    if request.user.is_authenticated and extra.get("site") is not None:
        from workflows.web.site import reform_app

        match.site, match.app, match.viewset = extra["site"], reform_app, reform_app
    return defaults.permission_denied(request, exception)


def set_language(request):
    """Django's language switch (cookie and redirect); a POST's choice is also kept: on the
    profile of a signed-in person, in the session until login (organisations/languages.py)."""
    response = i18n.set_language(request)
    if request.method == "POST":
        languages.language_choice_keep(request=request, language=request.POST.get("language", ""))
    return response
