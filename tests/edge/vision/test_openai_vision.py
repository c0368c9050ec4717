"""The OpenAI vision port: the prompt, the output cap, and what reaches the provider."""

from __future__ import annotations

import re

import pytest
from pydantic import SecretStr

from edge.vision.openai_vision import JSON_OVERHEAD_TOKENS, output_token_cap, render_prompt
from shared.topics import STUDY_TOPICS, topic_choices
from tests.fakes import images
from tests.fakes.openai_peer import MODEL_SNAPSHOT, FakeOpenAI
from tests.support import AppClient, StartApp, upload


@pytest.mark.parametrize(
    "topics",
    [STUDY_TOPICS, ("Biology", "Math", "English", "Chemistry"), ("Latin", "Greek")],
    ids=["default", "four", "custom"],
)
def test_prompt_names_every_topic_choice(topics: tuple[str, ...]) -> None:
    """The prompt lists the configured topics, Other and Unknown."""
    prompt = render_prompt(topics, 300)
    for name in topic_choices(topics):
        assert name in prompt
    assert ", ".join(topic_choices(topics)) in prompt


def test_prompt_states_the_text_cap() -> None:
    """The prompt tells the model the extractedText character cap."""
    assert re.search(r"at most\s+417\s+characters", render_prompt(STUDY_TOPICS, 417))


def test_prompt_has_no_unfilled_placeholder() -> None:
    """Every $placeholder of prompt.md is filled."""
    assert not re.search(r"\$\{?[a-z_]+", render_prompt(STUDY_TOPICS, 300))


def test_prompt_names_every_schema_field() -> None:
    """The prompt explains each field the schema asks for."""
    prompt = render_prompt(STUDY_TOPICS, 300)
    for field in ("isStudying", "isActive", "isDistracted", "topic", "subtopic", "extractedText"):
        assert f"{field}:" in prompt


@pytest.mark.parametrize(
    ("chars", "tokens"), [(0, JSON_OVERHEAD_TOKENS + 1), (300, 271), (301, 271), (4000, 2121)]
)
def test_output_token_cap(chars: int, tokens: int) -> None:
    """The cap is the JSON overhead plus one token per two characters, plus one."""
    assert output_token_cap(chars) == tokens


def test_output_token_cap_covers_the_text() -> None:
    """The cap always leaves at least one token per two characters beyond the JSON overhead."""
    for chars in range(0, 4001, 7):
        assert output_token_cap(chars) - JSON_OVERHEAD_TOKENS >= chars / 2


async def test_request_carries_the_configured_detail_and_cap(
    start_app: StartApp, openai_peer: FakeOpenAI
) -> None:
    """vision_detail and extracted_text_max_chars reach the request as detail and the token cap."""
    client = await start_app(
        openai_api_key=SecretStr("sk-test-not-a-real-key"),
        openai_base_url=openai_peer.base_url,
        vision_detail="low",
        extracted_text_max_chars=100,
        vision_model="gpt-4.1-mini",
    )
    await upload(client, images.jpeg(640, 480))
    [request] = openai_peer.requests
    [message] = request["input"]
    [image] = [part for part in message["content"] if part["type"] == "input_image"]
    assert image["detail"] == "low"
    assert request["max_output_tokens"] == output_token_cap(100)
    assert request["model"] == "gpt-4.1-mini"
    assert request["instructions"] == render_prompt(STUDY_TOPICS, 100)


async def test_request_schema_follows_configured_topics(
    start_app: StartApp, openai_peer: FakeOpenAI
) -> None:
    """A configured topic list is the schema's topic enum."""
    client = await start_app(
        openai_api_key=SecretStr("sk-test-not-a-real-key"),
        openai_base_url=openai_peer.base_url,
        topics=["Biology", "Latin"],
    )
    await upload(client, images.jpeg(640, 480))
    schema = openai_peer.requests[0]["text"]["format"]["schema"]
    assert schema["properties"]["topic"]["enum"] == ["Biology", "Latin", "Other", "Unknown"]


async def test_source_is_the_model_snapshot(
    vision_client: AppClient, openai_peer: FakeOpenAI
) -> None:
    """The answer's source is the model the provider says answered."""
    data = await upload(vision_client, images.jpeg(640, 480))
    assert data["source"] == MODEL_SNAPSHOT


async def test_sdk_environment_variables_are_honoured(
    start_app: StartApp, openai_peer: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no key or URL in settings, $OPENAI_API_KEY and $OPENAI_BASE_URL are used."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-environment")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_peer.base_url)
    client = await start_app()
    await upload(client, images.jpeg(640, 480))
    assert openai_peer.headers[0]["Authorization"] == "Bearer sk-from-environment"


async def test_settings_key_wins_over_the_environment(
    start_app: StartApp, openai_peer: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key in the settings is used even when $OPENAI_API_KEY is set."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-environment")
    client = await start_app(
        openai_api_key=SecretStr("sk-from-settings"), openai_base_url=openai_peer.base_url
    )
    await upload(client, images.jpeg(640, 480))
    assert openai_peer.headers[0]["Authorization"] == "Bearer sk-from-settings"
