from django.contrib import admin

from .models import Citation, IngestJob, Paper


class CitationInline(admin.TabularInline):
    model = Citation
    fk_name = "citing"
    raw_id_fields = ["cited"]
    extra = 0


@admin.register(Paper)
class PaperAdmin(admin.ModelAdmin):
    list_display = ["paper_id", "title", "year", "source"]
    list_filter = ["source", "year"]
    search_fields = ["paper_id", "title", "abstract"]
    inlines = [CitationInline]


@admin.register(IngestJob)
class IngestJobAdmin(admin.ModelAdmin):
    list_display = ["pk", "kind", "filename", "status", "created_at", "created_by"]
    list_filter = ["status", "kind"]
    readonly_fields = ["report", "error"]
