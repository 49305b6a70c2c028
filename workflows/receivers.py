"""Signal receivers that put logins and logouts on the audit trail (connected in apps.ready)."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from .audit import audit_record

# Long enough for any real username; a pasted essay is cut, not stored whole.
_MAX_USERNAME = 150


def _client(request) -> dict:
    if request is None:
        return {}
    return {"ip": request.META.get("REMOTE_ADDR", ""), "path": request.path}


@receiver(user_logged_in, dispatch_uid="reformflow_audit_logged_in")
def audit_logged_in(sender, request, user, **kwargs):
    """A successful login, by the user who logged in."""
    audit_record(verb="logged_in", actor=user, data=_client(request))


@receiver(user_logged_out, dispatch_uid="reformflow_audit_logged_out")
def audit_logged_out(sender, request, user, **kwargs):
    """A logout (user is None when the session had already expired)."""
    if user is not None:
        audit_record(verb="logged_out", actor=user, data=_client(request))


@receiver(user_login_failed, dispatch_uid="reformflow_audit_login_failed")
def audit_login_failed(sender, credentials, request=None, **kwargs):
    """A failed login: the username tried, never the password (Django masks it anyway)."""
    username = str(credentials.get("username", ""))[:_MAX_USERNAME]
    audit_record(verb="login_failed", data={"username": username, **_client(request)})
