"""Urging (催办): a coordinator or supervising leader presses the holder of an open item."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class UrgeTarget(models.TextChoices):
    TASK = "task", _("Task")
    EXTENSION = "extension", _("Extension request")
    ORDER = "order", _("Supervision order")
    INSTRUCTION = "instruction", _("Leader instruction")


class Urge(models.Model):
    """One urge of one open item; at most one per item per working day (workflows/urging.py)."""

    case = models.ForeignKey("workflows.Case", on_delete=models.CASCADE, related_name="urges")
    target = models.CharField(max_length=12, choices=UrgeTarget.choices)
    target_id = models.PositiveBigIntegerField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["target", "target_id", "at"])]
        verbose_name = _("urge")
        verbose_name_plural = _("urges")

    def __str__(self) -> str:
        return f"urge of {self.target} {self.target_id} at {self.at:%Y-%m-%d %H:%M}"
