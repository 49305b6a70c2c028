"""Admin for the catalogue: step roles, aspects, measures with their step templates, and the
catalogue sources; provenance is shown beside every measure.
"""

from django.contrib import admin
from django.utils.html import format_html

from workflows.audit.admin import AuditedAdmin, AuditedTabularInline
from workflows.catalogue.admin_workbook import CatalogueWorkbookAdminMixin
from workflows.models import (
    Aspect,
    CatalogueSource,
    Measure,
    StepRole,
    StepTemplate,
)

# Deadline admin lives in its own module; importing it registers its classes.


PROVENANCE_LABELS = {
    "article-text": "From the article's text",
    "article-goal": "Placeholder derived from the article's goals (not the plan's own aspect)",
}


@admin.register(StepRole)
class StepRoleAdmin(AuditedAdmin):
    list_display = ("key", "title_en", "department_key", "escalates_to")


class StepTemplateInline(AuditedTabularInline):
    model = StepTemplate
    extra = 0
    fields = ("position", "key", "title_en", "title_zh", "kind", "role", "working_days")
    ordering = ("position",)


class MeasureInline(AuditedTabularInline):
    model = Measure
    extra = 0
    fields = ("code", "title_en", "provenance", "lead_department", "target_months")
    readonly_fields = fields
    show_change_link = True
    can_delete = False


@admin.register(Aspect)
class AspectAdmin(AuditedAdmin):
    list_display = ("code", "title_en", "title_zh", "provenance_note")
    inlines = [MeasureInline]

    @admin.display(description="Provenance")
    def provenance_note(self, obj):
        return PROVENANCE_LABELS.get(obj.provenance, obj.provenance)


@admin.register(Measure)
class MeasureAdmin(AuditedAdmin):
    list_display = (
        "code",
        "title_en",
        "aspect",
        "lead_department",
        "supervising_leader",
        "target_months",
        "provenance_note",
    )
    list_filter = ("provenance", "aspect", "lead_department")
    search_fields = ("code", "title_en", "title_zh")
    filter_horizontal = ("partner_departments",)
    list_select_related = ("aspect", "lead_department", "supervising_leader")
    readonly_fields = ("provenance_note", "basis_quote")
    inlines = [StepTemplateInline]
    fieldsets = (
        (None, {"fields": ("code", "aspect", "position", "title_en", "title_zh", "summary_en")}),
        ("Provenance", {"fields": ("provenance", "provenance_note", "basis_quote", "actions")}),
        (
            "Organisation",
            {
                "fields": (
                    "lead_department",
                    "partner_departments",
                    "supervising_leader",
                    "applies_to_levels",
                    "target_months",
                )
            },
        ),
    )

    @admin.display(description="Provenance")
    def provenance_note(self, obj):
        return PROVENANCE_LABELS.get(obj.provenance, obj.provenance)

    @admin.display(description="Source excerpt (machine translation, verbatim)")
    def basis_quote(self, obj):
        return format_html("<blockquote>{}</blockquote>", obj.basis)


@admin.register(CatalogueSource)
class CatalogueSourceAdmin(CatalogueWorkbookAdminMixin, AuditedAdmin):
    list_display = ("plan_title_en", "issuer", "issued_on", "loaded_at", "plan_sha256")
    readonly_fields = [f.name for f in CatalogueSource._meta.fields]

    def has_add_permission(self, request):
        return False
