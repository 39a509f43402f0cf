"""Journal delivery (ivr/outage/recovery.py), record by record: what lands in Redis, what the
operator's log says, and what happens when another worker writes at the same moment."""

from __future__ import annotations

import logging
import threading
import time

import redis

from ivr.outage.journal import Journal
from ivr.outage.recovery import FOR_CALL_TTL, Deliverer, deliver_record
from ivr.store.crypto import DataKeys
from ivr.store.keys import key
from ivr.store.redis_store import Store
from tests.conftest import new_request
from tests.counting_proxy import CountingProxy
from tests.hooked_pipelines import HookedPipelines
from tests.test_sentinel_failover import data_node, free_port, wait_for


def journalled(n: int, ref: str, **fields) -> dict:
    """A journal record as ivr/line/degraded.py writes it, for the call made from `n`."""
    callback = new_request(ref, time.time() - 60, n, **fields)
    return {"callback": callback, "events": [], "log": {}}


class WriteBetweenReadAndCommit(HookedPipelines):
    """The store's Redis client, with another worker's write landing after delivery's reads
    and before its MULTI (once): the moment WATCH is there for."""

    def __init__(self, client, write):
        super().__init__(client)
        self.write = write

    def multi(self, real):
        if self.write:
            self.write(self.client)
            self.write = None
        return real.multi()


def other_worker_delivers_meanwhile(store, monkeypatch, other: dict) -> WriteBetweenReadAndCommit:
    """The store's client swapped for one where `other` is delivered by another worker at the
    moment between this delivery's reads and its write."""

    def deliver(client):
        monkeypatch.setattr(store, "redis", client)
        assert deliver_record(store, other) == "delivered"
        monkeypatch.setattr(store, "redis", racing)

    racing = WriteBetweenReadAndCommit(store.redis, deliver)
    monkeypatch.setattr(store, "redis", racing)
    return racing


def queue(store) -> list[str]:
    return store.redis.zrange(key("callback_queue"), 0, -1)


def test_a_journalled_update_of_a_request_redis_lost_is_queued_as_a_new_one(app, store):
    """The request was made before a failover that lost it; the caller's later answer was
    journalled as an update. Delivered, it is a whole request in the queue, listed as queued."""
    record = journalled(1, "234567", is_update=True, urgent=True)
    assert deliver_record(store, record) == "delivered"
    assert queue(store) == ["234567"]
    assert store.redis.zscore(key("callbacks_by_status", status="queued"), "234567") is not None
    assert store.callback("234567")["status"] == "queued"


def test_the_calls_own_request_is_remembered_for_thirty_days_not_for_ever(app, store):
    deliver_record(store, journalled(1, "234567"))
    ttl = store.redis.ttl(key("callback_for_call", sid=f"CA{1:032d}"))
    assert FOR_CALL_TTL - 60 < ttl <= FOR_CALL_TTL


def test_an_update_under_the_heard_reference_keeps_the_requests_own_reference(app, store):
    deliver_record(store, journalled(1, "012345"))
    deliver_record(store, journalled(2, "012345"))  # a clash: a new reference for call 2
    [new] = [ref for ref in queue(store) if ref != "012345"]
    update = journalled(2, "012345", is_update=True, preferred_time="evening")
    assert deliver_record(store, update) == "updated"
    assert store.callback(new)["reference"] == new
    assert store.callback(new)["preferred_time"] == "evening"


def test_the_operators_log_names_a_clash_and_a_call_that_already_has_a_request(app, store, caplog):
    """docs/operations.md lists these lines to alert on; an ordinary repeat delivery is quiet."""
    caplog.set_level(logging.INFO, logger="ivr.outage.recovery")
    deliver_record(store, journalled(1, "012345"))
    deliver_record(store, journalled(1, "012345"))  # the same record again: nothing to say
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    deliver_record(store, journalled(2, "012345"))
    deliver_record(store, journalled(1, "054321"))  # call 1 has a request under another reference
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "journal reference clashed; the request got a new reference",
        "a journalled request's call already has one in Redis",
    ]


def test_two_workers_delivering_one_calls_request_at_once_make_one_request(app, store, monkeypatch):
    """Two workers journalled one call's request (a Twilio retry), under different references
    (one from its pool, one derived): the other worker delivers its copy between this one's
    look and its write. The call still has one request."""
    other_worker_delivers_meanwhile(store, monkeypatch, journalled(1, "345678"))
    assert deliver_record(store, journalled(1, "234567")) == "already_delivered"
    assert queue(store) == ["345678"]


def test_a_reference_taken_by_another_call_meanwhile_is_not_overwritten(app, store, monkeypatch):
    """Between this delivery's look and its write, another worker delivers a different call's
    request under the same (derived) reference: neither request is overwritten."""
    racing = other_worker_delivers_meanwhile(store, monkeypatch, journalled(2, "012345"))
    assert deliver_record(store, journalled(1, "012345")) == "delivered"
    monkeypatch.setattr(store, "redis", racing.client)
    assert store.callback("012345")["call_sid"] == f"CA{2:032d}"
    [mine] = [ref for ref in queue(store) if ref != "012345"]
    assert store.callback(mine)["call_sid"] == f"CA{1:032d}"
    assert store.callback(mine)["told_reference"] == "012345"


def test_the_other_request_erased_meanwhile_is_not_brought_back_as_a_stub(app, store, monkeypatch):
    """A clash, and the request that had the reference first is erased (subject erasure) just
    before the new one is written: marking it `also_told_to` must not re-create its key."""
    deliver_record(store, journalled(2, "012345"))
    racing = WriteBetweenReadAndCommit(
        store.redis, lambda client: client.delete(key("callback", id="012345"))
    )
    monkeypatch.setattr(store, "redis", racing)
    deliver_record(store, journalled(1, "012345"))
    monkeypatch.setattr(store, "redis", racing.client)
    assert not store.redis.exists(key("callback", id="012345"))


def test_every_request_in_a_file_is_counted(app, store, settings, tmp_path):
    journal = Journal(tmp_path / "journal", DataKeys.from_settings(settings))
    for n, ref in ((1, "234567"), (2, "345678"), (3, "456789")):
        record = journalled(n, ref)
        journal.append("callback", record, {"ref": ref, "t": 0, "urgent": False})
    journal.seal_live_file()
    assert Deliverer(store, journal, 1).run_once() == 3
    assert sorted(queue(store)) == ["234567", "345678", "456789"]


def test_a_file_delivered_before_a_replica_has_it_is_kept_and_said_so(
    app, store, settings, tmp_path, caplog, monkeypatch, redis_client
):
    """With a replica to wait for and none answering, the file stays for another delivery
    (a failover now could lose what was written), and the log says so."""
    caplog.set_level(logging.INFO, logger="ivr.outage.recovery")
    journal = Journal(tmp_path / "journal", DataKeys.from_settings(settings))
    journal.append("callback", journalled(1, "234567"), {"ref": "234567", "t": 0, "urgent": False})
    journal.seal_live_file()
    monkeypatch.setattr(store, "wait_replicas", 1)  # the test's Redis has no replica
    monkeypatch.setattr(store, "wait_ms", 10)
    assert Deliverer(store, journal, 1).run_once() == 1
    assert len(journal.files()) == 1
    assert "journal file delivered but not yet on a replica; kept" in caplog.messages
    # The write WAIT was asked to cover: the time it was made, gone within the hour.
    fence = key("replication_fence")
    assert 0 < redis_client.ttl(fence) <= 3600
    assert abs(float(redis_client.get(fence)) - time.time()) < 60
    monkeypatch.setattr(store, "wait_replicas", 0)
    assert Deliverer(store, journal, 1).run_once() == 0  # delivered already: nothing new
    assert journal.files() == []
    assert "journal file delivered" in caplog.messages


def waiting_file(store, settings, tmp_path, ref: str = "234567") -> Journal:
    """A journal holding one request, sealed (its writer is done): waiting for delivery."""
    journal = Journal(tmp_path / "journal", DataKeys.from_settings(settings))
    journal.append("callback", journalled(1, ref), {"ref": ref, "t": 0, "urgent": False})
    journal.seal_live_file()
    return journal


def delivery_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "ivr-journal" and t.is_alive()]


def test_delivery_runs_in_one_named_background_thread_that_never_holds_up_exit(
    app, store, settings, tmp_path, outage
):
    """However many webhook steps ask, a process has one delivery thread ("ivr-journal" in a
    thread dump), and it is a daemon: a worker being restarted while Redis is still down is not
    kept alive by it (the journal stays on disk for the next one)."""
    outage.stop()  # so the thread keeps looking for Redis
    deliverer = Deliverer(store, waiting_file(store, settings, tmp_path), 0.05)
    try:
        for _ in range(5):
            deliverer.ensure_running()
        [thread] = delivery_threads()
        assert thread.daemon
    finally:
        deliverer.stop()
    assert delivery_threads() == []


def test_a_journal_waiting_out_an_outage_is_delivered_when_redis_returns_with_no_calls(
    app, store, settings, tmp_path, outage
):
    """A quiet night: Redis comes back and no call arrives to nudge delivery. The thread that
    was started in the outage keeps looking and delivers."""
    outage.stop()
    deliverer = Deliverer(store, waiting_file(store, settings, tmp_path), 0.05)
    try:
        deliverer.ensure_running()
        time.sleep(0.3)  # a few looks at a Redis that is still down
        outage.start()
        wait_for(lambda: not deliverer.journal.files(), 15, "the journal to be delivered")
    finally:
        deliverer.stop()
    assert queue(store) == ["234567"]


def test_a_delivery_that_fails_is_logged_and_tried_again(
    app, store, settings, tmp_path, caplog, monkeypatch
):
    """Redis drops the connection half way through a delivery: the operator's log says so
    (docs/operations.md), and the next look delivers the request."""
    from ivr.outage import recovery

    real, failures = recovery.deliver_record, []

    def fails_once(store_, record):
        if not failures:
            failures.append(1)
            raise redis.ConnectionError("Connection reset by peer")
        return real(store_, record)

    monkeypatch.setattr(recovery, "deliver_record", fails_once)
    caplog.set_level(logging.ERROR, logger="ivr.outage.recovery")
    deliverer = Deliverer(store, waiting_file(store, settings, tmp_path), 0.05)
    try:
        deliverer.ensure_running()
        wait_for(lambda: not deliverer.journal.files(), 15, "the journal to be delivered")
    finally:
        deliverer.stop()
    assert queue(store) == ["234567"]
    assert "journal delivery failed; will retry" in caplog.messages


def test_with_no_replica_to_wait_for_delivery_writes_nothing_for_replication(
    app, store, settings, tmp_path, redis_client
):
    journal = waiting_file(store, settings, tmp_path)
    assert store.wait_replicas == 0
    assert Deliverer(store, journal, 1).run_once() == 1
    assert journal.files() == []
    assert not redis_client.exists(key("replication_fence"))


def test_a_replica_that_has_every_write_is_said_to_and_one_held_back_is_not(tmp_path):
    """With a real replica (its link through a proxy that can hold replication back): the store
    reports a replica has every write only while it does (what journal delivery asks)."""
    primary = data_node(tmp_path, "primary", free_port()).start()
    link = CountingProxy(("127.0.0.1", primary.port))
    replica = data_node(
        tmp_path, "replica", free_port(), "--replicaof", "127.0.0.1", str(link.port)
    ).start()
    try:
        wait_for(
            lambda: replica.client().info("replication").get("master_link_status") == "up",
            what="the replica to sync",
        )
        store = Store(primary.client(), 3600, 86400, wait_replicas=1, wait_ms=5000)
        for n in range(3):  # each time, one write after another
            primary.client().set("written", n)
            assert store.replicated()
        link.hold_replication.set()
        store.wait_ms = 300
        primary.client().set("written", "while the replica is held back")
        assert not store.replicated()
    finally:
        link.close()
        replica.kill()
        primary.kill()


def test_a_booking_no_replica_confirmed_is_journalled_too_and_no_other_step_is(
    app, phone, store, monkeypatch
):
    """With a replica to wait for and none answering (IVR_REDIS_WAIT_REPLICAS): each step that
    writes the callback request goes to the journal as well, before the caller hears the
    reference; the steps before it write nothing there."""
    monkeypatch.setattr(store, "wait_replicas", 1)
    monkeypatch.setattr(store, "wait_ms", 10)
    journal = app.extensions["ivr.journal"]
    call = phone(from_number="+447700900123")
    call.press("3")  # the callback menu: no request yet
    assert journal.records_where(lambda record: True) == []
    for keys in "113":
        call.press(keys)
    assert "Your callback request is booked" in call.heard()
    records = journal.records_where(lambda record: True)
    assert records and {r["callback"]["call_sid"] for r in records} == {call.call_sid}
    assert store.callback(records[-1]["callback"]["id"])["call_sid"] == call.call_sid
