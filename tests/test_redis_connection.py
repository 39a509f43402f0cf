"""How the line reaches Redis (ivr/store/redis_store.py `connect`, `client_for`): a Redis that
hangs costs a caller no more than IVR_REDIS_SOCKET_TIMEOUT a step, while the `ivr` commands
wait longer on a slow one; behind Sentinel the REDIS_URL still gives the user, password,
database and TLS. Real processes: a listener that never answers, a proxy that slows replies,
and a password-protected primary with a sentinel watching it."""

from __future__ import annotations

import socket
import threading
from dataclasses import replace

import pytest
import redis
from click.testing import CliRunner

from ivr import create_app
from ivr.api.tokens import check_token
from ivr.cli import main
from ivr.store.redis_store import client_for, connect
from ivr.twilio_sim.phone import SimulatedCall
from tests.conftest import AUTH_TOKEN, BASE_URL, FlaskTransport
from tests.counting_proxy import CountingProxy
from tests.test_sentinel_failover import SERVICE, data_node, free_port, sentinel_node, wait_for

# The first words must come well inside redis-py's own 5 s default, so a timeout that never
# reaches the client shows; with the setting at 0.2 s a busy machine still has ample margin.
# (A bound on behaviour the setting promises, not a speed measurement: benchmarks/ has those.)
FIRST_WORDS_WITHIN = 2.5


class HungRedis:
    """A TCP port that accepts connections and never says a word (a Redis stuck in a long
    command, or a load balancer holding the connection): reads on it only ever time out."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:  # closed
                return
            self.held.append(connection)

    def close(self) -> None:
        self.listener.close()
        for connection in self.held:
            connection.close()


class UnreachableRedis:
    """A Redis whose host is gone from the network: connecting never completes. (A listener
    whose accept queue is full, so the kernel drops further connection attempts.)"""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.port = self.listener.getsockname()[1]
        self.queued = socket.create_connection(("127.0.0.1", self.port))  # fills the queue

    def close(self) -> None:
        self.queued.close()
        self.listener.close()


def within(seconds: float, action):
    """Run `action`, waiting at most `seconds` for it (Twilio, too, waits only so long)."""
    done: list = []
    worker = threading.Thread(target=lambda: done.append(action()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert done, f"no answer within {seconds} s: the caller hears silence"
    return done[0]


@pytest.mark.parametrize("broken", [HungRedis, UnreachableRedis], ids=["hung", "unreachable"])
def test_a_caller_whose_line_finds_redis_hung_still_hears_the_crisis_numbers_and_can_book(
    open_hours, tmp_path, broken
):
    stuck = broken()
    app = create_app(
        replace(
            open_hours,
            redis_url=f"redis://127.0.0.1:{stuck.port}/0",
            redis_socket_timeout=0.2,  # IVR_REDIS_SOCKET_TIMEOUT (0.5 s unless set)
            journal_dir=str(tmp_path / "journal"),
        )
    )
    try:
        call = SimulatedCall(
            FlaskTransport(app.test_client()), BASE_URL, AUTH_TOKEN, "+447700900771"
        )
        within(FIRST_WORDS_WITHIN, call.dial)
        assert "If you are at risk now, call 9 9 9" in call.heard()
        for key_pressed in ("3", "1", "1", "3"):
            within(FIRST_WORDS_WITHIN, lambda k=key_pressed: call.press(k))
        assert "Your callback request is booked" in call.all_heard()
        assert app.extensions["ivr.journal"].files()  # kept on disk until Redis answers again
    finally:
        app.extensions["ivr.deliverer"].stop()
        stuck.close()


def test_an_operators_command_works_on_a_redis_too_slow_for_the_line(
    redis_server, redis_client, settings
):
    """A Redis taking a second to answer (a big rebuild, a busy disk): the line gives up on it
    after half a second, so a caller is never kept waiting, but the `ivr` commands allow
    5 s, so an operator can still work (here: create an API token)."""
    slow = CountingProxy(str(redis_server.socket))
    slow.reply_delay = 1.0
    try:
        line = client_for(replace(settings, redis_url=slow.url, redis_socket_timeout=0.5))
        with pytest.raises(redis.TimeoutError):
            line.ping()
        env = {"REDIS_URL": slow.url, "TWILIO_AUTH_TOKEN": AUTH_TOKEN}
        result = CliRunner().invoke(main, ["api-token", "create", "slow-day"], env=env)
    finally:
        slow.close()
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert check_token(redis_client, token)["name"] == "slow-day"


@pytest.fixture
def guarded_primary(tmp_path):
    """A primary that only a named user with a password may use, and one sentinel watching it
    (as that user: sentinels must log in too)."""
    primary = data_node(
        tmp_path,
        "guarded",
        free_port(),
        "--user",
        "default",
        "off",
        "--user",
        "ivr",
        "on",
        ">s3cret",
        "~*",
        "&*",
        "+@all",
    )
    primary.client = lambda: redis.Redis(
        port=primary.port, username="ivr", password="s3cret", decode_responses=True
    )
    primary.start()
    sentinel = sentinel_node(
        tmp_path,
        0,
        primary.port,
        quorum=1,
        extra=(f"sentinel auth-user {SERVICE} ivr", f"sentinel auth-pass {SERVICE} s3cret"),
    ).start()
    try:
        wait_for(
            lambda: sentinel.client().sentinel_get_master_addr_by_name(SERVICE),
            what="the sentinel to know the primary",
        )
        yield primary, sentinel
    finally:
        sentinel.kill()
        primary.kill()


def test_behind_sentinel_the_url_gives_the_user_password_and_database(guarded_primary):
    primary, sentinel = guarded_primary
    client = connect("redis://ivr:s3cret@/3", 2.0, f"127.0.0.1:{sentinel.port}", SERVICE)
    client.set("ivr:probe", "written")
    guarded = redis.Redis(
        port=primary.port, username="ivr", password="s3cret", db=3, decode_responses=True
    )
    assert guarded.get("ivr:probe") == "written"
    assert primary.client().get("ivr:probe") is None  # not in database 0


def test_behind_sentinel_a_rediss_url_never_talks_to_the_primary_in_clear_text(guarded_primary):
    """rediss:// asks for TLS. This primary speaks only plain text, so the client must fail
    rather than send the data (health data) unencrypted."""
    primary, sentinel = guarded_primary
    client = connect("rediss://ivr:s3cret@/0", 2.0, f"127.0.0.1:{sentinel.port}", SERVICE)
    with pytest.raises((redis.ConnectionError, redis.TimeoutError)):  # the TLS handshake fails
        client.set("ivr:probe", "in clear")
    assert primary.client().get("ivr:probe") is None


class DownSentinel:
    """A sentinel whose process is gone: its port refuses connections."""

    def __init__(self):
        self.port = free_port()  # free: nothing listens there

    def close(self) -> None:
        pass


@pytest.mark.parametrize("first", [HungRedis, DownSentinel], ids=["hung", "down"])
def test_a_sentinel_that_is_down_or_hung_costs_a_new_connection_no_more_than_the_timeout(
    guarded_primary, first
):
    """The first sentinel listed is down (often it ran on the host of the primary that just
    failed) or hangs. A step's new connection asks it once, within the timeout, then the next
    one: the caller hears no seconds of silence from retries with backoff."""
    primary, sentinel = guarded_primary
    bad = first()
    try:
        client = connect(
            "redis://ivr:s3cret@/0",
            0.2,
            f"127.0.0.1:{bad.port},127.0.0.1:{sentinel.port}",
            SERVICE,
        )
        within(FIRST_WORDS_WITHIN, lambda: client.set("ivr:probe", "past the bad one"))
    finally:
        bad.close()
    assert primary.client().get("ivr:probe") == "past the bad one"
