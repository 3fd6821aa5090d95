"""Pages, mounted by the site at /knowledge/."""

from django.urls import path

from . import views

app_name = "knowledge"

urlpatterns = [
    path("", views.search, name="search"),
    path("papers/", views.paper_list, name="papers"),
    path("papers/<str:paper_id>/", views.paper_detail, name="paper"),
    path("chunks/<str:chunk_id>/", views.chunk_detail, name="chunk"),
    path("upload/", views.upload, name="upload"),
    path("jobs/<int:job_id>/", views.job_detail, name="job"),
    path("designs/", views.design_references, name="design_references"),
]
