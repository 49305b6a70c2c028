"""Role checks for templates that have no view context of their own (the app menu)."""

from django import template

from .. import access

register = template.Library()


@register.filter
def sees_everything(user) -> bool:
    """Auditors and coordinators: the audit desk is theirs."""
    return access.sees_everything(user)
