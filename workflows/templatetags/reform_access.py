"""Role questions for templates (menus show only what the user may open)."""

from django import template

from workflows import access

register = template.Library()


@register.filter
def sees_everything(user) -> bool:
    return access.sees_everything(user)


@register.filter
def is_coordinator(user) -> bool:
    return access.is_coordinator(user)
