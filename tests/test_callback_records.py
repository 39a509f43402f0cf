"""A callback request's record in Redis (ivr/store/callbacks.py): what a caller's later answer may
change and what stays the intake team's; new references; a request as the records API reads it
back, old records included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import SCREENED_URGENT_KEYS

from ivr.api.tokens import create_token
from ivr.intake.queue import STATUSES
from ivr.intake.service import Intake
from ivr.line.hours import Hours
from ivr.store.keys import key
from tests.conftest import write_request

RISK_YES = ("2", "4", "4", "1")  # questions, PHQ-2 items, yes to thoughts of self-harm
# Then: go on, carry on, grief, episodes, sessions, callback on this number, no voicemail, mornings.
AFTER_RISK = ("1", "3", "3", "1", "1", "1", "1", "2", "1")


@pytest.fixture
def service(app, store):
    settings = app.config["SETTINGS"]
    return Intake(store, settings, Hours.from_settings(settings))


def api_get(client, store, ref: str) -> dict:
    headers = {"Authorization": f"Bearer {create_token(store.redis, 'records')}"}
    response = client.get(f"/api/v1/callbacks/{ref}", headers=headers)
    assert response.status_code == 200
    return response.get_json()["callback"]


def test_a_worker_claims_a_request_mid_call_and_the_callers_later_answers_leave_it_theirs(
    app, phone, store, service, redis_client
):
    """A caller at risk has an urgent request the moment they say so; a worker claims it while
    the caller is still answering. The caller's answers reach the request; its status, who has it
    and when it was made (what its target is counted from) stay as they were."""
    moment = [datetime(2026, 11, 26, 10, 0, tzinfo=UTC)]
    app.extensions["ivr.clock"] = lambda: moment[0]
    call = phone(from_number="+447700900231")
    for keys in RISK_YES:
        call.press(keys)
    [ref] = redis_client.zrange(key("callbacks_by_created"), 0, -1)
    made = store.callback(ref)
    assert made["caller_finished"] is False
    service.claim(ref, "nia")

    moment[0] += timedelta(minutes=4)
    for keys in AFTER_RISK:
        call.press(keys)
    assert "marked as urgent" in call.heard()

    after = store.callback(ref)
    assert after["caller_finished"] is True and after["preferred_time"] == "morning"
    assert after["status"] == "claimed" and after["claimed_by"] == "nia"
    assert after["created_at"] == made["created_at"]
    assert redis_client.zscore(key("callbacks_by_created"), ref) == made["created_at"]
    assert [
        s for s in STATUSES if redis_client.zscore(key("callbacks_by_status", status=s), ref)
    ] == ["claimed"]


def test_a_call_with_no_spare_reference_is_given_a_new_one_kept_for_it(store, redis_client):
    """The pool of spare references is empty (a process just started): Redis hands out a fresh
    six-digit reference, never used before, recorded as the call's."""
    sid = "CA" + "7" * 32
    redis_client.sadd(key("callback_refs"), "100000")
    ref = store.allocate_reference(sid)
    assert len(ref) == 6 and ref.isdigit() and not ref.startswith("0") and ref != "100000"
    assert redis_client.sismember(key("callback_refs"), ref)
    assert redis_client.get(key("callback_for_call", sid=sid)) == ref
    assert store.allocate_reference(sid) == ref


def test_new_references_are_six_digits_and_never_start_with_0():
    """A leading 0 is the journal's fallback range (ivr/outage/recovery.py): never given out."""
    from ivr.store.callbacks import CallbackRecords

    refs = {CallbackRecords.new_reference_candidate() for _ in range(3000)}
    assert all(len(r) == 6 and r.isdigit() and not r.startswith("0") for r in refs)


def test_with_every_reference_taken_allocation_gives_up_after_40_tries(store, redis_client):
    redis_client.sadd(key("callback_refs"), "123456")
    tried = []
    store.new_reference_candidate = lambda: tried.append(1) or "123456"
    with pytest.raises(RuntimeError, match="^no free callback reference after 40 tries$"):
        store.allocate_reference("CA" + "8" * 32)
    assert len(tried) == 40
    assert redis_client.get(key("callback_for_call", sid="CA" + "8" * 32)) is None


def test_the_api_gives_whole_numbers_as_numbers_and_old_requests_as_finished(
    client, store, service, request_callback, redis_client
):
    """Counts are whole numbers to a records system (`1`, not `1.0`); a request saved before the
    line could make one mid-call has no `caller_finished` and was finished by its caller."""
    ref = request_callback(keys=SCREENED_URGENT_KEYS)
    service.claim(ref, "nia")
    service.record_outcome(ref, "nia", "no_answer", "")
    got = api_get(client, store, ref)
    assert type(got["attempts"]) is int and got["attempts"] == 1
    assert type(got["phq2_total"]) is int and got["phq2_total"] == 5
    assert got["answers"]["risk"] == "yes"

    redis_client.hdel(key("callback", id=ref), "caller_finished")  # as the line wrote it before
    assert api_get(client, store, ref)["caller_finished"] is True


@pytest.mark.parametrize(
    ("done", "status"),
    [
        ([], "queued"),
        (["claim"], "claimed"),
        (["claim", "no_answer"], "scheduled"),
        (["claim", "reached_declined"], "closed"),
    ],
)
def test_a_no_to_the_safety_call_leaves_nothing_in_redis_naming_the_request(
    app, phone, store, service, redis_client, done, status
):
    """The request made at the risk answer is removed with every index that lists it, whatever a
    worker has done with it meanwhile, the caller's subject index included (the refusal is kept
    only as an event)."""
    call = phone(from_number="+447700900232")
    for keys in RISK_YES:
        call.press(keys)
    [ref] = redis_client.zrange(key("callbacks_by_created"), 0, -1)
    subject = key("subject_index", hash=app.extensions["ivr.keys"].phone_hash("+447700900232"))
    assert redis_client.hget(subject, "callback:" + ref) == "1"
    for action in done:
        if action == "claim":
            service.claim(ref, "nia")
        else:
            service.record_outcome(ref, "nia", action, "")
    assert redis_client.zscore(key("callbacks_by_status", status=status), ref) is not None
    call.heard()
    call.speak("no")
    assert "We will not call you unless you ask us to" in call.heard()
    assert not redis_client.exists(key("callback", id=ref))
    assert redis_client.zscore(key("callbacks_by_created"), ref) is None
    assert redis_client.zscore(key("callback_queue"), ref) is None
    assert [
        s for s in STATUSES if redis_client.zscore(key("callbacks_by_status", status=s), ref)
    ] == []
    assert redis_client.hget(subject, "callback:" + ref) is None


def test_a_request_made_at_the_risk_answer_is_its_calls_at_once(phone, redis_client):
    """The caller hangs up straight after the risk answer (the request is made there and then):
    the call still names its request (journal delivery and a retried step read it), as long
    as a reference is kept."""
    call = phone(from_number="+447700900233")
    for keys in RISK_YES:
        call.press(keys)
    call.hang_up()
    [ref] = redis_client.zrange(key("callbacks_by_created"), 0, -1)
    by_call = key("callback_for_call", sid=call.call_sid)
    assert redis_client.get(by_call) == ref
    assert 0 < redis_client.ttl(by_call) <= 86400 * 30


def write_requests(store, created: list[float]) -> list[str]:
    """Requests written as the line writes them, made at the given times; in that order."""
    refs = []
    for n, at in enumerate(created):
        ref = f"{200000 + n}"
        write_request(store, ref, at, n)
        refs.append(ref)
    return refs


def api_pages(client, store, limit: int, status: str = "") -> list[list[str]]:
    headers = {"Authorization": f"Bearer {create_token(store.redis, 'records')}"}
    pages, cursor = [], None
    while len(pages) < 20:  # a cursor that comes round again fails, not hangs
        url = f"/api/v1/callbacks?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url + (f"&status={status}" if status else ""), headers=headers).json
        pages.append([cb["reference"] for cb in page["callbacks"]])
        cursor = page["next_cursor"]
        if not cursor:
            return pages
    raise AssertionError(f"paging did not end: {pages}")


def test_the_api_pages_through_requests_made_in_the_same_second_each_once(client, store):
    """Two lines booking at the same moment give requests with one creation time: a page that
    ends between them carries on with the other, neither lost nor given twice."""
    t = 1_790_000_000.0
    refs = write_requests(store, [t, t + 1, t + 1, t + 1, t + 2, t + 2, t + 3])
    # Newest first; within one creation time, the higher reference first.
    newest_first = ["200006", "200005", "200004", "200003", "200002", "200001", "200000"]
    assert sorted(refs, reverse=True) == newest_first
    assert api_pages(client, store, 3) == [newest_first[:3], newest_first[3:6], newest_first[6:]]
    assert api_pages(client, store, 2, "queued") == [
        newest_first[:2],
        newest_first[2:4],
        newest_first[4:6],
        newest_first[6:],
    ]


def test_the_last_full_page_says_there_is_no_next_one(client, store):
    t = 1_790_000_000.0
    write_requests(store, [t + n for n in range(6)])
    assert [len(page) for page in api_pages(client, store, 3)] == [3, 3]


def test_a_repeat_call_from_someone_at_risk_brings_their_open_request_up_to_date(
    app, phone, store, redis_client
):
    """The same number rings again an hour later: its answers join the open urgent request (the
    latest answer wins: no voicemail this time), counted as a repeat call at its own time; the
    request keeps its creation time, and nothing internal is stored on it."""
    moment = [datetime(2026, 11, 26, 10, 0, tzinfo=UTC)]
    app.extensions["ivr.clock"] = lambda: moment[0]
    first = phone(from_number="+447700900233")
    for keys in (*RISK_YES, "1", "2", "1", "1", "3"):  # go on, book: this number, voicemail OK
        first.press(keys)
    first.hang_up()
    [ref] = redis_client.zrange(key("callback_queue"), 0, -1)
    made = store.callback(ref)
    assert made["voicemail_ok"] is True

    moment[0] += timedelta(hours=1)
    again = phone(from_number="+447700900233")
    for keys in (*RISK_YES, "1", "2", "1", "2", "3"):  # the same, but no voicemail
        again.press(keys)
    again.hang_up()
    assert redis_client.zrange(key("callback_queue"), 0, -1) == [ref]
    request = store.callback(ref)
    assert request["urgent"] is True and request["repeat_calls"] == 1
    assert request["voicemail_ok"] is False
    assert float(request["last_repeat_at"]) == moment[0].timestamp()
    assert request["created_at"] == made["created_at"]
    assert redis_client.zscore(key("callbacks_by_created"), ref) == made["created_at"]
    stored = redis_client.hgetall(key("callback", id=ref))
    assert not {"merged", "is_update"} & set(stored)
