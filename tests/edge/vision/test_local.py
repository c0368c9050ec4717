"""The on-device analyser with real OCR (RapidOCR, models from the wheel) on generated pages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import SecretStr

from edge.app import make_vision, vision_backend
from edge.settings import EdgeSettings
from edge.vision.hybrid import HybridVision
from edge.vision.local import SOURCE, LocalVision
from edge.vision.openai_vision import OpenAIVision
from tests.fakes.pages import PAGES, page
from tests.support import upload


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> LocalVision:
    """One OCR engine for the module (loading it takes a moment)."""
    return LocalVision(cache_dir=tmp_path_factory.mktemp("ocr-cache"), max_text_chars=300)


def test_ocr_reads_a_printed_page(reader: LocalVision) -> None:
    """The words on a rendered page come back as text."""
    text = reader.read_text(page(PAGES["Biology"])).lower()
    for word in ("mitosis", "prophase", "chromosome"):
        assert word in text


@pytest.mark.parametrize("topic", sorted(PAGES))
async def test_each_topic_page_is_recognised(reader: LocalVision, topic: str) -> None:
    """A page of each topic is analysed as that topic, studying, from the device."""
    answer = await reader.analyse(page(PAGES[topic]))
    analysis = json.loads(answer.text)
    assert (analysis["topic"], analysis["isStudying"], answer.source) == (topic, True, SOURCE)
    assert analysis["isActive"] is False  # printed text cannot show the student working
    assert answer.confidence is not None
    assert answer.confidence > 0


async def test_a_blank_view_is_not_study(reader: LocalVision) -> None:
    """A page with no text is Unknown and not studying."""
    analysis = json.loads((await reader.analyse(page([]))).text)
    assert (analysis["topic"], analysis["isStudying"], analysis["extractedText"]) == (
        "Unknown",
        False,
        "",
    )


def test_auto_is_the_model_with_a_key_and_local_without(settings: EdgeSettings) -> None:
    """`auto` picks OpenAI when a key is set, else the device."""
    auto = settings.updated(vision_backend="auto", openai_api_key=None)
    keyed = auto.updated(openai_api_key=SecretStr("sk-x"))
    assert vision_backend(auto) in ("local", "openai")  # $OPENAI_API_KEY may be set
    assert vision_backend(keyed) == "openai"


def test_each_backend_builds_its_analyser(settings: EdgeSettings, monkeypatch: Any) -> None:
    """local, openai and hybrid make the matching analyser."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    key = {"openai_api_key": SecretStr("sk-x")}
    assert isinstance(make_vision(settings.updated(vision_backend="local")), LocalVision)
    assert isinstance(make_vision(settings.updated(vision_backend="openai", **key)), OpenAIVision)
    assert isinstance(make_vision(settings.updated(vision_backend="hybrid", **key)), HybridVision)
    assert vision_backend(settings.updated(vision_backend="auto")) == "local"


async def test_frames_are_analysed_on_the_device_without_a_key(start_app: Any) -> None:
    """With the local backend a posted page comes back analysed, marked on-device."""
    client = await start_app(vision_backend="local")
    answer = await upload(client, page(PAGES["Chemistry"]))
    assert answer["analysis"]["topic"] == "Chemistry"
    assert answer["source"] == SOURCE
    assert answer["confidence"] > 0


@pytest.mark.parametrize(
    ("width", "height"), [(720, 1280), (504, 896), (360, 640)], ids=["720p", "504p", "360p"]
)
async def test_glasses_frame_sizes_are_analysed_on_the_device(
    start_app: Any, width: int, height: int
) -> None:
    """Portrait pages of the glasses toolkit's frame sizes are read through the pipeline."""
    client = await start_app(vision_backend="local")
    frame = page(PAGES["Biology"], width=width, height=height, size=width * 44 // 960)
    answer = await upload(client, frame)
    assert (answer["analysis"]["topic"], answer["source"]) == ("Biology", SOURCE)
    assert "mitosis" in answer["analysis"]["extractedText"].lower()
