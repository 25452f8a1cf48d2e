"""compliance/filters.py: one FilterSet per list serves its page, its API list and its export,
and bad filter input is a 400 with the field's message (API) or a form error (page), never a
500 and never silently ignored (issue 13 defects 2, 4, 12; issue 14 item 1)."""

from __future__ import annotations

import pytest
from django.test import Client

from compliance import services
from tests.api_support import API, client_for, results
from tests.factories import PartnerFactory, make_release

NUL = "\x00"
FAR_OFFSET = "2958-08-20T03:16:26+16:05"  # Python takes it; PostgreSQL cannot store it
NEAR_OFFSET = "2958-08-20T03:16:26+15:59"


@pytest.fixture
def world(agencies, staff, admin_user):
    release = services.submit_release(make_release(staff, agencies=agencies), actor=staff)
    make_release(staff, slug="draft-1", agencies=agencies[:1])
    services.propose_allowlist_entry(release, actor=staff, partner=PartnerFactory(name="Acme"))
    services.record_request(
        actor=staff, agency=agencies[1], reference="DOC-1", kind="information_request"
    )
    services.record_request(
        actor=staff,
        agency=agencies[2],
        reference="ONCD-9",
        kind="postpone_release",
        binding=True,
        releases=[release],
        assignee=staff,
    )
    return release


def page(user, path: str) -> tuple[int, str]:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    response = client.get(path)
    return response.status_code, response.content.decode()


def api(user, path: str):
    client = client_for(user)
    client.raise_request_exception = False
    return client.get(f"{API}{path}")


# Every text filter of every API list (query parameter → the list).
TEXT_FILTERS = [
    ("/releases/", "owner"),
    ("/releases/", "agency"),
    ("/releases/", "q"),
    ("/signoffs/", "release"),
    ("/signoffs/", "agency"),
    ("/requests/", "agency"),
    ("/requests/", "release"),
    ("/requests/", "assignee"),
    ("/partners/", "name"),
    ("/partners/", "country"),
    ("/audit/", "user"),
    ("/audit/", "model"),
    ("/audit/export/?format=csv&", "user"),
    ("/reminders/", "recipient"),
    ("/releases/frontier-1/allowlist/", "status"),
]


@pytest.mark.parametrize(("path", "param"), TEXT_FILTERS)
def test_nul_in_an_api_filter_is_a_400_on_that_filter(world, admin_user, path, param):
    joiner = "" if path.endswith("&") else "?"
    response = api(admin_user, f"{path}{joiner}{param}=D%00C")
    assert response.status_code == 400
    assert list(response.json()) == [param]


def test_nul_in_the_audit_object_id_is_a_400(world, auditor):
    response = api(auditor, "/audit/?model=release&object_id=%00")
    assert response.status_code == 400
    assert response.json() == {"object_id": ["Null characters are not allowed."]}


@pytest.mark.parametrize(
    "path",
    [
        "/allowlist/?release=%00",
        "/requests/?agency=%00",
        "/requests/?release=%00",
        "/releases/?agency=%00",
        "/reminders/?recipient=%00",
        "/audit/?user=%00",
    ],
)
def test_nul_in_a_page_filter_is_a_form_error(world, admin_user, path):
    status, html = page(admin_user, path)
    assert status == 400
    assert 'class="field has-error"' in html


def test_allowlist_page_filter_error_names_the_field(world, admin_user):
    status, html = page(admin_user, "/allowlist/?release=%00")
    assert status == 400
    assert "Null characters are not allowed." in html
    assert 'data-testid="entry-acme"' not in html  # nothing listed under a bad filter


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"/reminders/?since={FAR_OFFSET}", "since"),
        (f"/reminders/?until={FAR_OFFSET}", "until"),
        (f"/audit/?since={FAR_OFFSET}", "since"),
        (f"/audit/?until={FAR_OFFSET}", "until"),
        (f"/audit/export/?format=jsonl&since={FAR_OFFSET}", "since"),
    ],
)
def test_an_offset_postgres_cannot_store_is_a_400(world, admin_user, path, field):
    response = api(admin_user, path.replace("+", "%2B"))
    assert response.status_code == 400
    assert response.json() == {field: ["The UTC offset must be between -15:59 and +15:59."]}


def test_an_offset_within_bounds_is_taken(world, admin_user):
    assert api(admin_user, f"/reminders/?since={NEAR_OFFSET.replace('+', '%2B')}").json() == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }
    # Unencoded, the "+" arrives as a space: still read as an offset.
    assert api(admin_user, f"/audit/?until={NEAR_OFFSET}").status_code == 200


@pytest.mark.parametrize("path", ["/reminders/", "/audit/"])
def test_an_offset_postgres_cannot_store_is_a_form_error_on_the_page(world, admin_user, path):
    status, html = page(admin_user, f"{path}?since={FAR_OFFSET.replace('+', '%2B')}")
    assert status == 400
    assert "The UTC offset must be between -15:59 and +15:59." in html


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/requests/", "binding"),
        ("/requests/", "in_force"),
        ("/agencies/", "active"),
        ("/releases/", "foreign_access_restricted"),
    ],
)
def test_an_invalid_boolean_filter_is_a_400(world, admin_user, path, param):
    response = api(admin_user, f"{path}?{param}=maybe")
    assert response.status_code == 400
    assert response.json() == {param: ["Must be true or false."]}


def test_boolean_filters_take_true_and_false(world, staff):
    refs = [r["reference"] for r in results(api(staff, "/requests/?binding=true"))]
    assert refs == ["ONCD-9"]
    refs = [r["reference"] for r in results(api(staff, "/requests/?binding=False"))]
    assert refs == ["DOC-1"]


def test_an_invalid_boolean_is_a_form_error_on_the_page(world, staff):
    status, html = page(staff, "/requests/?binding=maybe")
    assert status == 400
    assert "Must be true or false." in html
    assert "DOC-1" not in html and "ONCD-9" not in html


def test_filter_length_limits_are_in_the_schema_and_enforced(world, staff):
    schema = api(staff, "/schema/").json()
    for path in ("/releases/", "/signoffs/", "/requests/"):
        [agency] = [
            p
            for p in schema["paths"][f"/api/v1{path}"]["get"]["parameters"]
            if p["name"] == "agency"
        ]
        assert agency["schema"] == {
            "type": "string",
            "maxLength": 16,
            "pattern": "^[^\\u0000]{0,16}$",
        }, path
        assert api(staff, f"{path}?agency={'A' * 16}").status_code == 200
        response = api(staff, f"{path}?agency={'A' * 17}")
        assert response.status_code == 400
        assert response.json() == {
            "agency": ["Ensure this value has at most 16 characters (it has 17)."]
        }
    [user] = [
        p for p in schema["paths"]["/api/v1/audit/"]["get"]["parameters"] if p["name"] == "user"
    ]
    assert user["schema"] == {"type": "string", "maxLength": 150, "pattern": "^[^\\u0000]{0,150}$"}


# --- one FilterSet serves the page and the API -------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "",
        "agency=ONCD",
        "kind=information_request",
        "binding=true",
        "binding=no",
        "status=open",
        "release=frontier-1",
        "assignee=sam",
        "in_force=false",
        "agency=NOPE",
    ],
)
def test_the_requests_page_and_api_list_the_same_requests(world, staff, query):
    client = Client()
    client.force_login(staff)
    response = client.get(f"/requests/?{query}")
    assert response.status_code == 200
    shown = sorted(r.reference for r in response.context["requests"])
    assert shown == sorted(r["reference"] for r in results(api(staff, f"/requests/?{query}")))


@pytest.mark.parametrize(
    "query", ["", "status=in_review", "agency=CAISI", "owner=sam", "q=draft", "owner=nobody"]
)
def test_the_releases_page_and_api_list_the_same_releases(world, staff, query):
    client = Client()
    client.force_login(staff)
    response = client.get(f"/releases/?{query}")
    assert response.status_code == 200
    shown = [row["release"].slug for row in response.context["rows"]]
    assert shown == [r["slug"] for r in results(api(staff, f"/releases/?{query}"))]
    assert 'data-testid="release-filters"' in response.content.decode()


def test_the_allowlist_page_filters_by_release_and_status(world, staff):
    assert (
        page(staff, "/allowlist/?release=frontier-1&status=proposed")[1].count(
            'data-testid="entry-acme"'
        )
        == 1
    )
    assert 'data-testid="entry-acme"' not in page(staff, "/allowlist/?release=draft-1")[1]
    assert 'data-testid="entry-acme"' not in page(staff, "/allowlist/?status=approved")[1]
