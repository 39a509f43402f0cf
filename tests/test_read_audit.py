"""Every read of personal data is audited, bulk API reads included (issue 11, finding 3): one
audit entry per request, naming every request it returned."""

from __future__ import annotations

from ivr.api.tokens import create_token


def three_requests(phone):
    for n in range(3):
        call = phone(from_number=f"+4477009008{n}1")
        for key in "3113":
            call.press(key)
        call.hang_up()


def test_a_bulk_api_read_is_one_audit_entry_listing_the_refs(client, phone, redis_client, store):
    three_requests(phone)
    token = create_token(redis_client, "records-system")
    before = redis_client.xlen("ivr:audit")
    page = client.get(
        "/api/v1/callbacks?limit=200", headers={"Authorization": f"Bearer {token}"}
    ).get_json()
    refs = {cb["reference"] for cb in page["callbacks"]}
    assert len(refs) == 3 and all(cb["phone"] for cb in page["callbacks"])
    assert redis_client.xlen("ivr:audit") == before + 1
    ((_, entry),) = redis_client.xrevrange("ivr:audit", count=1)
    assert entry["who"] == "api:records-system" and entry["action"] == "listed"
    assert set(entry["refs"].split(",")) == refs


def test_a_one_by_one_api_read_is_audited_on_the_request(client, phone, redis_client, store):
    three_requests(phone)
    token = create_token(redis_client, "records-system")
    ref = store.list_callbacks(None, None, 1)[0][0]["id"]
    client.get(f"/api/v1/callbacks/{ref}", headers={"Authorization": f"Bearer {token}"})
    trail = [f for _, f in redis_client.xrange(f"ivr:callback:{ref}:audit")]
    assert [(f["who"], f["action"]) for f in trail] == [("api:records-system", "viewed")]
