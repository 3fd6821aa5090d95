"""Forms of the knowledge pages: search (with filters) and upload (a file plus what it is)."""

from __future__ import annotations

from django import forms

from .core.documents import SUPPORTED_SUFFIXES
from .core.retrieval import METHODS

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


class SearchForm(forms.Form):
    q = forms.CharField(label="Query", max_length=500, required=False)
    year_from = forms.IntegerField(label="From year", required=False, min_value=1900, max_value=2100)
    year_to = forms.IntegerField(label="To year", required=False, min_value=1900, max_value=2100)
    kind = forms.ChoiceField(
        label="Part", required=False,
        choices=[("", "any"), ("abstract", "abstracts"), ("fulltext", "full text"), ("code", "code")],
    )
    method = forms.ChoiceField(label="Method", required=False, choices=[(m, m) for m in METHODS], initial="hybrid")
    paper_id = forms.CharField(label="Within paper", max_length=120, required=False,
                               widget=forms.TextInput(attrs={"placeholder": "paper id", "size": 12}))
    one_per_paper = forms.BooleanField(label="one passage per paper", required=False)
    external = forms.BooleanField(label="also search arXiv and Semantic Scholar", required=False)


class UploadForm(forms.Form):
    file = forms.FileField(help_text="PDF, Markdown, text or Python (" + ", ".join(sorted(SUPPORTED_SUFFIXES)) + ")")
    title = forms.CharField(max_length=500, required=False, help_text="Leave empty to take it from the file.")
    authors = forms.CharField(max_length=1000, required=False, help_text="Separated by semicolons.")
    year = forms.IntegerField(required=False, min_value=1900, max_value=2100)
    venue = forms.CharField(max_length=300, required=False)
    arxiv_id = forms.CharField(label="arXiv id", max_length=40, required=False)
    s2id = forms.CharField(label="Semantic Scholar id", max_length=64, required=False)
    paper_id = forms.SlugField(
        label="Paper id", max_length=120, required=False,
        help_text="Optional. Use a library paper's id (e.g. mamba) to attach this file to that paper.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        suffix = "." + upload.name.rsplit(".", 1)[-1].lower() if "." in upload.name else ""
        if suffix not in SUPPORTED_SUFFIXES:
            raise forms.ValidationError(f"Cannot read {suffix or 'this file'}; use one of {', '.join(sorted(SUPPORTED_SUFFIXES))}.")
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError("Files over 50 MB are not accepted.")
        return upload
