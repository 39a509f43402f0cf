"""Redis Sentinel, with real processes: a primary, a replica and three sentinels started here.
The primary is killed while callers are booking callbacks; after the failover every reference a
caller heard is in the queue exactly once, for that caller's call, and every answer the line
gave was valid TwiML (IVR_REDIS_SENTINELS, IVR_REDIS_SENTINEL_SERVICE, WAIT on bookings)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest
import redis

from ivr import create_app
from ivr.store.keys import key
from ivr.twilio_sim.phone import SimulatedCall
from tests.conftest import AUTH_TOKEN, BASE_URL, FlaskTransport
from tests.counting_proxy import CountingProxy

SERVICE = "ivrline"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Node:
    """One redis-server process (a data node, or a sentinel) on a TCP port of its own."""

    def __init__(self, directory, port: int, args: list[str]):
        self.directory, self.port, self.args = directory, port, args
        self.process: subprocess.Popen | None = None

    def start(self) -> Node:
        self.process = subprocess.Popen(
            [shutil.which("redis-server"), *self.args],
            cwd=self.directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: self.client().ping(), what=f"redis on port {self.port}")
        return self

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True, socket_timeout=1)

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def wait_for(check, seconds: float = 20.0, what: str = "a condition"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if result := check():
                return result
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def data_node(tmp_path, name: str, port: int, *extra: str) -> Node:
    directory = tmp_path / name
    directory.mkdir(exist_ok=True)
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(directory)]
    return Node(directory, port, [*args, *extra])


def sentinel_node(
    tmp_path, n: int, primary_port: int, quorum: int = 2, extra: tuple[str, ...] = ()
) -> Node:
    """A sentinel watching the primary (known to it by the port of the primary's proxy);
    `extra`: more lines for its configuration."""
    directory = tmp_path / f"sentinel{n}"
    directory.mkdir()
    port = free_port()
    (directory / "sentinel.conf").write_text(
        f"port {port}\nbind 127.0.0.1\n"
        f"sentinel monitor {SERVICE} 127.0.0.1 {primary_port} {quorum}\n"
        # Small, so the test is bounded: down after 0.5 s, a failover well within seconds.
        f"sentinel down-after-milliseconds {SERVICE} 500\n"
        f"sentinel failover-timeout {SERVICE} 3000\n" + "".join(line + "\n" for line in extra)
    )
    return Node(directory, port, [str(directory / "sentinel.conf"), "--sentinel"])


@pytest.fixture
def sentinel_set(tmp_path):
    """A primary, its replica and three sentinels; all stopped after the test. The replica
    reaches the primary through a proxy (`link`) that can hold replication back; the sentinels
    know the primary by the proxy's address too (else they would point the replica past it)."""
    primary_port = free_port()
    primary = data_node(tmp_path, "a", primary_port).start()
    link = CountingProxy(("127.0.0.1", primary_port))
    replica_port = free_port()
    replica = data_node(
        tmp_path, "b", replica_port, "--replicaof", "127.0.0.1", str(link.port)
    ).start()
    sentinels = [sentinel_node(tmp_path, n, link.port).start() for n in range(3)]
    nodes = [primary, replica, *sentinels]
    try:
        wait_for(
            lambda: replica.client().info("replication").get("master_link_status") == "up",
            what="the replica to sync",
        )
        for sentinel in sentinels:  # each sentinel knows the replica and the other two
            wait_for(
                lambda s=sentinel: (
                    len(s.client().sentinel_slaves(SERVICE)) == 1
                    and len(s.client().sentinel_sentinels(SERVICE)) == 2
                ),
                what="the sentinels to find each other",
            )
        yield primary, replica, sentinels, link
    finally:
        link.close()
        for node in nodes:
            node.kill()


class RecordingTransport(FlaskTransport):
    """Every answer the line gave, to check each is valid TwiML."""

    def __init__(self, client, answers: list):
        super().__init__(client)
        self.answers = answers

    def post(self, url, params, headers):
        status, body = super().post(url, params, headers)
        self.answers.append((status, body))
        return status, body


def heard_reference(call: SimulatedCall) -> str | None:
    text = call.all_heard()
    if "Your reference number is:" not in text:
        return None
    spoken = text.split("Your reference number is:")[1].split("Our team")[0]
    return "".join(ch for ch in spoken if ch.isdigit())


def sentinel_settings(settings, sentinels, tmp_path):
    return replace(
        settings,
        redis_url="redis://",
        redis_sentinels=",".join(f"127.0.0.1:{s.port}" for s in sentinels),
        redis_sentinel_service=SERVICE,
        journal_dir=str(tmp_path / "journal"),
        journal_delivery_interval=0.05,
    )


def book(app, number: str, before_booking=None) -> tuple[str | None, SimulatedCall]:
    call = SimulatedCall(FlaskTransport(app.test_client()), BASE_URL, AUTH_TOKEN, number).dial()
    for key_pressed in ("3", "1", "1"):
        call.press(key_pressed)
    if before_booking:
        before_booking()
    call.press("3")  # any time: the request is made
    return heard_reference(call), call


def failover(primary: Node, replica: Node, sentinels: list[Node]) -> None:
    primary.kill()
    watcher = sentinels[0].client()
    wait_for(
        lambda: watcher.sentinel_get_master_addr_by_name(SERVICE)[1] == replica.port,
        what="the sentinels to promote the replica",
    )


def test_a_booking_the_replica_never_got_survives_the_failover(sentinel_set, open_hours, tmp_path):
    """Redis acknowledges writes before its replica has them; a failover then drops them. The
    line confirms a booking only once WAIT says a replica has it, else journals it first."""
    primary, replica, sentinels, link = sentinel_set
    # A long wait, so a loaded machine's slow replica is not taken for a lagging one.
    app = create_app(
        replace(sentinel_settings(open_hours, sentinels, tmp_path), redis_wait_ms=2000)
    )
    try:
        # The primary lost its scripts (a restart) just before the booking: the step loads
        # the save script again, and still waits for the replica.
        before, _ = book(app, "+447700900401", before_booking=primary.client().script_flush)
        assert not app.extensions["ivr.journal"].files()  # on the replica: nothing journalled
        link.hold_replication.set()  # the replica falls behind: nothing more reaches it
        lagging, call = book(app, "+447700900402")
        assert before and lagging and lagging != before
        assert app.extensions["ivr.journal"].files()  # confirmed, so journalled first
        failover(primary, replica, sentinels)
        link.drop()  # what the replica never got is gone with the old primary
        link.hold_replication.clear()
        primary.start()  # back, as a replica of the new primary
        wait_for(lambda: not app.extensions["ivr.journal"].files(), seconds=30, what="delivery")
    finally:
        app.extensions["ivr.deliverer"].stop()
    queued = replica.client().zrange(key("callback_queue"), 0, -1)
    assert sorted(queued) == sorted([before, lagging])
    assert replica.client().hget(key("callback", id=lagging), "call_sid") == call.call_sid


def test_killing_the_primary_while_callers_book_loses_and_doubles_nothing(
    sentinel_set, open_hours, tmp_path
):
    primary, replica, sentinels, _ = sentinel_set
    app = create_app(sentinel_settings(open_hours, sentinels, tmp_path))
    answers: list = []
    booked: list = []  # (reference heard, call)
    stop = threading.Event()

    def caller(n: int) -> None:
        transport = RecordingTransport(app.test_client(), answers)
        made = 0
        while not stop.is_set():
            made += 1
            number = f"+4477009{n:02d}{made:03d}"
            call = SimulatedCall(transport, BASE_URL, AUTH_TOKEN, from_number=number).dial()
            for key_pressed in ("3", "1", "1", "3"):
                if call.ended:
                    break
                call.press(key_pressed)
            booked.append((heard_reference(call), call))

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(4)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        failover(primary, replica, sentinels)  # mid-booking, with no warning
        time.sleep(1.0)  # callers carry on against the new primary
        primary.start()  # the old primary comes back; the sentinels make it a replica
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    journal, new_primary = app.extensions["ivr.journal"], replica.client()
    try:
        wait_for(lambda: not journal.files(), seconds=30, what="the journal to be delivered")
        queued = new_primary.zrange(key("callback_queue"), 0, -1)
    finally:
        app.extensions["ivr.deliverer"].stop()

    assert all(status == 200 for status, _ in answers)
    assert all(ET.fromstring(body).tag == "Response" for _, body in answers)  # noqa: S314
    heard = {ref: call for ref, call in booked if ref}
    assert len(heard) == len([ref for ref, _ in booked if ref])  # no reference heard twice
    assert len(heard) >= 8, "too few bookings to mean anything"
    assert sorted(queued) == sorted(heard)  # every reference heard is queued, once
    for ref, call in heard.items():
        assert new_primary.hget(key("callback", id=ref), "call_sid") == call.call_sid


@pytest.mark.parametrize("bad", ["host", "host:0", "host:99999", "host:abc", ":26379", "a:1,,b:2"])
def test_a_sentinel_list_that_is_not_host_port_stops_start_up_with_a_message(bad):
    from ivr.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="IVR_REDIS_SENTINELS: .* is not host:port"):
        load_settings(environ={"IVR_REDIS_SENTINELS": bad})


def test_the_cli_finds_the_primary_through_the_sentinels(sentinel_set, tmp_path):
    """The `ivr` commands build their client (ivr/cli/common.py) through the sentinels too."""
    from ivr.cli.common import redis_client

    primary, _, sentinels, _ = sentinel_set
    environ = {
        "REDIS_URL": "redis://",
        "IVR_REDIS_SENTINELS": ",".join(f"127.0.0.1:{s.port}" for s in sentinels),
        "IVR_REDIS_SENTINEL_SERVICE": SERVICE,
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environ.items():
            patch.setenv(name, value)
        client = redis_client()
        client.set("ivr:cli-probe", "1")
    assert primary.client().get("ivr:cli-probe") == "1"
