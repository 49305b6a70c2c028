"""A person's own settings: finding an active user by name, their mail mode (immediate or
digest) and their language; each change audited.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from workflows.audit.trail import audit_record
from workflows.models import (
    Profile,
)


def user_by_username(username: str):
    """The active user with this username, or ValidationError."""
    try:
        return get_user_model().objects.get(username=username, is_active=True)
    except get_user_model().DoesNotExist as exc:
        raise ValidationError(f"No active user named {username!r}.") from exc


def notification_mode_set(*, user, mode: str) -> bool:
    """A person chooses immediate mail or the daily digest for themselves (auditors too: it
    is their own inbox, not case data). Returns whether anything changed; a change is audited.
    """
    with transaction.atomic():
        profile, _created = Profile.objects.select_for_update().get_or_create(user=user)
        if profile.notification_mode == mode:
            return False
        old, profile.notification_mode = profile.notification_mode, mode
        profile.save(update_fields=["notification_mode"])
        audit_record(verb="notification_mode_changed", actor=user, data={"from": old, "to": mode})
    return True


def profile_language_set(*, user, language: str) -> bool:
    """A person chooses the language of their pages and mail (auditors too: their own
    setting). Returns whether anything changed; a change is audited."""
    if language not in dict(settings.LANGUAGES):
        raise ValidationError({"language": f"Not an offered language: {language[:20]!r}."})
    with transaction.atomic():
        profile, _created = Profile.objects.select_for_update().get_or_create(user=user)
        if profile.language == language:
            return False
        old, profile.language = profile.language, language
        profile.save(update_fields=["language"])
        audit_record(verb="language_changed", actor=user, data={"from": old, "to": language})
    return True
