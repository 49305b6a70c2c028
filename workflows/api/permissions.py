"""API permission classes. Kept apart from the views because settings name them: DRF imports
them while `rest_framework.views` is still loading, so this module imports no DRF views."""

from rest_framework import permissions

from workflows.common import reach as access


class AuditorsReadOnly(permissions.BasePermission):
    """Auditors may read; every write method is refused before the view runs. A default
    permission class in settings, so endpoints added later are covered too."""

    message = "Auditors have read-only access."

    def has_permission(self, request, view) -> bool:
        # A view may declare that its writes change no case data (asking for a report).
        return (
            request.method in permissions.SAFE_METHODS
            or not access.is_auditor(request.user)
            or getattr(view, "auditors_may_post", False)
        )


class AuditorsAndCoordinators(permissions.BasePermission):
    """Only the people who watch a federation's programme: auditors and coordinators (each
    reads what lies within their own federation and below it)."""

    message = "Only auditors and coordinators can read the audit trail."

    def has_permission(self, request, view) -> bool:
        return access.reads_logs(request.user)
