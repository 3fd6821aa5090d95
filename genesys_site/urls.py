"""Top-level URLs: each app owns its own urls.py; the API schema and Swagger page live here."""

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from genesys_site.permissions import SiteReadPermission

urlpatterns = [
    path("admin/", admin.site.urls),
    # Browsers and crawlers ask for /favicon.ico whatever the page links to.
    path("favicon.ico", RedirectView.as_view(url=static("favicon.ico"), permanent=True)),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[SiteReadPermission]), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema", permission_classes=[SiteReadPermission]),
         name="api-docs"),
    path("designer/", include("designer.urls")),
    path("knowledge/", include("knowledge.urls")),
    path("api/knowledge/", include("knowledge.api_urls")),
    path("api/", include("evolution.api.urls")),
    path("", include("evolution.urls")),
]

handler404 = "genesys_site.errors.not_found"
