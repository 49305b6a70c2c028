"""What a page tells the person after a post: a refusal's text, a form's errors."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError


def error_text(exc) -> str:
    """A service's refusal as one line: a ValidationError's messages joined, else its text."""
    return " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)


def form_errors(request, form) -> None:
    """Each field's errors as a message, prefixed with the field's label."""
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        messages.error(request, f"{label}: {' '.join(errors)}" if label else " ".join(errors))


def run_and_report(request, run, done: str) -> bool:
    """Run one service call; its refusal (PermissionDenied, ValidationError) or `done` becomes
    the page's message. Returns whether it went through."""
    try:
        run()
    except (PermissionDenied, ValidationError) as exc:
        messages.error(request, error_text(exc))
        return False
    messages.success(request, done)
    return True
