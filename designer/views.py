"""The designer settings page: models per role, providers, limits and budget.

Everyone who may read the site sees the settings and whether each provider's key is set (never the
key); changing them needs the `designer.change_designersettings` permission.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import redirect, render

from designer.core.config import ROLES
from designer.core.prompts import PromptSet, available_versions
from designer.forms import LIMIT_FIELDS, PROVIDER_FIELDS, DesignerSettingsForm
from designer.services import active_settings, provider_status
from genesys_site.permissions import can, require, viewer_required

CHANGE = "designer.change_designersettings"


@viewer_required
def settings_page(request):
    settings = active_settings()
    may_edit = can(request.user, CHANGE)
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        require(request.user, CHANGE)
        form = DesignerSettingsForm(request.POST, instance=settings)
        if form.is_valid():
            saved = form.save(commit=False)
            saved.updated_by = request.user
            saved.save()
            messages.success(request, "Designer settings saved.")
            return redirect("designer:settings")
    else:
        form = DesignerSettingsForm(instance=settings)
    if not may_edit:
        for field in form.fields.values():
            field.disabled = True
    config = settings.to_config()
    ready, why = config.llm_ready()
    context = {
        "form": form,
        "settings": settings,
        "may_edit": may_edit,
        "role_rows": [(role, form[f"{role}_model"], form[f"{role}_provider"]) for role in ROLES],
        "provider_fields": [form[f] for f in PROVIDER_FIELDS],
        "limit_fields": [form[f] for f in LIMIT_FIELDS],
        "providers": provider_status(settings),
        "llm_ready": ready,
        "llm_why": why,
        "prompt_versions": [PromptSet(v) for v in available_versions()],
    }
    return render(request, "designer/settings.html", context)


@viewer_required
def prompts_page(request, version: str):
    """The templates of one prompt version, as the agents receive them (placeholders unfilled)."""
    if version not in available_versions():
        raise Http404(f"no prompt version {version!r}")
    prompts = PromptSet(version)
    return render(request, "designer/prompts.html", {"prompts": prompts, "templates": sorted(prompts.templates.items())})
