"""Admin for the organisation: federation levels, federations, their departments and leader
roles.
"""

from django.contrib import admin

from workflows.audit.admin import AuditedAdmin
from workflows.models import (
    Department,
    LeaderRole,
    Organisation,
    OrganisationLevel,
)
from workflows.organisations.services import organisation_roles_copy

# Deadline admin lives in its own module; importing it registers its classes.


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
