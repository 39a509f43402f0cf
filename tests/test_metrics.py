"""Something to watch (issue 12, problem 4): /metrics in Prometheus text for a metrics:read token,
and /healthz?deep=1. The gunicorn test reads the figures of two workers added up."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ivr import metrics
from ivr.api.tokens import create_token
from ivr.twilio_sim.phone import HttpTransport, SimulatedCall
from tests.conftest import AUTH_TOKEN, SCREENED_URGENT_KEYS
from tests.web_process import line_env, procfile_web


def parse(text: str) -> dict[tuple, float]:
    """{(sample name, (label, value) pairs sorted): value} from Prometheus text."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def scrape(client, token: str) -> dict[tuple, float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain")
    return parse(response.get_data(as_text=True))


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def metrics_token(store):
    return create_token(store.redis, "prometheus", ("metrics:read",))


def test_metrics_need_a_token_with_the_metrics_scope(client, store, metrics_token):
    assert client.get("/metrics").status_code == 401
    bad = client.get("/metrics", headers={"Authorization": "Bearer ivr_not-a-token"})
    assert bad.status_code == 401
    data_token = create_token(store.redis, "intake-app")  # the default: data scopes only
    refused = client.get("/metrics", headers={"Authorization": f"Bearer {data_token}"})
    assert refused.status_code == 403 and "metrics:read" in refused.get_data(as_text=True)
    # ... and a metrics token reads no callback requests.
    api = client.get("/api/v1/callbacks", headers={"Authorization": f"Bearer {metrics_token}"})
    assert api.status_code == 403
    ok = client.get("/metrics", headers={"Authorization": f"Bearer {metrics_token}"})
    assert ok.status_code == 200 and "ivr_webhook_seconds" in ok.get_data(as_text=True)


def test_calls_show_in_the_metrics(client, phone, request_callback, metrics_token):
    before = scrape(client, metrics_token)
    request_callback(from_number="+447700900201")
    request_callback(from_number="+447700900202", keys=SCREENED_URGENT_KEYS)
    call = phone(from_number="+447700900203")
    status, _ = call.signed_post("http://localhost/voice/fallback", call.params())
    assert status == 200
    after = scrape(client, metrics_token)

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("ivr_webhook_seconds_count", route="/voice/incoming") == 3
    assert grew("ivr_webhook_seconds_count", route="/voice/step") >= 4 + len(SCREENED_URGENT_KEYS)
    assert grew("ivr_callbacks_created_total", urgent="no", source="redis") == 1
    assert grew("ivr_callbacks_created_total", urgent="yes", source="redis") == 1
    assert grew("ivr_fallback_answers_total", route="voice.fallback") == 1
    assert value(after, "ivr_callbacks_open", band="urgent") == 1
    assert value(after, "ivr_callbacks_open", band="routine") == 1
    assert 0 <= value(after, "ivr_callbacks_oldest_wait_seconds", band="urgent") < 600
    assert value(after, "ivr_redis_up") == 1
    assert value(after, "ivr_journal_waiting") == 0


def test_alerts_are_counted_by_channel_and_result(client, metrics_token):
    before = scrape(client, metrics_token)
    metrics.record_alert("sms", ok=True)
    metrics.record_alert("email", ok=False)
    after = scrape(client, metrics_token)
    assert (
        value(after, "ivr_alerts_total", channel="sms", result="sent")
        - value(before, "ivr_alerts_total", channel="sms", result="sent")
        == 1
    )
    assert (
        value(after, "ivr_alerts_total", channel="email", result="failed")
        - value(before, "ivr_alerts_total", channel="email", result="failed")
        == 1
    )


def test_an_outage_shows_in_the_metrics_and_deep_health(client, phone, metrics_token, redis_server):
    assert client.get("/healthz?deep=1").get_json()["redis"] == "ok"
    before = scrape(client, metrics_token)  # this process now knows the token
    call = phone(from_number="+447700900204").press("3")
    redis_server.stop()
    try:
        # The number confirmed (the request is made there), then the questions, all while
        # Redis is down: journalled.
        call.press("1").press("1").press("3")
        assert "reference" in call.heard()
        after = scrape(client, metrics_token)
        cheap = client.get("/healthz")
        deep = client.get("/healthz?deep=1")
    finally:
        redis_server.start()
    assert value(after, "ivr_redis_up") == 0
    assert value(after, "ivr_journal_waiting") == 1
    assert value(after, "ivr_redis_errors_total", where="call_step") > value(
        before, "ivr_redis_errors_total", where="call_step"
    )
    assert value(after, "ivr_callbacks_created_total", urgent="no", source="journal") == (
        value(before, "ivr_callbacks_created_total", urgent="no", source="journal") + 1
    )
    assert cheap.status_code == 200  # the process is up: a load balancer keeps sending calls
    assert deep.status_code == 503
    report = deep.get_json()
    assert report["redis"].startswith("unavailable") and report["journal"]["waiting"] == 1


def test_deep_health_reports_the_queue(client, request_callback):
    request_callback(from_number="+447700900205", keys=SCREENED_URGENT_KEYS)
    report = client.get("/healthz?deep=1").get_json()
    assert report["status"] == "ok"
    assert report["queue"]["urgent"]["open"] == 1 and report["queue"]["routine"]["open"] == 0
    assert report["journal"] == {"waiting": 0, "writable": True}
    assert client.get("/healthz").get_json() == {"status": "ok"}  # cheap: no Redis asked


def _get(url: str, token: str) -> str:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
        return response.read().decode()


def test_two_gunicorn_workers_are_added_up(redis_server, redis_client, tmp_path):
    env = line_env(redis_server.url, tmp_path, WEB_CONCURRENCY="2", WEB_THREADS="8")
    token = create_token(redis_client, "prometheus", ("metrics:read",))
    histograms = tmp_path / "metrics"
    with procfile_web(env, tmp_path / "web.log") as base:

        def ring(number):
            call = SimulatedCall(HttpTransport(timeout=10), base, AUTH_TOKEN, from_number=number)
            call.dial().press("3").press("1").press("1").press("3").hang_up()

        # Waves of ten callers at once until both workers have answered some (a quick worker
        # can take a whole wave on its own).
        calls = 0
        for wave in range(10):
            threads = [
                threading.Thread(target=ring, args=(f"+447700900{wave}{n:02d}",)) for n in range(10)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            calls += len(threads)
            if len(list(histograms.glob("histogram_*.db"))) >= 2:
                break
        scrapes = [parse(_get(base + "/metrics", token)) for _ in range(6)]
        with pytest.raises(urllib.error.HTTPError) as refused:
            _get(base + "/metrics", "ivr_wrong")
        assert refused.value.code == 401
    # Both workers answered webhooks (each keeps its own file) ...
    histogram_files = list(histograms.glob("histogram_*.db"))
    assert len(histogram_files) == 2, histogram_files
    # ... and every scrape, whichever worker took it, adds both up.
    for samples in scrapes:
        assert value(samples, "ivr_webhook_seconds_count", route="/voice/incoming") == calls
        assert value(samples, "ivr_callbacks_created_total", urgent="no", source="redis") == calls
        assert value(samples, "ivr_callbacks_open", band="routine") == calls


def test_a_metrics_token_from_the_command_line(client, redis_server):
    from click.testing import CliRunner

    from ivr.cli import main

    made = CliRunner().invoke(
        main,
        ["api-token", "create", "prometheus", "--scope", "metrics:read"],
        env={"REDIS_URL": redis_server.url},
    )
    assert made.exit_code == 0, made.output
    token = made.output.strip().splitlines()[-1]
    assert scrape(client, token)[("ivr_redis_up", ())] == 1
    wrong = CliRunner().invoke(
        main,
        ["api-token", "create", "x", "--scope", "metrics:write"],
        env={"REDIS_URL": redis_server.url},
    )
    assert wrong.exit_code == 1 and "metrics:read" in wrong.output
