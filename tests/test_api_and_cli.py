"""The `ivr` command and the JSON API: a newcomer's path from a simulated call to the callback
list, plus the API's answers to bad requests."""

from __future__ import annotations

from click.testing import CliRunner

from ivr.cli import main
from ivr.store.keys import key


def ivr(redis_url: str, *args: str, input: str | None = None):
    env = {"REDIS_URL": redis_url, "TWILIO_AUTH_TOKEN": "test-auth-token-0123456789abcdef"}
    return CliRunner().invoke(main, list(args), env=env, input=input)


def make_token(redis_server, name="clinical-record") -> str:
    result = ivr(redis_server.url, "api-token", "create", name)
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_api_token_is_printed_last_and_stored_only_as_a_hash(redis_server, redis_client):
    token = make_token(redis_server)
    assert token.startswith("ivr_") and len(token) > 30
    stored = redis_client.hgetall(key("api_tokens"))
    assert len(stored) == 1
    assert token not in str(stored)


def test_api_lists_callbacks_with_screening_answers(client, phone, redis_server):
    token = make_token(redis_server)
    call = phone(from_number="+447700900321")
    for keys in ("2", "4", "3", "2", "1", "2", "1", "1", "1", "1", "2"):
        call.press(keys)
    response = client.get("/api/v1/callbacks", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    [callback] = response.json["callbacks"]
    assert callback["phone"] == "+447700900321"
    assert callback["phq2_total"] == 5
    assert callback["urgent"] is False
    assert callback["voicemail_ok"] is True
    assert callback["preferred_time"] == "afternoon"
    assert callback["status"] == "queued"
    assert callback["answers"]["difficulty"] == "disputes"
    assert len(callback["reference"]) == 6
    assert response.json["next_cursor"] is None


def test_api_pages_through_callbacks_with_a_cursor_and_filters_by_status(
    client, phone, redis_server
):
    token = make_token(redis_server)
    headers = {"Authorization": f"Bearer {token}"}
    made = []
    for n in range(5):
        call = phone(from_number=f"+44770090050{n}")
        for keys in ("3", "1", "1", "3"):
            call.press(keys)
        made.append(call.call_sid)
    seen, cursor = [], None
    while True:
        url = "/api/v1/callbacks?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=headers).json
        seen += [cb["call_sid"] for cb in page["callbacks"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(made))  # newest first, each exactly once
    queued = client.get("/api/v1/callbacks?status=queued", headers=headers).json
    assert len(queued["callbacks"]) == 5
    closed = client.get("/api/v1/callbacks?status=closed", headers=headers).json
    assert closed["callbacks"] == []


def test_api_refuses_missing_wrong_or_revoked_tokens(client, redis_server):
    assert client.get("/api/v1/callbacks").status_code == 401
    wrong = client.get("/api/v1/callbacks", headers={"Authorization": "Bearer ivr_nope"})
    assert wrong.status_code == 401 and "valid API token" in wrong.json["message"]
    token = make_token(redis_server, "old-system")
    assert ivr(redis_server.url, "api-token", "revoke", "old-system").exit_code == 0
    revoked = client.get("/api/v1/callbacks", headers={"Authorization": f"Bearer {token}"})
    assert revoked.status_code == 401


def test_api_answers_junk_parameters_with_clear_400s(client, redis_server):
    headers = {"Authorization": f"Bearer {make_token(redis_server)}"}
    for query, words in (
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("limit=9999", "limit"),
        ("status=lost", "status must be one of"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=1.5:../x", "cursor"),
    ):
        response = client.get(f"/api/v1/callbacks?{query}", headers=headers)
        assert response.status_code == 400, query
        assert words in response.json["message"]


def test_call_logs_in_the_api_show_masked_numbers(client, phone, redis_server):
    token = make_token(redis_server)
    call = phone(from_number="+447700900789")
    call.press("1")
    call.hang_up()
    response = client.get("/api/v1/calls", headers={"Authorization": f"Bearer {token}"})
    [logged] = response.json["calls"]
    assert logged["call_sid"] == call.call_sid
    assert logged["from"] == "*********789"
    assert "7700900789" not in response.get_data(as_text=True)


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_ivr_call_places_a_simulated_call_against_a_running_line(live_server, redis_server, client):
    token = make_token(redis_server)
    result = ivr(redis_server.url, "call", "--url", live_server, "--keys", "3,1,2,2,,")
    assert result.exit_code == 0, result.output
    assert "This line is not for emergencies" in result.output
    assert "Your reference number is" in result.output
    assert "Call ended" in result.output
    listed = client.get("/api/v1/callbacks", headers={"Authorization": f"Bearer {token}"}).json
    [callback] = listed["callbacks"]
    assert callback["preferred_time"] == "afternoon" and callback["voicemail_ok"] is False


def test_ivr_with_no_redis_says_so_instead_of_a_traceback(tmp_path):
    """An operator who runs `ivr` before the line's Redis is up gets one plain line."""
    gone = f"unix://{tmp_path}/no-redis.sock"
    for args in (
        ("api-token", "create", "me"),
        ("users", "list"),
        ("subject-export", "07700900123"),
    ):
        result = ivr(gone, *args)
        assert result.exit_code == 1, (args, result.output)
        assert "Redis cannot be reached" in result.output, (args, result.output)
        assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
