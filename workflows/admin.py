"""Admin for the catalogue and the organisation; provenance is shown beside every measure."""

from django.contrib import admin
from django.utils.html import format_html

from .models import (
    Aspect,
    CatalogueSource,
    Department,
    LeaderRole,
    Measure,
    Organisation,
    OrganisationLevel,
    Profile,
    StepRole,
    StepTemplate,
)
from .organisations import organisation_roles_copy

PROVENANCE_LABELS = {
    "article-text": "From the article's text",
    "article-goal": "Placeholder derived from the article's goals (not the plan's own aspect)",
}


@admin.register(OrganisationLevel)
class OrganisationLevelAdmin(admin.ModelAdmin):
    list_display = ("key", "title_en", "title_zh", "rank")


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ("code", "title_en", "title_zh", "level", "parent")
    list_filter = ("level",)
    search_fields = ("code", "title_en", "title_zh")
    list_select_related = ("level", "parent")
    raw_id_fields = ("parent",)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change and obj.parent_id is not None:
            # A federation added by hand maps onto the national roles, like an imported one.
            organisation_roles_copy(organisation=obj)


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("key", "title_en", "title_zh", "organisation", "head", "name_check")
    list_filter = ("organisation", "name_check")
    search_fields = ("key", "title_en", "title_zh")
    filter_horizontal = ("staff",)
    list_select_related = ("organisation", "head")
    raw_id_fields = ("head",)


@admin.register(LeaderRole)
class LeaderRoleAdmin(admin.ModelAdmin):
    list_display = ("key", "title_en", "person_name", "holder", "reports_to", "assignment")
    list_filter = ("organisation", "assignment")
    filter_horizontal = ("supervises",)
    list_select_related = ("holder", "reports_to")
    raw_id_fields = ("holder",)


@admin.register(StepRole)
class StepRoleAdmin(admin.ModelAdmin):
    list_display = ("key", "title_en", "department_key", "escalates_to")


class StepTemplateInline(admin.TabularInline):
    model = StepTemplate
    extra = 0
    fields = ("position", "key", "title_en", "title_zh", "kind", "role", "working_days")
    ordering = ("position",)


class MeasureInline(admin.TabularInline):
    model = Measure
    extra = 0
    fields = ("code", "title_en", "provenance", "lead_department", "target_months")
    readonly_fields = fields
    show_change_link = True
    can_delete = False


@admin.register(Aspect)
class AspectAdmin(admin.ModelAdmin):
    list_display = ("code", "title_en", "title_zh", "provenance_note")
    inlines = [MeasureInline]

    @admin.display(description="Provenance")
    def provenance_note(self, obj):
        return PROVENANCE_LABELS.get(obj.provenance, obj.provenance)


@admin.register(Measure)
class MeasureAdmin(admin.ModelAdmin):
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
class CatalogueSourceAdmin(admin.ModelAdmin):
    list_display = ("plan_title_en", "issuer", "issued_on", "loaded_at", "plan_sha256")
    readonly_fields = [f.name for f in CatalogueSource._meta.fields]

    def has_add_permission(self, request):
        return False


admin.site.register(Profile)

# Deadline admin lives in its own module; importing it registers its classes.
from . import admin_deadlines  # noqa: E402, F401
