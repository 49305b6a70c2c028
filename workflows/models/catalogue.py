"""The reform plan: aspects, measures and each measure's ordered step template."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from workflows.models.organisation import BilingualMixin, Department, LeaderRole, bilingual


class Provenance(models.TextChoices):
    ARTICLE_TEXT = "article-text", _("From the article's text")
    ARTICLE_GOAL = "article-goal", _("Placeholder derived from the article's goals")


class StepKind(models.TextChoices):
    SUBMIT = "submit", _("Submit")
    APPROVE = "approve", _("Approve")
    IMPLEMENT = "implement", _("Implement")
    REVIEW = "review", _("Review")
    SIGN_OFF = "sign_off", _("Sign off")


# Which action ends which step kind: the one table the services, pages, API and reach read.
# Submit and implement steps produce work; approvals, reviews and sign-offs decide on it
# (approved, or returned to the producer); submit, implement and review steps are completed.
PRODUCING_KINDS = (StepKind.SUBMIT, StepKind.IMPLEMENT)
DECIDED_KINDS = (StepKind.APPROVE, StepKind.REVIEW, StepKind.SIGN_OFF)
COMPLETED_KINDS = (StepKind.SUBMIT, StepKind.IMPLEMENT, StepKind.REVIEW)


class CatalogueSource(models.Model):
    """The plan's metadata and provenance as loaded, so the product shows where data came from."""

    plan_title_en = models.CharField(max_length=300)
    plan_title_zh = models.CharField(max_length=300, blank=True)
    issuer = models.CharField(max_length=300, blank=True)
    issued_on = models.DateField(null=True, blank=True)
    plan_meta = models.JSONField(default=dict, blank=True)
    organisation_meta = models.JSONField(default=dict, blank=True)
    plan_sha256 = models.CharField(max_length=64, blank=True)
    organisation_sha256 = models.CharField(max_length=64, blank=True)
    loaded_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.plan_title_en

    @property
    def plan_title(self) -> str:
        """The plan's title in the active language (the English one where no Chinese exists)."""
        return bilingual(self.plan_title_en, self.plan_title_zh)

    @property
    def provenance_notes(self) -> dict:
        return self.plan_meta.get("provenance", {})


class StepRole(BilingualMixin, models.Model):
    """Who a step goes to; `department_key` empty means the measure's own lead/supervisor."""

    key = models.SlugField(max_length=60, unique=True)
    title_en = models.CharField(max_length=200)
    title_zh = models.CharField(max_length=200, blank=True)
    department_key = models.SlugField(max_length=60, blank=True)
    escalates_to = models.SlugField(max_length=60, blank=True)

    def __str__(self) -> str:
        return self.key


class Aspect(BilingualMixin, models.Model):
    code = models.CharField(max_length=20, unique=True)
    title_en = models.CharField(max_length=300)
    title_zh = models.CharField(max_length=300, blank=True)
    title_zh_status = models.CharField(max_length=40, blank=True)
    provenance = models.CharField(max_length=20, choices=Provenance.choices)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"


class Measure(BilingualMixin, models.Model):
    code = models.CharField(max_length=20, unique=True)
    aspect = models.ForeignKey(Aspect, on_delete=models.PROTECT, related_name="measures")
    position = models.PositiveSmallIntegerField(default=0)
    title_en = models.CharField(max_length=400)
    title_zh = models.CharField(max_length=400, blank=True)
    summary_en = models.TextField(blank=True)
    actions = models.JSONField(default=list, blank=True)
    basis = models.TextField(blank=True, help_text=_("Excerpt of the source article"))
    provenance = models.CharField(max_length=20, choices=Provenance.choices)
    lead_department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="led_measures"
    )
    partner_departments = models.ManyToManyField(
        Department, blank=True, related_name="partner_measures"
    )
    supervising_leader = models.ForeignKey(
        LeaderRole, on_delete=models.PROTECT, related_name="supervised_measures"
    )
    applies_to_levels = models.JSONField(default=list, blank=True)
    target_months = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["aspect__position", "position", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"

    @property
    def is_placeholder(self) -> bool:
        return self.provenance == Provenance.ARTICLE_GOAL


class StepTemplate(BilingualMixin, models.Model):
    measure = models.ForeignKey(Measure, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    key = models.SlugField(max_length=60)
    title_en = models.CharField(max_length=300)
    title_zh = models.CharField(max_length=300, blank=True)
    kind = models.CharField(max_length=20, choices=StepKind.choices)
    role = models.ForeignKey(StepRole, on_delete=models.PROTECT, related_name="+")
    working_days = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["measure", "position"]
        constraints = [
            models.UniqueConstraint(fields=["measure", "key"], name="step_key_per_measure"),
            models.UniqueConstraint(
                fields=["measure", "position"], name="step_position_per_measure"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.measure.code}/{self.key}"
