"""API, mounted by the site at /api/knowledge/."""

from django.urls import path

from . import api

app_name = "knowledge-api"

urlpatterns = [
    path("search/", api.SearchAPI.as_view(), name="search"),
    path("references/", api.ReferencesAPI.as_view(), name="references"),
    path("papers/", api.PaperListAPI.as_view(), name="papers"),
    path("papers/<str:paper_id>/", api.PaperDetailAPI.as_view(), name="paper"),
    path("chunks/<str:chunk_id>/", api.ChunkAPI.as_view(), name="chunk"),
    path("ingest/", api.IngestAPI.as_view(), name="ingest"),
    path("jobs/<int:job_id>/", api.IngestJobAPI.as_view(), name="job"),
    path("external/", api.ExternalSearchAPI.as_view(), name="external"),
]
