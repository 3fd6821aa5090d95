"""Seeding a design by upload: read without running, checked in the sandbox before it enters the
tree; a failure shows the checker's findings to its author and creates no node."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from evolution.core.intake import IntakeError, read_design
from evolution.models import CheckRun, Design, Upload
from verifier.core.gau.composer import compose
from verifier.core.seeds import SEEDS_DIR, load_seed

pytest_plugins = ["evolution.testing"]

pytestmark = pytest.mark.django_db

def gpt_variant(name: str = "gpt-wide-rope", causal: bool = True) -> dict:
    tree = load_seed("gpt")
    tree.name = name
    mha = tree.units["MHA"]
    mha.code = mha.code.replace("is_causal=True", f"is_causal={causal}") + "\n# uploaded variant\n"
    return tree.to_dict()


def zip_of_gpt(edit: str = "# zipped variant\n", folder: str = "gptz") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted((SEEDS_DIR / "gpt").glob("*.py")):
            text = path.read_text() + (edit if path.stem == "GatedMLP" else "")
            archive.writestr(f"{folder}/{path.name}", text)
    return buffer.getvalue()


# ---- reading (no checker involved) -----------------------------------------------------------------

def test_read_design_json_and_zip():
    tree, kind = read_design("d.json", json.dumps(gpt_variant()).encode())
    assert kind == "json" and tree.name == "gpt-wide-rope" and tree.root == "GPT2"
    tree, kind = read_design("units.zip", zip_of_gpt())
    assert kind == "zip" and tree.name == "gptz" and set(tree.units) == set(load_seed("gpt").units)


@pytest.mark.parametrize("filename, data, message", [
    ("d.json", b"{not json", "not valid JSON"),
    ("d.json", b'{"name": "x", "root": "A", "units": {}}', "root unit 'A' is not implemented"),
    ("d.zip", b"PK\x03\x04garbage", "zip"),
    ("d.txt", b"hello", "cannot read"),
    ("empty.json", b"   ", "empty"),
])
def test_unreadable_uploads_say_why(filename, data, message):
    with pytest.raises(IntakeError, match=message):
        read_design(filename, data)


def test_zip_with_units_in_two_folders_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a/GPT2.py", (SEEDS_DIR / "gpt" / "GPT2.py").read_text())
        archive.writestr("b/MHA.py", (SEEDS_DIR / "gpt" / "MHA.py").read_text())
    with pytest.raises(IntakeError, match="one folder"):
        read_design("x.zip", buffer.getvalue())


def test_zip_paths_cannot_escape(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted((SEEDS_DIR / "gpt").glob("*.py")):
            archive.writestr(f"../../{path.name}", path.read_text())
    tree, _ = read_design("x.zip", buffer.getvalue())
    assert tree.root == "GPT2"  # read from a private temporary folder, by base name only


def test_read_single_file_gab():
    tree, kind = read_design("gab.py", compose(load_seed("gpt")).encode())
    assert kind == "gab" and tree.units


# ---- the page ----------------------------------------------------------------------------------------

def test_unreadable_upload_is_kept_for_its_author(client_for, researcher):
    response = client_for(researcher).post(reverse("evolution:seed"), {"text": "{broken", "name": "x"}, follow=True)
    upload = Upload.objects.get()
    assert upload.status == "unreadable" and upload.author == researcher
    assert "not valid JSON" in response.content.decode() and not Design.objects.exists()


def test_identical_design_is_not_added_twice(client_for, researcher, seeds):
    gpt = load_seed("gpt").to_dict()
    response = client_for(researcher).post(reverse("evolution:seed"), {"text": json.dumps(gpt)}, follow=True)
    assert "identical to the design" in response.content.decode()
    assert Upload.objects.get().status == "duplicate" and Design.objects.count() == len(seeds)


def test_seed_form_needs_exactly_one_source(client_for, researcher):
    response = client_for(researcher).post(reverse("evolution:seed"), {})
    assert response.status_code == 400 and "upload a file or paste a design" in response.content.decode()


def test_anonymous_and_viewer_cannot_upload(client, client_for, viewer):
    data = {"text": json.dumps(gpt_variant())}
    assert client.post(reverse("evolution:seed"), data)["Location"].startswith("/accounts/login/")
    assert client_for(viewer).post(reverse("evolution:seed"), data).status_code == 403
    assert not Upload.objects.exists()


def test_zip_upload_that_passes_the_checker_enters_the_tree(client_for, researcher, seeds):
    upload = SimpleUploadedFile("gptz.zip", zip_of_gpt(), content_type="application/zip")
    response = client_for(researcher).post(reverse("evolution:seed"), {"file": upload, "name": "GPT zipped"})
    design = Design.objects.get(name="GPT zipped")
    assert response.status_code == 302 and response["Location"] == design.get_absolute_url()
    assert design.generation == 0 and design.is_seed and design.origin_kind == "upload"
    assert design.origin["uploader"] == "rita" and design.origin["format"] == "zip"
    check = CheckRun.objects.get(design=design)
    assert check.passed and check.report["stages"]
    assert Upload.objects.get().status == "accepted"


def test_upload_that_fails_the_checker_shows_findings_and_creates_no_node(client_for, researcher, roles, seeds):
    client = client_for(researcher)
    response = client.post(reverse("evolution:seed"), {"text": json.dumps(gpt_variant("leaky", causal=False))},
                           follow=True)
    upload = Upload.objects.get()
    page = response.content.decode()
    assert upload.status == "rejected" and not upload.check_run.passed
    assert not Design.objects.filter(name="leaky").exists()
    assert "Checker report" in page and "causal" in page.lower() and 'class="data findings"' in page
    from evolution.services.roles import ensure_user

    other = ensure_user("rob", "pw-pw-pw-9", "researcher")[0]
    assert client_for(other).get(reverse("evolution:upload", args=[upload.pk])).status_code == 404


def test_unreadable_pasted_text_comes_back_in_the_form(client_for, researcher):
    text = '{"root": "X", "units": {'
    response = client_for(researcher).post(reverse("evolution:seed"), {"text": text, "name": "half"})
    page = response.content.decode()
    assert response.status_code == 400 and "not valid JSON" in page
    assert "{&quot;root&quot;: &quot;X&quot;, &quot;units&quot;: {</textarea>" in page  # the text, as sent
    upload = Upload.objects.get()
    assert upload.status == "unreadable" and reverse("evolution:upload", args=[upload.pk]) in page


def test_a_rejected_upload_can_be_edited_and_checked_again(client_for, researcher, roles, seeds):
    client = client_for(researcher)
    client.post(reverse("evolution:seed"), {"text": json.dumps(gpt_variant("leaky", causal=False))})
    upload = Upload.objects.get()
    detail = client.get(reverse("evolution:upload", args=[upload.pk])).content.decode()
    again = f'{reverse("evolution:seed")}?from={upload.pk}'
    assert f'href="{again}"' in detail and "Edit and check again" in detail
    form = client.get(again).content.decode()
    assert "&quot;root&quot;" in form and 'value="leaky"' in form
    from evolution.services.roles import ensure_user

    other = client_for(ensure_user("rob", "pw-pw-pw-9", "researcher")[0])
    assert "&quot;root&quot;" not in other.get(again).content.decode()  # only the author's own uploads
