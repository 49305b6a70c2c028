"""The admin's audit rules, which every admin class in the app follows: each add, change and
delete lands on the audit trail with the changed fields (secrets named, never copied), and
auditors get a view-only admin.
"""

from django.contrib import admin
from django.db import models, transaction

from workflows.audit.trail import audit_record
from workflows.common import reach as access

# Deadline admin lives in its own module; importing it registers its classes.


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


class ReadOnlyAdmin(AuditedAdmin):
    """A record, not a form: it is written by the services only (auditors may view it)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def audited(admin_class: type[admin.ModelAdmin]) -> type[AuditedAdmin]:
    """The same admin class with the audit and auditor rules (for other apps' admins)."""
    return type(admin_class.__name__, (AuditedAdmin, admin_class), {"__module__": __name__})
