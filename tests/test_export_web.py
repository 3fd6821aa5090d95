"""Downloads of a verified rung on the design page and through the API: the Hugging Face model
(zip) and the reproducibility bundle, built from the real run folder of a real (one-step) verification,
without importing the design's code in the web process."""

from __future__ import annotations

import io
import shutil
import sys
import zipfile

import pytest

from evolution.models import Design, Event, Verification
from evolution.services.verifications import record_report
from evolution.services.work import run_dir
from verifier.core.export import read_bundle
from verifier.core.gau.tree import GAUTree
from verifier.core.seeds import load_seed
from verifier.core.train import VerificationReport, verify_design

pytest_plugins = ["web_fixtures"]

pytestmark = pytest.mark.django_db

SMALL = {"corpus": "corpora/tinyshakespeare", "show_bar": False, "skip_eval": True, "train_tokens": 512,
         "val_tokens": 256}


@pytest.fixture(scope="module")
def gpt_run(tmp_path_factory, genesys_data_dir):
    """One real one-step verification of the gpt seed, made once for the module."""
    out = tmp_path_factory.mktemp("gpt-run")
    report = verify_design(load_seed("gpt"), "test", out, genesys_data_dir,
                           cache_dir=str(tmp_path_factory.getbasetemp() / "genesys-cache"), **SMALL)
    assert report.status == "done", report.error
    return out


@pytest.fixture
def verified_gpt(seeds, settings, tmp_path, genesys_data_dir, gpt_run):
    """The gpt seed design with that verification stored, its run folder where the workers put it."""
    settings.VAR_DIR = tmp_path / "var"
    settings.GENESYS_DATA_DIR = str(genesys_data_dir)
    design = Design.objects.get(name="gpt")
    out = run_dir(design, "test")
    shutil.copytree(gpt_run, out)
    (out / "design.json").write_text(GAUTree.from_dict(design.tree).to_json())
    verification = Verification.objects.create(design=design, rung="test")
    record_report(verification, VerificationReport.read(out).to_dict())
    return design


def test_design_page_offers_both_downloads_for_a_finished_rung(verified_gpt, client_for, viewer):
    html = client_for(viewer).get(verified_gpt.get_absolute_url()).content.decode()
    assert f"/designs/{verified_gpt.slug}/rungs/test/download/hf/" in html
    assert f"/designs/{verified_gpt.slug}/rungs/test/download/bundle/" in html
    assert "/rungs/14M/download/" not in html  # nothing for a rung that was not verified


def test_hugging_face_zip_is_built_once_from_the_run_folder_without_running_the_design(verified_gpt, client_for,
                                                                                       viewer):
    client = client_for(viewer)
    url = f"/designs/{verified_gpt.slug}/rungs/test/download/hf/"
    before = {m for m in sys.modules if m.startswith("genesys_composed_")}
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment") and "gpt-test-hf.zip" in response["Content-Disposition"]
    names = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).namelist()
    top = "gpt-test/"
    for name in ("config.json", "modeling_genesys.py", "model.safetensors", "tokenizer.model",
                 "generation_config.json", "README.md"):
        assert top + name in names
    assert {m for m in sys.modules if m.startswith("genesys_composed_")} == before
    events = Event.objects.filter(kind="design.exported")
    assert events.count() == 1 and events.get().payload["kind"] == "hf"
    assert client.get(url).status_code == 200 and events.count() == 1  # served from the kept file


def test_api_serves_the_bundle_and_documents_the_endpoint(verified_gpt, api_client_for, viewer, tmp_path):
    client = api_client_for(viewer, token=True)
    response = client.get(f"/api/designs/{verified_gpt.slug}/rungs/test/download/bundle/")
    assert response.status_code == 200 and response["Content-Type"] == "application/gzip"
    path = tmp_path / "b.tar.gz"
    path.write_bytes(b"".join(response.streaming_content))
    bundle = read_bundle(path)
    assert (bundle.manifest["design_name"], bundle.manifest["rung"]) == ("gpt", "test")
    assert bundle.tree.content_hash() == GAUTree.from_dict(verified_gpt.tree).content_hash()
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    assert "verification_download" in schema and "/api/designs/{slug}/rungs/{rung}/download/{kind}/" in schema


def test_downloads_refuse_what_cannot_be_exported(verified_gpt, client_for, api_client_for, viewer):
    client = client_for(viewer)
    assert client.get(f"/designs/{verified_gpt.slug}/rungs/14M/download/hf/").status_code == 404
    assert client.get(f"/designs/{verified_gpt.slug}/rungs/test/download/pickle/").status_code == 404
    api = api_client_for(viewer, token=True)
    assert api.get(f"/api/designs/{verified_gpt.slug}/rungs/14M/download/hf/").status_code == 404
    other = Design.objects.get(name="mamba2")
    v = Verification.objects.create(design=other, rung="test")
    record_report(v, {"status": "done", "rung": "test", "eval": {}, "design_name": "mamba2", "design_hash": other.tree_hash})
    assert v.status == "done", v.error
    response = client.get(f"/designs/{other.slug}/rungs/test/download/bundle/")
    assert response.status_code == 404 and "not on this server" in response.content.decode()
