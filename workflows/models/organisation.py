"""Organisations (federations at each level), their departments and leader roles."""

from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


def bilingual(title_en: str, title_zh: str) -> str:
    """The Chinese title under a Chinese language when there is one, else the English."""
    if title_zh and (get_language() or "en").lower().startswith("zh"):
        return title_zh
    return title_en


class BilingualMixin:
    """`title` picks title_zh or title_en by the active language (bilingual catalogue)."""

    @property
    def title(self) -> str:
        return bilingual(self.title_en, getattr(self, "title_zh", ""))


class OrganisationLevel(BilingualMixin, models.Model):
    key = models.SlugField(max_length=40, unique=True)
    title_en = models.CharField(max_length=200)
    title_zh = models.CharField(max_length=200, blank=True)
    rank = models.PositiveSmallIntegerField(help_text=_("1 is the national level"))

    class Meta:
        ordering = ["rank"]

    def __str__(self) -> str:
        return self.title_en


class Organisation(BilingualMixin, models.Model):
    """A federation of trade unions; the national federation is the root of the tree.

    `path` is a materialised path ("/1/7/42/") so that "this organisation and all below it"
    is one indexed prefix query, whatever the depth.
    """

    code = models.SlugField(max_length=60, unique=True)
    title_en = models.CharField(max_length=200)
    title_zh = models.CharField(max_length=200, blank=True)
    level = models.ForeignKey(OrganisationLevel, on_delete=models.PROTECT, related_name="+")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    path = models.CharField(max_length=255, db_index=True, editable=False, default="")

    class Meta:
        ordering = ["level__rank", "code"]

    def __str__(self) -> str:
        return self.title_en

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        expected = f"{self.parent.path if self.parent else '/'}{self.pk}/"
        if self.path != expected:
            self.path = expected
            super().save(update_fields=["path"])

    @classmethod
    def national(cls) -> "Organisation":
        """The root organisation (the national federation)."""
        return cls.objects.get(parent__isnull=True, level__rank=1)


class Department(BilingualMixin, models.Model):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="departments"
    )
    key = models.SlugField(max_length=60)
    title_en = models.CharField(max_length=200)
    title_zh = models.CharField(max_length=200, blank=True)
    name_check = models.CharField(
        max_length=20,
        blank=True,
        help_text=_("seed / sourced / unverified: how the unit's existence was checked"),
    )
    head = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="headed_departments",
    )
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="staff_departments"
    )

    class Meta:
        ordering = ["organisation", "key"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "key"], name="department_key_per_org")
        ]

    def __str__(self) -> str:
        return self.title_en


class LeaderRole(BilingualMixin, models.Model):
    """A leadership post; `reports_to` links the posts into the escalation chain."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="leader_roles"
    )
    key = models.SlugField(max_length=60)
    title_en = models.CharField(max_length=300)
    title_zh = models.CharField(max_length=300, blank=True)
    person_name = models.CharField(
        max_length=100, blank=True, help_text=_("Placeholder name from the source; not a login")
    )
    assignment = models.CharField(
        max_length=20, blank=True, help_text=_("by-office or illustrative (see provenance)")
    )
    supervises = models.ManyToManyField(Department, blank=True, related_name="supervised_by")
    reports_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reports"
    )
    holder = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="leader_roles",
    )

    class Meta:
        ordering = ["organisation", "key"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "key"], name="leader_role_key_per_org")
        ]

    def __str__(self) -> str:
        return self.title_en


class Profile(models.Model):
    """Per-user settings that Django's User lacks: home organisation and language."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="members"
    )
    # Blank until the person chooses one with the language switch: until then pages follow
    # their browser and mail is in the site's default language.
    language = models.CharField(max_length=10, choices=settings.LANGUAGES, blank=True, default="")
    # "digest": reminders and escalations are logged but reach the user only in the daily digest.
    notification_mode = models.CharField(
        max_length=10,
        choices=[("immediate", _("Immediately")), ("digest", _("Daily digest only"))],
        default="immediate",
    )

    def __str__(self) -> str:
        return f"profile of {self.user}"
