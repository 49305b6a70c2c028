from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "workflows"
    verbose_name = "Reformflow"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Logins, logouts and failed logins go on the audit trail.
        from workflows import receivers  # noqa: F401
