"""The reading side of the pages: times name their zone, blockers name requests (linked), a
suspended release says why, lists sort and search through their one FilterSet (page, API and
audit export alike), and a release's full history covers its children."""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from compliance import services
from compliance.audit.log import release_history_records
from compliance.errors import (
    ALLOWLIST_EMPTY,
    BLOCKER_KINDS,
    REQUEST_IN_FORCE,
    Blocker,
    RuleViolation,
    request_blocker,
)
from compliance.timefmt import show_time
from tests.api_support import client_for
from tests.factories import PartnerFactory, make_release

MOMENT = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)


def render(source: str, **context) -> str:
    return Template("{% load clearance %}" + source).render(Context(context))


# --- every time names its zone -------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "style", "expected"),
    [
        ("America/New_York", "", "20 Nov 2026, 18:00 EST"),
        ("America/New_York", "seconds", "20 Nov 2026, 18:00:00 EST"),
        ("America/New_York", "time", "18:00 EST"),
        ("Europe/Berlin", "day", "Sat 21 Nov 2026, 00:00 CET"),
        ("UTC", "", "20 Nov 2026, 23:00 UTC"),
        # A zone the database abbreviates only as an offset ("+04") is named by its IANA key.
        ("Asia/Dubai", "", "21 Nov 2026, 03:00 Asia/Dubai"),
    ],
)
def test_when_shows_the_active_zone(zone, style, expected):
    with timezone.override(zoneinfo.ZoneInfo(zone)):
        assert render("{{ t|when:style }}", t=MOMENT, style=style) == expected
        assert show_time(MOMENT.isoformat(), style) == expected  # audit items carry strings


def test_when_of_nothing_is_empty_and_a_date_has_no_zone():
    assert render("{{ t|when }}", t=None) == ""
    assert show_time(MOMENT.date()) == "20 Nov 2026"


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (1562588, "18 days 2 h 3 min (1,562,588 s)"),
        (1143, "19 min (1,143 s)"),
        (86400 + 120, "1 day 2 min (86,520 s)"),
        (7200, "2 h (7,200 s)"),
        (59, "59 s"),
        (0, "0 s"),
    ],
)
def test_an_interval_reads_in_words_and_keeps_its_exact_seconds(seconds, expected):
    assert render("{{ s|elapsed }}", s=seconds) == expected


def test_an_interval_of_nothing_is_empty():
    assert render("{{ s|elapsed }}", s=None) == ""


def test_no_template_formats_a_time_without_the_zone():
    """Times in templates/ go through |when: a |date format with a time of day and nothing
    that names the zone (T, e, O, c, r, U) shows a bare time."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "templates"
    bare = []
    for path in root.rglob("*.*"):
        for match in re.finditer(r"\|date:\"([^\"]*)\"", path.read_text()):
            fmt = match.group(1)
            if re.search(r"[HhGgisAaP]", fmt) and not re.search(r"[TeOcrU]", fmt):
                bare.append(f"{path.name}: {match.group(0)}")
    assert bare == []


# --- blockers in words ---------------------------------------------------------------------


@pytest.fixture
def held(agencies, staff):
    """A release in review held by a binding DOC postponement."""
    release = services.submit_release(make_release(staff, agencies=agencies), actor=staff)
    request = services.record_request(
        actor=staff,
        agency=agencies[1],
        reference="BIS-20261118-LR",
        kind="postpone_release",
        binding=True,
        releases=[release],
    )
    return release, request


def test_a_request_blocker_names_agency_and_reference_and_keeps_its_json(held):
    _release, request = held
    item = request_blocker(REQUEST_IN_FORCE, request)
    assert item.message == "DOC request BIS-20261118-LR is in force."
    assert item.as_dict() == {"kind": "request_in_force", "request": request.pk}
    # Without its words (e.g. rebuilt from JSON) it still reads, by id.
    assert Blocker(REQUEST_IN_FORCE, {"request": 7}).message == "Government request #7 is in force."
    link = reverse("web:request", args=[request.pk])
    assert render("{{ b|blocker_html }}", b=item) == (
        f'<a href="{link}">DOC request BIS-20261118-LR</a> is in force.'
    )


@pytest.mark.parametrize("kind", BLOCKER_KINDS)
def test_every_blocker_reads_as_a_sentence(kind):
    """A 409's detail puts the messages one after another: each must end its sentence."""
    assert Blocker(kind).message.endswith(".")


def test_a_refusal_with_several_blockers_reads_as_sentences():
    refusal = RuleViolation([Blocker(ALLOWLIST_EMPTY), Blocker(REQUEST_IN_FORCE, {"request": 7})])
    assert refusal.detail == (
        "No partner is approved on the allowlist. Government request #7 is in force."
    )
    assert refusal.as_dict()["blockers"] == [
        {"kind": "allowlist_empty"},
        {"kind": "request_in_force", "request": 7},
    ]


def test_release_page_links_the_request_that_holds_it_and_the_409_names_it(client, held, staff):
    release, request = held
    client.force_login(staff)
    html = client.get(reverse("web:release", args=[release.slug])).content.decode()
    link = f'<a href="{reverse("web:request", args=[request.pk])}">DOC request BIS-20261118-LR</a>'
    gates = re.findall(r'data-testid="gate-(\w+)".*?</div>', html, re.S)
    assert gates == ["limited", "general"]
    assert html.count(f"<li>{link} is in force.</li>") == 2  # it holds both stages
    with pytest.raises(RuleViolation) as refused:
        services.transition_release(release, to="general", actor=staff, reason="go")
    assert "DOC request BIS-20261118-LR is in force." in refused.value.detail
    assert {"kind": "request_in_force", "request": request.pk} in refused.value.as_dict()[
        "blockers"
    ]


def test_suspended_release_says_why_and_what_stands_in_the_way(client, held, staff):
    release, request = held
    services.transition_release(
        release, to="suspended", actor=staff, reason="Pulled under the DOC letter"
    )
    client.force_login(staff)
    html = client.get(reverse("web:release", args=[release.slug])).content.decode()
    reason = re.search(r'data-testid="state-reason">(.*?)</p>', html, re.S).group(1)
    assert "Suspended" in reason and "by sam: Pulled under the DOC letter" in reason
    assert re.search(r"since \d+ \w+ \d{4}, \d\d:\d\d UTC", reason)
    steps = re.search(r'data-testid="next-steps">(.*?)</section>', html, re.S).group(1)
    items = re.findall(r"<li>(.*?)</li>", steps)
    assert items == [
        "Suspended: Pulled under the DOC letter",
        f'<a href="/requests/{request.pk}/">DOC request BIS-20261118-LR</a> is in force.',
        "Submit it again for review: round 2 starts afresh.",
    ]


def test_draft_release_says_it_needs_submitting(client, agencies, staff):
    release = make_release(staff, agencies=agencies, slug="draft-1")
    client.force_login(staff)
    html = client.get(reverse("web:release", args=[release.slug])).content.decode()
    steps = re.search(r'data-testid="next-steps">(.*?)</section>', html, re.S).group(1)
    assert re.findall(r"<li>(.*?)</li>", steps) == [
        "It is a draft: submit it for review to open round 1."
    ]


# --- sorting and search: one FilterSet for the page and the API ----------------------------


@pytest.fixture
def releases(agencies, staff):
    made = [
        make_release(staff, agencies=agencies, slug=slug, name=name)
        for slug, name in [("beta", "Beta"), ("alpha", "Alpha"), ("gamma", "Gamma Mini")]
    ]
    return made


def _page_slugs(response) -> list[str]:
    return re.findall(r'<small class="muted mono">([a-z-]+)</small>', response.content.decode())


def test_releases_sort_and_search_on_the_page_and_the_api(client, releases, staff):
    client.force_login(staff)
    url = reverse("web:releases")
    assert _page_slugs(client.get(url, {"o": "-name"})) == ["gamma", "beta", "alpha"]
    assert _page_slugs(client.get(url, {"o": "name", "q": "a"})) == ["alpha", "beta", "gamma"]
    assert _page_slugs(client.get(url, {"q": "mini"})) == ["gamma"]
    html = client.get(url, {"o": "name"}).content.decode()
    # The header sorts: ascending now, so its link sorts descending; aria-sort says so.
    assert '<th scope="col" aria-sort="ascending"><a class="sort" href="?o=-name">' in html
    bad = client.get(url, {"o": "password"})
    assert bad.status_code == 400 and _page_slugs(bad) == []

    api = client_for(staff)
    body = api.get("/api/v1/releases/", {"o": "-name"}).json()
    assert [r["slug"] for r in body["results"]] == ["gamma", "beta", "alpha"]
    assert [r["slug"] for r in api.get("/api/v1/releases/", {"q": "mini"}).json()["results"]] == [
        "gamma"
    ]
    refused = api.get("/api/v1/releases/", {"o": "password"})
    assert refused.status_code == 400 and "o" in refused.json()
    for bad_text in ("a\x00b", "x" * 201):  # PostgreSQL cannot compare a NUL; over the limit
        assert api.get("/api/v1/requests/", {"q": bad_text}).status_code == 400


def test_release_target_dates_filter_with_typed_date_inputs(client, agencies, staff):
    make_release(staff, agencies=agencies, slug="early", target_date="2026-12-01")
    make_release(staff, agencies=agencies, slug="late", target_date="2027-03-01")
    client.force_login(staff)
    response = client.get(reverse("web:releases"), {"target_after": "2027-01-01"})
    assert _page_slugs(response) == ["late"]
    html = response.content.decode()
    assert 'type="date" name="target_after"' in html and "YYYY-MM-DD." in html
    assert client.get(reverse("web:releases"), {"target_after": "1 Jan"}).status_code == 400


def test_requests_search_and_sort_page_and_api(client, agencies, staff, releases):
    for code, ref in [(agencies[1], "BIS-2"), (agencies[3], "OSTP-1"), (agencies[1], "BIS-1")]:
        services.record_request(actor=staff, agency=code, reference=ref, kind="information_request")
    client.force_login(staff)
    html = client.get(reverse("web:requests"), {"q": "bis", "o": "reference"}).content.decode()
    assert re.findall(r"<strong>(\w+ [\w-]+)</strong></a>", html) == ["DOC BIS-1", "DOC BIS-2"]
    api = client_for(staff).get("/api/v1/requests/", {"q": "ostp", "o": "-received_at"}).json()
    assert [r["reference"] for r in api["results"]] == ["OSTP-1"]


def test_partners_and_allowlist_search(client, agencies, staff, admin_user):
    release = make_release(staff, agencies=agencies)
    for name in ("Acme Labs", "Zenith Bio", "Acme Health"):
        services.propose_allowlist_entry(
            release, actor=staff, partner=PartnerFactory(name=name, country="US")
        )
    api = client_for(admin_user)
    names = [
        p["name"]
        for p in api.get("/api/v1/partners/", {"q": "acme", "o": "-name"}).json()["results"]
    ]
    assert names == ["Acme Labs", "Acme Health"]
    client.force_login(staff)
    html = client.get(reverse("web:allowlist"), {"q": "zenith"}).content.decode()
    table = html.split('data-testid="allowlist-table"')[1].split("</table>")[0]
    assert "Zenith Bio" in table and "Acme" not in table


def test_reminder_dates_are_typed_inputs_with_a_format_hint(client, auditor):
    client.force_login(auditor)
    html = client.get(reverse("web:reminders")).content.decode()
    assert 'type="datetime-local" name="since"' in html
    assert "ISO 8601 (YYYY-MM-DDTHH:MM); without an offset, in your time zone." in html


# --- the audit log: full history of a release, sorted and searched --------------------------


@pytest.fixture
def history(agencies, staff, admin_user):
    release = services.submit_release(make_release(staff, agencies=agencies), actor=staff)
    services.propose_allowlist_entry(release, actor=staff, partner=PartnerFactory(name="Acme"))
    services.record_request(
        actor=staff,
        agency=agencies[0],
        reference="CAISI-7",
        kind="information_request",
        releases=[release],
    )
    other = make_release(staff, agencies=agencies, slug="unrelated")
    return release, other


def test_full_history_covers_signoffs_entries_and_requests(client, history, auditor):
    release, other = history
    client.force_login(auditor)
    html = client.get(reverse("web:audit"), {"release": release.slug}).content.decode()
    models = set(re.findall(r'<a href="\?model=(\w+)&amp;object_id=', html))
    assert models == {"release", "signoff", "allowlistentry", "governmentrequest"}
    seqs = [int(s) for s in re.findall(r'data-seq="(\d+)"', html)]
    assert sorted(seqs, reverse=True) == seqs
    assert set(seqs) == set(release_history_records(release).values_list("seq", flat=True))
    assert "unrelated" not in html.split('data-testid="audit-table"')[1]
    api = client_for(auditor).get("/api/v1/audit/", {"release": release.slug}).json()
    assert {r["id"] for r in api["results"]} == set(seqs)


def test_audit_sorts_oldest_first_and_searches_on_the_page_and_the_api(client, history, auditor):
    release, _other = history
    client.force_login(auditor)
    html = client.get(reverse("web:audit"), {"o": "at"}).content.decode()
    seqs = [int(s) for s in re.findall(r'data-seq="(\d+)"', html)]
    assert seqs == sorted(seqs) and seqs[0] == 1
    found = client.get(reverse("web:audit"), {"q": "caisi-7"}).content.decode()
    rows = re.findall(r'data-testid="audit-row"', found)
    assert rows and all("CAISI-7" in r for r in found.split('data-testid="audit-row"')[1:])

    api = client_for(auditor)
    first = api.get("/api/v1/audit/", {"o": "at", "page_size": 3}).json()
    assert [r["id"] for r in first["results"]] == [1, 2, 3]
    assert first["previous"] is None
    second = api.get(first["next"]).json()
    assert [r["id"] for r in second["results"]] == [4, 5, 6]
    back = api.get(second["previous"]).json()
    assert [r["id"] for r in back["results"]] == [1, 2, 3]
    newest = api.get("/api/v1/audit/", {"page_size": 3}).json()
    assert newest["count"] == first["count"]
    assert [r["id"] for r in newest["results"]] == sorted(
        (r["id"] for r in newest["results"]), reverse=True
    )
    searched = api.get("/api/v1/audit/", {"q": "CAISI-7"}).json()
    assert searched["count"] >= 1
    assert all("CAISI-7" in (r["object_repr"] + r["reason"]) for r in searched["results"]), (
        searched["results"]
    )
