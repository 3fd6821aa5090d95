"""API routes under /api/."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from evolution.api import exports, runs, views

router = DefaultRouter()
router.register("designs", views.DesignViewSet, basename="design")
router.register("units", views.UnitViewSet, basename="unit")
router.register("verifications", views.VerificationViewSet, basename="verification")
router.register("annotations", views.AnnotationViewSet, basename="annotation")
router.register("decisions", views.DecisionViewSet, basename="decision")
router.register("events", views.EventViewSet, basename="event")
router.register("uploads", views.UploadViewSet, basename="upload")

urlpatterns = [
    path("lineage/", views.LineageView.as_view(), name="api-lineage"),
    path("runs/", runs.RunListView.as_view(), name="api-runs"),
    path("runs/<int:pk>/analytics/", runs.RunAnalyticsView.as_view(), name="api-run-analytics"),
    path("designs/<slug:slug>/rungs/<str:rung>/download/<str:kind>/", exports.VerificationDownloadView.as_view(),
         name="api-verification-download"),
    path("", include(router.urls)),
]
