from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class SavedView(models.Model):
    """A person's named filter and sort of a task list (inbox or queue), replayed as a link."""

    PAGES = [("inbox", _("Inbox")), ("queue", _("Queue"))]

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    page = models.CharField(max_length=20, choices=PAGES)
    name = models.CharField(max_length=60)
    querystring = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["user", "page", "name"], name="saved_view_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.page}: {self.name}"
