"""A page's main part rendered once and kept while the change stamp holds (issue 20): the case
page and its supervision page read two dozen queries and render hundreds of rows, the same for
every request until a write commits; the inbox and the queue (`own_reach`: keyed by the
person's own reach, whose queues and stand-ins decide the rows) render fifty task rows.

The key holds the stamp, the language and time zone, the user's reach (common/reach.reach_key)
and the user themselves (the forms and buttons follow their roles on the case), the page and
its query string: a fragment never serves another federation, person or language. Its CSRF
tokens are rendered as a placeholder and replaced by the request's own on every answer. What
time alone changes (a step falling overdue, days overdue, today's mark on the timeline) waits
at most PAGE_CACHE_SECONDS, the dashboard's bound.
"""

from collections.abc import Callable

from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from workflows.common import page_cache

PAGE_CACHE_SECONDS = 60
# Letters only: escaping leaves it as it is wherever a template puts the token.
_CSRF_PLACEHOLDER = "rfcsrfplaceholderQx7Zk"  # noqa: S105 - a stand-in, not a secret


def fragment_cached(
    request,
    *,
    name: str,
    parts: tuple,
    build: Callable[[], tuple[str, dict]],
    personal: bool = True,
    own_reach: bool = False,
    whole_path: bool = True,
) -> tuple[SafeString, dict]:
    """(the fragment's HTML, its `extra` values) for this request, from the cache when the
    stamp holds. `build()` returns (template name, context); the context's "extra" (a dict of
    plain values, e.g. the page heading) is kept beside the HTML. `personal`: keyed by the
    person too (their forms and buttons follow their roles); without it, shared by those of
    equal reach (common/reach.reach_key: overseers of one role and federation). `own_reach`:
    keyed by the user's own reach (reach_key(personal=True): the queues they serve, whom they
    stand in for today), never an overseer's shared one. `whole_path` False: `parts` hold
    everything of the query string the fragment reads (its parsed filters and page), so an
    unread parameter makes no entry of its own."""
    user = request.user
    person = (user.pk,) if personal else ()
    path = (request.get_full_path(),) if whole_path else ()
    key = page_cache.cache_key(f"fragment:{name}", user, *person, parts, *path, personal=own_reach)

    def render() -> tuple[str, dict]:
        template, context = build()
        context = {**context, "csrf_token": _CSRF_PLACEHOLDER}
        return render_to_string(template, context, request), context.get("extra", {})

    html, extra = page_cache.kept(key, render, PAGE_CACHE_SECONDS)
    # Rendered (autoescaped) templates; the token is the request's own, made of letters and
    # digits, so marking the result safe escapes nothing twice.
    return SafeString(html.replace(_CSRF_PLACEHOLDER, get_token(request))), extra  # nosec B703 B308
