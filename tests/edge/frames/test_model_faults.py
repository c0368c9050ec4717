"""Model faults through the real openai SDK: each maps to its code, and the frame is still kept."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from pydantic import SecretStr

from edge.settings import EdgeSettings
from tests.fakes import images
from tests.fakes.openai_peer import DEFAULT_ANALYSIS, FakeOpenAI, Reply, response_body
from tests.support import AppClient, StartApp, data_of, error_of, form, metrics_text, services_of

ROUTE = "/api/upload-and-analyze"


async def events(client: AppClient) -> list[tuple[Any, ...]]:
    """Every learning event row as (outcome, error_code, image_key)."""
    return await services_of(client).store.run(
        lambda db: [
            tuple(row.values())
            for row in db.query("select outcome, error_code, image_key from learning_events")
        ]
    )


def key_of(frame: bytes) -> str:
    """The content key the daemon should file a JPEG under."""
    return hashlib.sha256(frame).hexdigest() + ".jpg"


async def fail_with(client: AppClient, status: int, code: str, seed: int = 0) -> bytes:
    """Post a frame, check it failed with `status` and `code`; return the frame."""
    frame = images.jpeg(640, 480, seed=seed)
    error = await error_of(await client.post(ROUTE, data=form(frame)), status)
    assert error["code"] == code, error
    return frame


async def assert_kept_as_failed(
    client: AppClient, settings: EdgeSettings, frame: bytes, code: str
) -> None:
    """One failed event with the code, and the original on disk and served back."""
    key = key_of(frame)
    assert await events(client) == [("failed", code, key)]
    [stored] = list((settings.data_dir / "images").rglob(key))
    assert stored.read_bytes() == frame
    served = await client.get(f"/api/images/{key}")
    assert served.status == 200
    assert await served.read() == frame


async def test_rate_limit_then_success_is_retried(
    vision_client: AppClient, openai_peer: FakeOpenAI
) -> None:
    """One 429 is retried by the SDK and the frame is analysed."""
    openai_peer.queue(Reply(status=429))
    data = await data_of(await vision_client.post(ROUTE, data=form(images.jpeg())))
    assert data["analysis"] == DEFAULT_ANALYSIS
    assert len(openai_peer.requests) == 2
    assert [row[0] for row in await events(vision_client)] == ["analysed"]


async def test_rate_limit_beyond_retries_is_503(
    vision_client: AppClient, openai_peer: FakeOpenAI, settings: EdgeSettings
) -> None:
    """429 on every attempt is 503 vision_rate_limited after 1 + max_retries requests."""
    openai_peer.queue(*[Reply(status=429)] * 3)
    frame = await fail_with(vision_client, 503, "vision_rate_limited")
    assert len(openai_peer.requests) == 1 + settings.vision.max_retries
    await assert_kept_as_failed(vision_client, settings, frame, "vision_rate_limited")


async def test_server_errors_beyond_retries_are_502(
    vision_client: AppClient, openai_peer: FakeOpenAI, settings: EdgeSettings
) -> None:
    """500 on every attempt is 502 vision_unavailable after 1 + max_retries requests."""
    openai_peer.queue(*[Reply(status=500)] * 3)
    frame = await fail_with(vision_client, 502, "vision_unavailable")
    assert len(openai_peer.requests) == 1 + settings.vision.max_retries
    await assert_kept_as_failed(vision_client, settings, frame, "vision_unavailable")


async def test_timeout_is_504(
    start_app: StartApp, openai_peer: FakeOpenAI, settings: EdgeSettings
) -> None:
    """A peer slower than the timeout, with no retries, is 504 vision_timeout."""
    client = await start_app(
        openai_api_key=SecretStr("sk-test-not-a-real-key"),
        openai_base_url=openai_peer.base_url,
        vision_timeout_seconds=0.3,
        vision_max_retries=0,
    )
    openai_peer.queue(Reply(delay=1.0))
    frame = await fail_with(client, 504, "vision_timeout")
    assert len(openai_peer.requests) == 1
    await assert_kept_as_failed(client, settings, frame, "vision_timeout")


async def test_malformed_json_output_is_bad_output(
    vision_client: AppClient, openai_peer: FakeOpenAI, settings: EdgeSettings
) -> None:
    """Output text that is not JSON is 502 model_bad_output."""
    openai_peer.queue(Reply(body=response_body('{"isStudying": true, "topic": ')))
    frame = await fail_with(vision_client, 502, "model_bad_output")
    await assert_kept_as_failed(vision_client, settings, frame, "model_bad_output")


async def test_json_missing_a_field_is_bad_output(
    vision_client: AppClient, openai_peer: FakeOpenAI, settings: EdgeSettings
) -> None:
    """A JSON answer without extractedText is 502 model_bad_output."""
    partial = {k: v for k, v in DEFAULT_ANALYSIS.items() if k != "extractedText"}
    openai_peer.queue(Reply(body=response_body(json.dumps(partial))))
    frame = await fail_with(vision_client, 502, "model_bad_output")
    await assert_kept_as_failed(vision_client, settings, frame, "model_bad_output")


async def test_incomplete_response_is_bad_output(
    vision_client: AppClient, openai_peer: FakeOpenAI, settings: EdgeSettings
) -> None:
    """A response cut at max_output_tokens is 502 model_bad_output, even if its text parses."""
    body = response_body(
        json.dumps(DEFAULT_ANALYSIS), status="incomplete", reason="max_output_tokens"
    )
    openai_peer.queue(Reply(body=body))
    frame = await fail_with(vision_client, 502, "model_bad_output")
    await assert_kept_as_failed(vision_client, settings, frame, "model_bad_output")


async def test_empty_output_text_is_bad_output(
    vision_client: AppClient, openai_peer: FakeOpenAI, settings: EdgeSettings
) -> None:
    """A completed response with blank text (a refusal) is 502 model_bad_output."""
    openai_peer.queue(Reply(body=response_body("   ")))
    frame = await fail_with(vision_client, 502, "model_bad_output")
    await assert_kept_as_failed(vision_client, settings, frame, "model_bad_output")


async def test_unauthorised_key_is_rejected(
    vision_client: AppClient, openai_peer: FakeOpenAI, settings: EdgeSettings
) -> None:
    """401 is 502 vision_rejected with no retry."""
    openai_peer.queue(Reply(status=401))
    frame = await fail_with(vision_client, 502, "vision_rejected")
    assert len(openai_peer.requests) == 1
    await assert_kept_as_failed(vision_client, settings, frame, "vision_rejected")


async def test_unreachable_provider_is_unavailable(
    start_app: StartApp, settings: EdgeSettings
) -> None:
    """A base URL where nothing listens is 502 vision_unavailable."""
    client = await start_app(
        openai_api_key=SecretStr("sk-test-not-a-real-key"),
        openai_base_url="http://127.0.0.1:9/v1",
        vision_max_retries=0,
    )
    frame = await fail_with(client, 502, "vision_unavailable")
    await assert_kept_as_failed(client, settings, frame, "vision_unavailable")


@pytest.fixture
async def keyless_client(start_app: StartApp, monkeypatch: pytest.MonkeyPatch) -> AppClient:
    """The app with no API key in settings or in the environment."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return await start_app()


async def test_no_api_key_is_not_configured(
    keyless_client: AppClient, settings: EdgeSettings
) -> None:
    """With no key anywhere, a frame is 503 vision_not_configured."""
    frame = await fail_with(keyless_client, 503, "vision_not_configured")
    await assert_kept_as_failed(keyless_client, settings, frame, "vision_not_configured")


async def test_failed_frame_is_counted_in_metrics(
    vision_client: AppClient, openai_peer: FakeOpenAI
) -> None:
    """A failed model call shows as a failed frame and a model call with its error code."""
    openai_peer.queue(Reply(status=401))
    await fail_with(vision_client, 502, "vision_rejected")
    text = metrics_text(vision_client)
    assert 'studylens_frames_total{outcome="failed"} 1.0' in text
    assert 'studylens_model_calls_total{result="vision_rejected"} 1.0' in text


async def test_failure_is_not_remembered_by_the_duplicate_gate(
    vision_client: AppClient, openai_peer: FakeOpenAI
) -> None:
    """The same frame sent again after a failure calls the model again and succeeds."""
    openai_peer.queue(Reply(status=401))
    frame = await fail_with(vision_client, 502, "vision_rejected")
    data = await data_of(await vision_client.post(ROUTE, data=form(frame)))
    assert data["reused"] is False
    assert data["analysis"] == DEFAULT_ANALYSIS
    assert len(openai_peer.requests) == 2


async def test_provider_body_that_is_not_json_is_a_recorded_502(
    vision_client: AppClient, openai_peer: FakeOpenAI, settings: EdgeSettings
) -> None:
    """HTTP 200 with a body that is not JSON (a broken proxy) is a 502 and recorded as failed."""
    openai_peer.queue(Reply(body="<html>502 Bad Gateway</html>"))
    frame = images.jpeg(640, 480)
    response = await vision_client.post(ROUTE, data=form(frame))
    body = await response.json()
    assert response.status == 502, body
    await assert_kept_as_failed(vision_client, settings, frame, body["error"]["code"])
