"""The designer settings page for someone who may not change them: visibly read-only, with the reason
at the top of the form (it was at the bottom, under fields that looked editable); an admin gets an
editable form and no such notice."""

from __future__ import annotations

import pytest

pytest_plugins = ["web_fixtures"]

pytestmark = pytest.mark.django_db

URL = "/designer/settings/"


def _form(html: str) -> str:
    return html.split('id="designer-settings"')[1].split("</form>")[0]


def test_a_researcher_sees_the_reason_first_and_no_field_to_change(client_for, researcher):
    html = client_for(researcher).get(URL).content.decode()
    assert 'class="card section settings-form readonly"' in html
    form = _form(html)
    reason = form.index('id="readonly-reason"')
    first_field = min(form.index(tag) for tag in ("<input type=\"text\"", "<select") if tag in form)
    assert reason < first_field  # the reason comes before any field
    assert "signed in as a <b>researcher</b>" in form and "needs the admin role" in form
    assert 'aria-describedby="readonly-reason"' in html
    fields = form.count("<select") + form.count('<input type="text"') + form.count('<input type="number"')
    assert fields > 0 and form.count(" disabled") >= fields  # every field disabled
    assert 'type="submit"' not in form


def test_an_admin_gets_an_editable_form_without_the_notice(client_for, admin_user):
    html = client_for(admin_user).get(URL).content.decode()
    form = _form(html)
    assert "readonly-reason" not in form and " disabled" not in form and 'type="submit"' in form


def test_a_researcher_cannot_save_anyway(client_for, researcher):
    response = client_for(researcher).post(URL, {"max_proposal_attempts": "3"})
    assert response.status_code == 403
