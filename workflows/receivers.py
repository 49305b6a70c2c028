"""Signal receivers (connected in apps.ready): logins and logouts on the audit trail, a login
brings the person's language; a changed escalation policy puts the tasks it governs back in
front of the sweep."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from workflows.audit.trail import audit_record
from workflows.deadlines.policy import alerts_reset
from workflows.models import EscalationPolicy, EscalationRung
from workflows.organisations.languages import language_at_login

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


@receiver(user_logged_in, dispatch_uid="reformflow_language_at_login")
def apply_language_at_login(sender, request, user, **kwargs):
    """The language chosen on the login page is kept; else the profile's language applies."""
    language_at_login(request=request, user=user)


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


@receiver(post_save, sender=EscalationPolicy, dispatch_uid="reformflow_policy_saved")
@receiver(post_delete, sender=EscalationPolicy, dispatch_uid="reformflow_policy_deleted")
def alerts_reset_for_policy(sender, instance, **kwargs):
    """Reminder offsets or rungs changed: the measure's open tasks (all, for the default policy)
    go back to their floor, so no reminder or rung the new policy brings forward is missed."""
    alerts_reset(measure_id=instance.measure_id)


@receiver(post_save, sender=EscalationRung, dispatch_uid="reformflow_rung_saved")
@receiver(post_delete, sender=EscalationRung, dispatch_uid="reformflow_rung_deleted")
def alerts_reset_for_rung(sender, instance, **kwargs):
    """As for a policy: a rung's timing decides when its tasks' next alert falls."""
    measure = EscalationPolicy.objects.filter(pk=instance.policy_id).values_list(
        "measure_id", flat=True
    )
    # A rung deleted with its policy: the policy's own receiver resets; else reset everything.
    alerts_reset(measure_id=measure[0] if measure else None)
