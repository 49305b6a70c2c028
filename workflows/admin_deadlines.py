"""Admin for deadlines: calendar overrides (which recompute open due dates), the reminder and
escalation policy, and the read-only notification log and deadline history."""

from django import forms
from django.contrib import admin, messages

from .admin import AuditedAdmin
from .bounds import validate_date_in_horizon
from .deadlines import due_dates_recompute
from .models import (
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

    def _recompute(self, request, dates) -> None:
        moved = due_dates_recompute(changed_dates=dates, by=request.user)
        if moved:
            self.message_user(
                request, f"{moved} open task due date(s) moved by this change.", messages.WARNING
            )

    def save_model(self, request, obj, form, change):
        old_date = form.initial.get("date") if change else None
        super().save_model(request, obj, form, change)
        self._recompute(request, {obj.date, old_date} - {None})

    def delete_model(self, request, obj):
        date = obj.date
        super().delete_model(request, obj)
        self._recompute(request, {date})

    def delete_queryset(self, request, queryset):
        dates = set(queryset.values_list("date", flat=True))
        super().delete_queryset(request, queryset)
        self._recompute(request, dates)


class EscalationRungInline(admin.TabularInline):
    model = EscalationRung
    extra = 0


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(AuditedAdmin):
    list_display = ("__str__", "reminder_days_before", "reminder_hour")
    raw_id_fields = ("measure",)
    inlines = [EscalationRungInline]


class ReadOnlyAdmin(AuditedAdmin):
    """A record, not a form: it is written by the services only (auditors may view it)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "recipient", "kind", "rung", "work_item", "status", "attempts")
    list_filter = ("kind", "status")
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
