"""Admin for report schedules: which report, how often and to whom, with each period's run
(its report version and how many people were told) shown read-only."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from workflows.models import ReportSchedule, ReportScheduleRun


class ReportScheduleRunInline(admin.TabularInline):
    model = ReportScheduleRun
    fields = ("period", "report", "created_at", "notified_at", "recipients")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ("-period",)
    verbose_name_plural = _("runs")


@admin.register(ReportSchedule)
class ReportScheduleAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "organisation",
        "aspect",
        "frequency",
        "working_day",
        "hour",
        "active",
        "last_period",
    )
    list_filter = ("active", "frequency")
    raw_id_fields = ("organisation", "aspect")
    readonly_fields = ("last_period", "last_run_at")
    fieldsets = (
        (None, {"fields": ("title", "organisation", "aspect", "active")}),
        (_("When"), {"fields": ("frequency", "working_day", "hour")}),
        (_("To whom"), {"fields": ("to_leaders", "to_auditors", "to_coordinators")}),
        (_("Runs"), {"fields": ("last_period", "last_run_at")}),
    )
    inlines = [ReportScheduleRunInline]
