"""Admin for the catalogue and the organisation; provenance is shown beside every measure.

Every admin class is an `AuditedAdmin`: each add, change and delete lands on the audit trail
with the changed fields, and auditors get a view-only admin.
"""

from django.contrib import admin
from django.db import models, transaction
from django.utils.html import format_html

from . import access
from .admin_catalogue import CatalogueWorkbookAdminMixin
from .audit import audit_record
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

# Values never copied into the trail (the field is named as changed, its value is not).
_SECRET_FIELD_WORDS = ("password", "secret", "token", "key")


def _plain(value):
    """A JSON-friendly form of a form value: objects by primary key, sets as sorted key lists."""
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, models.QuerySet | list | tuple | set):
        return sorted((_plain(v) for v in value), key=str)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _is_secret(name: str) -> bool:
    return any(word in name.lower() for word in _SECRET_FIELD_WORDS)


def _field_changes(form, *, add: bool) -> dict:
    """{field: {"from": old, "to": new}} for the model fields the form changed."""
    model_fields = {f.name for f in form._meta.model._meta.get_fields()}
    changes = {}
    for name in form.changed_data:
        if name not in model_fields:
            continue  # e.g. password1/password2 on the user creation form
        if _is_secret(name):
            changes[name] = {"from": "[redacted]", "to": "[redacted]"}
            continue
        old = None if add else _plain(form.initial.get(name))
        changes[name] = {"from": old, "to": _plain(form.cleaned_data.get(name))}
    return changes


class AuditedAdmin(admin.ModelAdmin):
    """Base for every admin class: audits add/change/delete and keeps auditors view-only.

    Subclass it for a new admin class (`class XAdmin(AuditedAdmin)`), or mix it in front of a
    third-party one (`class X(AuditedAdmin, UserAdmin)`); tests/test_audit_admin.py fails for
    any registered admin class that is not one.
    """

    # Auditors see every model read-only, except those that hold credentials.
    auditors_may_view = True

    # --- auditors: view only

    def has_add_permission(self, request, *args, **kwargs):
        return not access.is_auditor(request.user) and super().has_add_permission(
            request, *args, **kwargs
        )

    def has_change_permission(self, request, obj=None):
        return not access.is_auditor(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not access.is_auditor(request.user) and super().has_delete_permission(request, obj)

    def has_view_permission(self, request, obj=None):
        if access.is_auditor(request.user):
            return self.auditors_may_view and request.user.is_staff
        return super().has_view_permission(request, obj)

    def has_module_permission(self, request):
        if access.is_auditor(request.user):
            return self.auditors_may_view and request.user.is_staff
        return super().has_module_permission(request)

    # --- the audit trail. Django calls log_addition/log_change inside the transaction that
    # saved the object and its inlines; `message` lists the inline rows added/changed/deleted.

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # Read back in log_addition/log_change; kept on the object, never on the shared admin.
        obj._audit_field_changes = _field_changes(form, add=not change)

    def log_addition(self, request, obj, message):
        entry = super().log_addition(request, obj, message)
        self._audit(request, "admin_added", obj, message=message)
        return entry

    def log_change(self, request, obj, message):
        entry = super().log_change(request, obj, message)
        self._audit(request, "admin_changed", obj, message=message)
        return entry

    def delete_model(self, request, obj):
        with transaction.atomic():
            self._audit(request, "admin_deleted", obj)
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        # The "delete selected" action runs outside any transaction: open one here.
        with transaction.atomic():
            for obj in queryset:
                self._audit(request, "admin_deleted", obj)
            super().delete_queryset(request, queryset)

    def _audit(self, request, verb: str, obj, *, message=None) -> None:
        data = {
            "model": obj._meta.label_lower,
            "object_id": str(obj.pk),
            "object": str(obj)[:200],
        }
        if verb != "admin_deleted":
            data["fields"] = getattr(obj, "_audit_field_changes", {})
            data["message"] = message or []
        audit_record(verb=verb, actor=request.user, data=data)


class AuditorsViewOnlyInline:
    """Inline rows follow their parent: auditors see them and never add, change or delete."""

    def has_add_permission(self, request, obj=None):
        return not access.is_auditor(request.user) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not access.is_auditor(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not access.is_auditor(request.user) and super().has_delete_permission(request, obj)

    def has_view_permission(self, request, obj=None):
        if access.is_auditor(request.user):
            return request.user.is_staff
        return super().has_view_permission(request, obj)


class AuditedTabularInline(AuditorsViewOnlyInline, admin.TabularInline):
    pass


class AuditedStackedInline(AuditorsViewOnlyInline, admin.StackedInline):
    pass


PROVENANCE_LABELS = {
    "article-text": "From the article's text",
    "article-goal": "Placeholder derived from the article's goals (not the plan's own aspect)",
}


@admin.register(OrganisationLevel)
class OrganisationLevelAdmin(AuditedAdmin):
    list_display = ("key", "title_en", "title_zh", "rank")


@admin.register(Organisation)
class OrganisationAdmin(AuditedAdmin):
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
class DepartmentAdmin(AuditedAdmin):
    list_display = ("key", "title_en", "title_zh", "organisation", "head", "name_check")
    list_filter = ("organisation", "name_check")
    search_fields = ("key", "title_en", "title_zh")
    filter_horizontal = ("staff",)
    list_select_related = ("organisation", "head")
    raw_id_fields = ("head",)


@admin.register(LeaderRole)
class LeaderRoleAdmin(AuditedAdmin):
    list_display = ("key", "title_en", "person_name", "holder", "reports_to", "assignment")
    list_filter = ("organisation", "assignment")
    filter_horizontal = ("supervises",)
    list_select_related = ("holder", "reports_to")
    raw_id_fields = ("holder",)


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


# Deadline admin lives in its own module; importing it registers its classes.
from . import admin_deadlines, admin_report_schedules, admin_supervision  # noqa: E402, F401
from .channels import admin as channels_admin  # noqa: E402, F401

admin.site.register(Profile, AuditedAdmin)


def _audited(admin_class: type[admin.ModelAdmin]) -> type[AuditedAdmin]:
    return type(admin_class.__name__, (AuditedAdmin, admin_class), {"__module__": __name__})


# Admin classes of the apps installed before this one (auth's users and groups, DRF's tokens,
# viewflow's processes and tasks) get the same audit and auditor rules. Users and groups are
# who holds which role, so their changes matter as much as the catalogue's.
for _model, _model_admin in list(admin.site._registry.items()):
    if not isinstance(_model_admin, AuditedAdmin):
        admin.site.unregister(_model)
        admin.site.register(_model, _audited(type(_model_admin)))
        if _model._meta.label == "authtoken.TokenProxy":
            # API tokens are credentials, not audit evidence.
            admin.site._registry[_model].auditors_may_view = False
