"""Admin for supervision: the editable policy (feedback cadence, light rules, scoring rules)
and read-only records (cycles, light changes, requests, orders, instructions, score entries)."""

from django.contrib import admin

from workflows.audit.admin import ReadOnlyAdmin
from workflows.models import (
    ExtensionRequest,
    FeedbackCycle,
    FeedbackPolicy,
    LeaderInstruction,
    LightChange,
    LightRule,
    ScoreEntry,
    ScoringRule,
    SupervisionOrder,
)


@admin.register(FeedbackPolicy)
class FeedbackPolicyAdmin(admin.ModelAdmin):
    list_display = ("__str__", "cadence", "due_working_day")
    raw_id_fields = ("measure",)


@admin.register(LightRule)
class LightRuleAdmin(admin.ModelAdmin):
    list_display = ("axis", "light", "threshold")


@admin.register(ScoringRule)
class ScoringRuleAdmin(admin.ModelAdmin):
    list_display = ("kind", "points", "cap_per_period")


@admin.register(FeedbackCycle)
class FeedbackCycleAdmin(ReadOnlyAdmin):
    list_display = ("case", "period_start", "period_end", "due_at", "status", "carried_from")
    list_filter = ("status", "cadence")


@admin.register(LightChange)
class LightChangeAdmin(ReadOnlyAdmin):
    list_display = ("at", "case", "axis", "from_light", "to_light")
    list_filter = ("axis", "to_light")


@admin.register(ExtensionRequest)
class ExtensionRequestAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "work_item", "requested_by", "requested_date", "status")
    list_filter = ("status",)


@admin.register(SupervisionOrder)
class SupervisionOrderAdmin(ReadOnlyAdmin):
    list_display = ("issued_at", "case", "colour", "status", "response_due_at")
    list_filter = ("colour", "status")


@admin.register(LeaderInstruction)
class LeaderInstructionAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "case", "leader", "due_at", "replied_at")


@admin.register(ScoreEntry)
class ScoreEntryAdmin(ReadOnlyAdmin):
    list_display = ("period", "department", "kind", "points", "work_item", "event")
    list_filter = ("period", "kind")
