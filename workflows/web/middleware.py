"""Auditors read everything and change nothing: unsafe requests from them stop here."""

from django.core.exceptions import PermissionDenied

from workflows.common import reach as access

_SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}
# Their own session and language, not case or catalogue data.
_ALLOWED_URL_NAMES = {"login", "logout", "set_language", "password_change"}


def auditors_may_post(view):
    """Mark a view whose POST changes no case, catalogue or organisation data (e.g. verify)."""
    view.auditors_may_post = True
    return view


class AuditorsReadOnlyMiddleware:
    """Refuse (403) any POST/PUT/PATCH/DELETE by an auditor on a page, the admin or viewflow's
    engine pages, before the view runs. Services refuse auditors too; this covers views that
    do not call a service (viewflow's own, the admin). The API answers through its own
    permission class (`api_permissions.AuditorsReadOnly`), which also sees token logins.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method in _SAFE_METHODS or not access.is_auditor(request.user):
            return None
        match = request.resolver_match
        if match is not None and (
            "api" in match.namespaces or match.url_name in _ALLOWED_URL_NAMES
        ):
            return None
        if getattr(view_func, "auditors_may_post", False):
            return None
        raise PermissionDenied("Auditors have read-only access.")
