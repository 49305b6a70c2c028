"""URL wiring only: pages come from workflows.site, the API from workflows.api_urls."""

from django.contrib import admin
from django.urls import include, path

from workflows.site import site
from workflows.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/", include("workflows.api_urls")),
    path("", site.urls),
]

# URLs under /api/ that match no route (e.g. /api/v1/tasks/abc/) answer JSON like the API.
handler404 = "workflows.views.page_not_found"
# A query parameter a bound refused (e.g. ?until=9999-12-31) names its field on the 400 page.
handler400 = "workflows.views.bad_request"
