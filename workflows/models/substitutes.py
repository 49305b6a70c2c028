"""Substitutes (代理): a person away names someone to receive and act on their work."""

from django.conf import settings
from django.db import models


class Substitution(models.Model):
    """`substitute` stands in for `person` from `starts_on` to `ends_on` (inclusive)."""

    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="substitutions"
    )
    substitute = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stands_in_for"
    )
    starts_on = models.DateField()
    ends_on = models.DateField()
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    ended = models.BooleanField(default=False)

    class Meta:
        ordering = ["-starts_on", "-pk"]
        indexes = [models.Index(fields=["substitute", "ends_on"])]

    def __str__(self) -> str:
        return f"{self.substitute_id} for {self.person_id} {self.starts_on}..{self.ends_on}"
