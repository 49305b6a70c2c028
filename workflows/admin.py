"""The app's admin, as Django's autodiscovery finds it: each package registers its own admin
classes (importing them here registers them), then every admin class of the apps installed
before this one gets the same audit and auditor rules (workflows.audit.admin).
"""

from django.contrib import admin

from workflows.audit.admin import AuditedAdmin, audited
from workflows.catalogue import admin as catalogue_admin  # noqa: F401 - registers its classes
from workflows.deadlines import admin as deadlines_admin  # noqa: F401 - registers its classes
from workflows.models import Profile
from workflows.notifications.channels import admin as channels_admin  # noqa: F401 - registers
from workflows.organisations import admin as organisations_admin  # noqa: F401 - registers
from workflows.reports import admin as reports_admin  # noqa: F401 - registers
from workflows.supervision import admin as supervision_admin  # noqa: F401 - registers

admin.site.register(Profile, AuditedAdmin)

# Admin classes of the apps installed before this one (auth's users and groups, DRF's tokens,
# viewflow's processes and tasks) get the same audit and auditor rules. Users and groups are
# who holds which role, so their changes matter as much as the catalogue's.
for _model, _model_admin in list(admin.site._registry.items()):
    if not isinstance(_model_admin, AuditedAdmin):
        admin.site.unregister(_model)
        admin.site.register(_model, audited(type(_model_admin)))
        if _model._meta.label == "authtoken.TokenProxy":
            # API tokens are credentials, not audit evidence.
            admin.site._registry[_model].auditors_may_view = False
