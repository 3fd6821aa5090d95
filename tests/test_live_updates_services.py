"""What the live pages are told and show, through the real services and database: a design's summary
names it as stored, event lines say what happened (an upload's verdict with its reason) without
cutting a word, a running verification's progress keeps its phase and start, and the leaderboard's
rows carry what its live script needs."""

from __future__ import annotations

import random

import pytest

from designer.core.gp_designer import gp_design
from evolution.demo import fake_report
from evolution.models import Design, Event, Job, Verification
from evolution.selectors.dashboard import describe, running_verifications
from evolution.services import jobs, work
from evolution.services.designs import create_design_from_result
from evolution.services.events import record_event
from evolution.services.intake import rejection_reason
from evolution.services.runs import ensure_active_run
from evolution.services.verifications import record_report, start_verification
from verifier.core.seeds import load_seed

pytest_plugins = ["web_fixtures"]

pytestmark = pytest.mark.django_db


# ---- the summary names the design as stored ---------------------------------------------------------

def test_a_gp_design_whose_name_is_taken_is_summarised_by_its_stored_name(seeds):
    gpt = next(d for d in seeds if d.name == "gpt")
    first = gp_design([load_seed("gpt")], "mutation", rng=random.Random(3), check=False)
    again = gp_design([load_seed("gpt")], "mutation", rng=random.Random(3), check=False)
    assert first.name == again.name and first.proposal["title"] == first.name  # the GP designer's title
    one = create_design_from_result(first, [gpt])
    two = create_design_from_result(again, [gpt])
    assert two.name == f"{one.name}-2"
    for design in (one, two):
        design.refresh_from_db()
        assert design.summary == design.name and design.proposal["title"] == design.name
        assert design.tree["name"] == design.name
    assert two.tree_hash == one.tree_hash  # the name is not part of what runs


def test_a_written_summary_is_kept_when_the_name_changes(seeds):
    gpt = next(d for d in seeds if d.name == "gpt")
    result = gp_design([load_seed("gpt")], "mutation", rng=random.Random(4), check=False)
    result.proposal["title"] = "Swap the attention for RWKV6's"
    create_design_from_result(result, [gpt])
    again = gp_design([load_seed("gpt")], "mutation", rng=random.Random(4), check=False)
    again.proposal["title"] = "Swap the attention for RWKV6's"
    design = create_design_from_result(again, [gpt])
    assert design.name.endswith("-2") and design.summary == "Swap the attention for RWKV6's"


# ---- event lines -------------------------------------------------------------------------------------

def test_an_upload_verdict_says_why(researcher):
    report = {"passed": False, "findings": [
        {"category": "causality", "severity": "error", "unit": "MHA", "line": 12, "message": "output at t reads t+1"},
        {"category": "style", "severity": "warning", "unit": None, "line": None, "message": "long line"},
        {"category": "shape", "severity": "error", "unit": None, "line": None, "message": "wrong output shape"},
    ]}
    reason = rejection_reason(report)
    assert reason == "the checker found 2 errors: output at t reads t+1 (MHA, line 12); wrong output shape"
    event = record_event("upload.checked", {"upload": 1, "name": "leaky", "status": "rejected", "reason": reason})
    assert describe(event) == f"upload leaky rejected by the checker: {reason}"
    old_kind = record_event("upload.rejected", {"upload": 2, "name": "x", "error": "the design is not valid"})
    assert describe(old_kind) == "upload x rejected by the checker: the design is not valid"
    assert describe(record_event("upload.checking", {"upload": 3, "name": "y"})) == "upload y is being checked"
    assert rejection_reason({"passed": False, "findings": []}) == "the checker did not pass the design"
    many = {"findings": [{"severity": "error", "message": f"e{i}"} for i in range(5)]}
    assert rejection_reason(many).endswith("e0; e1; e2; and 2 more")


def test_long_event_lines_end_on_a_word():
    reason = "the worker stopped heartbeating while training " + "supercalifragilistic " * 20
    line = describe(record_event("job.failed", {"job": 7, "kind": "verify", "reason": reason}))
    assert line.endswith("supercalifragilistic…") and len(line) < len(reason)
    text = describe(record_event("annotation.created", {"text": "word " * 100}))
    assert text.endswith("word…")


# ---- a running verification's progress ----------------------------------------------------------------

def test_progress_keeps_the_phase_and_the_start_and_drops_what_is_not_progress(checked):
    run = ensure_active_run()
    verification = Verification.objects.create(design=checked, rung="micro", rung_index=0, run=run)
    job = jobs.create_job(run, Job.Kind.VERIFY, design=checked, verification=verification)
    Job.objects.filter(id=job.id).update(status="running")
    start_verification(verification)
    follower = work._Follower(job, verification)
    follower.on_progress({"event": "phase", "phase": "train", "message": "100 steps of 8 x 64 tokens on cpu"})
    follower.on_progress({"event": "step", "step": 1, "total_steps": 100})  # within 2 s: throttled
    follower.on_progress({"event": "phase", "phase": "eval", "message": "lm-eval on piqa_local"})
    follower.on_progress("garbage")
    follower.last_event = 0.0
    follower.on_progress({"event": "eval", "done": 3, "total": 10, "tasks": {"piqa_local": [3, 10]}, "rm": "-rf"})
    events = list(Event.objects.filter(kind="verification.progress").order_by("id"))
    assert [e.payload["phase"] for e in events] == ["train", "eval", "eval"]
    last = events[-1].payload
    assert last["tasks"] == {"piqa_local": [3, 10]} and (last["done"], last["total"]) == (3, 10) and "rm" not in last
    assert last["started_at"] == verification.started_at.isoformat()
    assert last["phase_since"] == events[1].payload["phase_since"] != events[0].payload["phase_since"]
    [row] = running_verifications(checked.id)
    assert row["progress"]["phase"] == "eval" and row["started_at"] == verification.started_at


def test_the_design_page_shows_a_running_verification_ticking_and_its_eval_progress(checked, viewer, client_for):
    run = ensure_active_run()
    verification = Verification.objects.create(design=checked, rung="micro", rung_index=0, run=run)
    job = jobs.create_job(run, Job.Kind.VERIFY, design=checked, verification=verification)
    Job.objects.filter(id=job.id).update(status="running")
    start_verification(verification)
    jobs.heartbeat(job, {"phase": "eval", "done": 40, "total": 160, "message": "scoring piqa 40/100",
                         "tasks": {"piqa_local": [40, 100], "arc_easy_local": [0, 60]}})
    html = client_for(viewer).get(checked.get_absolute_url()).content.decode()
    box = html.split('class="live-progress"')[1].split('<table class="data"')[0]
    assert 'data-field="phase-name"' in box and ">eval</span>" in box and 'data-phase="eval"' in box
    assert f'data-since="{verification.started_at.isoformat()}"' in box and 'data-field="elapsed"' in box
    assert 'style="width: 25%"' in box and ">40 / 160<" in box
    assert '<span class="mono">piqa_local</span> 40/100' in box and "arc_easy_local</span> 0/60" in box
    table = html.split('id="verification-table"')[1].split("</table>")[0]
    assert "so far" in table and "0 s</td>" not in table  # the time column ticks instead of saying 0 s


def test_leaderboard_rows_name_their_design_for_the_live_script(history, viewer, client_for):
    done = Verification.objects.filter(status="done", rung="14M").select_related("design").first()
    assert done is not None
    html = client_for(viewer).get("/leaderboard/?rung=14M").content.decode()
    assert f'<tr data-design="{done.design_id}"' in html and 'id="live-status"' in html
    assert 'src="/static/js/leaderboard.js"' in html and 'data-url="/leaderboard/"' in html
    partial = client_for(viewer).get("/leaderboard/?rung=14M", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and f'data-design="{done.design_id}"' in partial


def test_a_finished_verification_changes_the_board_the_script_reads(history, viewer, client_for):
    design = Design.objects.filter(status="checked", generation__gt=0).order_by("id").first()
    client = client_for(viewer)
    before = client.get("/leaderboard/?rung=14M", HTTP_HX_REQUEST="true").content.decode()
    assert f'data-design="{design.id}"' not in before
    verification = Verification.objects.create(design=design, rung="14M", rung_index=2)
    record_report(verification, fake_report("14M", 0.6, random.Random(1), design_hash=design.tree_hash))
    after = client.get("/leaderboard/?rung=14M", HTTP_HX_REQUEST="true").content.decode()
    rows = [chunk.split('"')[0] for chunk in after.split('<tr data-design="')[1:]]
    assert str(design.id) in rows and len(rows) == before.count('<tr data-design="') + 1
    by_design = dict(Verification.objects.filter(rung="14M", status="done").values_list("design_id", "fitness"))
    shown = [by_design[int(r)] for r in rows]
    assert shown == sorted(shown, reverse=True)  # best first, the new one in its place
    assert Event.objects.filter(kind="verification.done", design=design).exists()
