"""Domain errors that pages and the API map to HTTP answers (409 and 400)."""

from django.core.exceptions import ValidationError


class TaskConflict(Exception):
    """The task is no longer open (someone else decided first); maps to HTTP 409."""


class ReasonRequired(ValidationError):
    """A return, reassignment or override was asked for without a reason; maps to HTTP 400."""
