"""The designer pages: settings (models per role, providers, budget) and the prompt templates."""

from django.urls import path

from designer import views

app_name = "designer"

urlpatterns = [
    path("settings/", views.settings_page, name="settings"),
    path("prompts/<str:version>/", views.prompts_page, name="prompts"),
]
