"""The beat lease: which beat process may send periodic tasks, and when each entry last ran."""

from django.db import models


class BeatLease(models.Model):
    """One row per schedule. A beat sends periodic tasks only while it holds the lease
    (`holder`, until `expires_at` by the database's clock); `last_runs` (entry name -> ISO
    time) lets the next holder carry on where the last one stopped."""

    name = models.CharField(max_length=50, unique=True)
    holder = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_runs = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.holder or 'nobody'}"
