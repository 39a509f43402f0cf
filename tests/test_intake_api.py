"""The intake actions over the JSON API, with bearer tokens."""

from __future__ import annotations

import pytest

from ivr.api.tokens import create_token


@pytest.fixture
def bearer(store):
    def make(name: str = "records") -> dict:
        return {"Authorization": f"Bearer {create_token(store.redis, name)}"}

    return make


def test_api_reads_claims_and_records_like_the_pages(client, bearer, request_callback):
    ref = request_callback()
    records, other = bearer("records"), bearer("other-system")
    got = client.get(f"/api/v1/callbacks/{ref}", headers=records).get_json()["callback"]
    assert (got["reference"], got["status"], got["phone"]) == (ref, "queued", "+447700900123")
    claimed = client.post(f"/api/v1/callbacks/{ref}/claim", headers=records).get_json()
    assert claimed["callback"]["claimed_by"] == "api:records"
    refused = client.post(f"/api/v1/callbacks/{ref}/claim", headers=other)
    assert refused.status_code == 409
    assert refused.get_json()["claimed_by"] == "api:records"
    done = client.post(
        f"/api/v1/callbacks/{ref}/outcome",
        headers=records,
        json={"outcome": "reached_declined", "note": "not now"},
    ).get_json()["callback"]
    assert (done["status"], done["close_reason"], done["attempts"]) == (
        "closed",
        "reached_declined",
        1,
    )
    assert done["attempts_list"][0]["note"] == "not now"
    actions = [e["action"] for e in done["audit"]]
    assert actions == ["viewed", "claimed", "outcome"]
    assert done["audit"][0]["who"] == "api:records"


def test_api_release(client, bearer, request_callback):
    ref = request_callback()
    records = bearer()
    client.post(f"/api/v1/callbacks/{ref}/claim", headers=records)
    released = client.post(f"/api/v1/callbacks/{ref}/release", headers=records)
    assert released.get_json()["callback"]["status"] == "queued"
    again = client.post(f"/api/v1/callbacks/{ref}/release", headers=records)
    assert (
        again.status_code == 409 and again.get_json()["message"] == "This request is not claimed."
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"outcome": "maybe"}, "Choose an outcome"),
        ({"outcome": ["no_answer"]}, "must be strings"),
        ({"outcome": "no_answer", "note": 5}, "must be strings"),
        ({"outcome": "no_answer", "note": "x" * 2001}, "at most 2,000"),
    ],
)
def test_api_bad_outcomes_get_clear_400s(client, bearer, request_callback, body, message):
    ref = request_callback()
    records = bearer()
    client.post(f"/api/v1/callbacks/{ref}/claim", headers=records)
    response = client.post(f"/api/v1/callbacks/{ref}/outcome", headers=records, json=body)
    assert response.status_code == 400
    assert message in response.get_json()["message"]


def test_api_refusals(client, bearer, request_callback):
    ref = request_callback()
    records = bearer()
    assert client.post(f"/api/v1/callbacks/{ref}/claim").status_code == 401
    missing = client.get("/api/v1/callbacks/999999", headers=records)
    assert missing.status_code == 404 and missing.is_json
    assert client.get("/api/v1/callbacks/junk", headers=records).status_code == 404
    unclaimed = client.post(
        f"/api/v1/callbacks/{ref}/outcome", headers=records, json={"outcome": "no_answer"}
    )
    assert unclaimed.status_code == 409 and "Claim this request" in unclaimed.get_json()["message"]
    junk = client.post(
        f"/api/v1/callbacks/{ref}/outcome",
        headers={**records, "Content-Type": "application/json"},
        data="{not json",
    )
    assert junk.status_code == 400 and junk.is_json
