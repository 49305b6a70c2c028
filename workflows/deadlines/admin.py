"""Admin for deadlines: calendar overrides (which recompute open due dates), the reminder and
escalation policy, and the read-only notification log and deadline history."""

from django import forms
from django.contrib import admin, messages
from django.db import transaction

from workflows.audit.admin import AuditedAdmin, ReadOnlyAdmin
from workflows.common.bounds import validate_date_in_horizon
from workflows.deadlines.due_dates import calendar_days_changed
from workflows.models import (
    CalendarDay,
    DeadlineChange,
    Escalation,
    EscalationPolicy,
    EscalationRung,
    Notification,
    SweepFault,
)


class CalendarDayForm(forms.ModelForm):
    class Meta:
        model = CalendarDay
        fields = ["date", "kind", "name", "note"]

    def clean_date(self):
        # Due dates are recomputed around the day: it must lie within the date horizon.
        day = self.cleaned_data["date"]
        validate_date_in_horizon(day)
        return day


@admin.register(CalendarDay)
class CalendarDayAdmin(AuditedAdmin):
    form = CalendarDayForm
    list_display = ("date", "kind", "name", "note", "updated_at")
    list_filter = ("kind",)
    date_hierarchy = "date"
    search_fields = ("name", "note")

    def _recompute(self, request, verb: str, days: list[dict], **kwargs) -> None:
        moved = calendar_days_changed(verb=verb, days=days, by=request.user, **kwargs)
        if moved:
            self.message_user(
                request, f"{moved} open task due date(s) moved by this change.", messages.WARNING
            )

    @staticmethod
    def _day(obj) -> dict:
        return {"date": obj.date, "kind": obj.kind, "name": obj.name}

    # The admin's add, change and delete views run in one transaction; the change and its
    # calendar_override_* event commit together.
    def save_model(self, request, obj, form, change):
        old_date = form.initial.get("date") if change else None
        super().save_model(request, obj, form, change)
        # A row moved to another date changes the day it no longer overrides too.
        moved_from = [old_date] if old_date not in (None, obj.date) else []
        self._recompute(
            request,
            "calendar_override_saved",
            [self._day(obj)],
            also=moved_from,
            data={"changed": change, "moved_from": moved_from[0] if moved_from else None},
        )

    def delete_model(self, request, obj):
        day = self._day(obj)
        super().delete_model(request, obj)
        self._recompute(request, "calendar_override_deleted", [day])

    def delete_queryset(self, request, queryset):
        # The "delete selected" action runs outside any transaction: open one here.
        with transaction.atomic():
            days = [self._day(obj) for obj in queryset]
            super().delete_queryset(request, queryset)
            self._recompute(request, "calendar_override_deleted", days)


class EscalationRungInline(admin.TabularInline):
    model = EscalationRung
    extra = 0


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(AuditedAdmin):
    list_display = ("__str__", "reminder_days_before", "reminder_hour")
    raw_id_fields = ("measure",)
    inlines = [EscalationRungInline]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "recipient",
        "kind",
        "channel",
        "rung",
        "work_item",
        "status",
        "attempts",
    )
    list_filter = ("kind", "channel", "status")
    list_select_related = ("recipient", "work_item__case__measure", "work_item__step")
    search_fields = ("recipient__username", "subject")


@admin.register(DeadlineChange)
class DeadlineChangeAdmin(ReadOnlyAdmin):
    list_display = ("at", "work_item", "kind", "old_due_at", "new_due_at", "by", "reason")
    list_filter = ("kind",)
    list_select_related = ("work_item__case__measure", "work_item__step", "by")


@admin.register(Escalation)
class EscalationAdmin(ReadOnlyAdmin):
    list_display = ("fired_at", "case", "work_item", "rung", "due_at")
    list_filter = ("rung",)
    list_select_related = ("case__measure", "work_item__case__measure", "work_item__step")


@admin.register(SweepFault)
class SweepFaultAdmin(ReadOnlyAdmin):
    list_display = ("last_at", "part", "case", "work_item", "occurrences", "resolved_at", "error")
    list_filter = ("part", ("resolved_at", admin.EmptyFieldListFilter))
    list_select_related = ("case__measure", "work_item__step", "work_item__case__measure")
