"""URL wiring only: pages come from workflows.web.site, the API from workflows.api.urls."""

from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from workflows.web.calendar_feed import calendar_feed
from workflows.web.site import site
from workflows.web.system import healthz, set_language

# The product's name in the admin, not "Django administration".
admin.site.site_header = _("Reformflow administration")
admin.site.site_title = _("Reformflow")
admin.site.index_title = _("Catalogue, organisation and accounts")

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    # Django's language switch, which also keeps the choice on the profile.
    path("i18n/setlang/", set_language, name="set_language"),
    path("api/", include("workflows.api.urls")),
    # A person's private calendar feed: the token in the address is the only key.
    path("calendar/<str:token>.ics", calendar_feed, name="calendar_feed"),
    path("", site.urls),
]

# URLs under /api/ that match no route (e.g. /api/v1/tasks/abc/) answer JSON like the API.
handler404 = "workflows.web.system.page_not_found"
# A query parameter a bound refused (e.g. ?until=9999-12-31) names its field on the 400 page.
handler400 = "workflows.web.system.bad_request"
# A refusal keeps the side menu for signed-in people.
handler403 = "workflows.web.system.permission_denied"
