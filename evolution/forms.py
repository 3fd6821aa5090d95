"""Forms for the researcher actions; they validate input, the services decide and write."""

from __future__ import annotations

from django import forms

from evolution.core.intake import MAX_UPLOAD_BYTES


class AnnotationForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "placeholder": "What do you notice?"}),
                           max_length=10_000)
    unit_name = forms.CharField(required=False, max_length=200)
    line = forms.IntegerField(required=False, min_value=1)


class ReasonForm(forms.Form):
    reason = forms.CharField(required=False, max_length=5_000, widget=forms.Textarea(attrs={"rows": 2}))


class VetoForm(forms.Form):
    reason = forms.CharField(max_length=5_000, widget=forms.Textarea(attrs={"rows": 2}),
                             error_messages={"required": "a veto needs a reason"})


class PromoteForm(forms.Form):
    rung = forms.CharField(required=False, max_length=16)


class ParentForm(forms.Form):
    co_parent = forms.CharField(required=False, max_length=200,
                                help_text="name of a second design for a crossover (leave empty for a mutation)")
    note = forms.CharField(required=False, max_length=2_000)


class SeedForm(forms.Form):
    file = forms.FileField(required=False, help_text="design .json, single-file GAB .py, or .zip of unit files")
    text = forms.CharField(required=False, strip=False, widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false"}),
                           help_text="or paste a design JSON or a GAB module")
    name = forms.CharField(required=False, max_length=200, help_text="name in the tree (default: the design's own)")
    # Sent again with edited text: the file name the text came from (it names the design and says
    # whether it is a GAB module or a JSON design).
    filename = forms.CharField(required=False, max_length=255, widget=forms.HiddenInput)

    def clean_text(self) -> str:
        """Browsers send a textarea's lines ending in CRLF; the text is kept as it was written (LF)."""
        return (self.cleaned_data.get("text") or "").replace("\r\n", "\n")

    def clean(self):
        data = super().clean()
        if bool(data.get("file")) == bool((data.get("text") or "").strip()):
            raise forms.ValidationError("upload a file or paste a design (one of the two)")
        upload = data.get("file")
        if upload is not None and upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(f"the file is larger than {MAX_UPLOAD_BYTES // 1024} KiB")
        return data
