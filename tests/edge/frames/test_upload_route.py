"""POST /api/upload-and-analyze end to end, through the real openai SDK against the fake peer."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from PIL import Image

from tests.fakes import images
from tests.fakes.openai_peer import FakeOpenAI
from tests.support import AppClient, upload


def sent_bytes(request: dict[str, Any]) -> bytes:
    """The JPEG the daemon sent to the model, from its data URL."""
    [message] = request["input"]
    [image_part] = [p for p in message["content"] if p["type"] == "input_image"]
    prefix, encoded = image_part["image_url"].split(",", 1)
    assert prefix == "data:image/jpeg;base64"
    return base64.b64decode(encoded)


def sent_image(request: dict[str, Any]) -> Image.Image:
    """Decode the data-URL image the daemon sent to the model."""
    return Image.open(io.BytesIO(sent_bytes(request)))


async def test_frame_is_analysed_in_one_request(
    vision_client: AppClient, openai_peer: FakeOpenAI
) -> None:
    """The phone gets the model's analysis, ids and image links back in the envelope."""
    data = await upload(vision_client, images.jpeg())
    assert data["analysis"] == openai_peer.analysis
    assert data["reused"] is False
    assert data["analysisId"]
    assert data["sessionId"]
    assert data["source"] == "gpt-4.1-2025-04-14"
    assert data["imageKey"].endswith(".jpg")
    assert len(data["imageKey"]) == 68
    assert data["s3Key"] == data["imageKey"]
    assert data["s3Url"] == data["imageUrl"]
    assert data["imageUrl"].endswith(f"/api/images/{data['imageKey']}")


async def test_request_to_the_model_follows_the_contract(
    vision_client: AppClient, openai_peer: FakeOpenAI
) -> None:
    """Model, strict schema, store false, output cap, and a downscaled data-URL image."""
    await upload(vision_client, images.jpeg(4000, 3000))
    [request] = openai_peer.requests
    assert request["model"] == "gpt-4.1"
    assert request["store"] is False
    assert request["max_output_tokens"] == 120 + 300 // 2 + 1
    answer_format = request["text"]["format"]
    assert (answer_format["type"], answer_format["strict"]) == ("json_schema", True)
    assert answer_format["schema"]["additionalProperties"] is False
    assert set(answer_format["schema"]["required"]) == {
        "isStudying",
        "isActive",
        "isDistracted",
        "topic",
        "subtopic",
        "extractedText",
    }
    assert "Biology" in request["instructions"]
    image = sent_image(request)
    assert min(image.size) <= 768
    assert image.getexif() == {}
    assert openai_peer.headers[0]["Authorization"] == "Bearer sk-test-not-a-real-key"


async def test_original_is_served_back_byte_for_byte(vision_client: AppClient) -> None:
    """ImageUrl returns exactly the uploaded bytes."""
    frame = images.jpeg(seed=3)
    data = await upload(vision_client, frame)
    response = await vision_client.get(f"/api/images/{data['imageKey']}")
    assert response.status == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert await response.read() == frame


@pytest.mark.parametrize(
    ("width", "height"), [(720, 1280), (504, 896), (360, 640)], ids=["720p", "504p", "360p"]
)
async def test_glasses_frame_reaches_the_model_as_sent_without_metadata(
    vision_client: AppClient, openai_peer: FakeOpenAI, width: int, height: int
) -> None:
    """A toolkit-size frame goes to the model as its own JPEG, EXIF cut out, kept whole."""
    plain = images.jpeg(width, height)
    exif = Image.Exif()
    exif[0x0110] = "StudyLens Test Camera"
    exif.get_ifd(0x8825)[2] = (52.0, 31.0, 12.5)  # GPSLatitude
    app1 = b"Exif\x00\x00" + exif.tobytes()
    sent = plain[:2] + b"\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1 + plain[2:]
    data = await upload(vision_client, sent)
    [request] = openai_peer.requests
    assert sent_bytes(request) == plain
    assert sent_image(request).size == (width, height)
    response = await vision_client.get(f"/api/images/{data['imageKey']}")
    assert await response.read() == sent  # the original is kept as it came


async def test_a_repeated_glasses_frame_is_a_duplicate(
    vision_client: AppClient, openai_peer: FakeOpenAI
) -> None:
    """The pass-through path's hash feeds the duplicate gate like the decode path's."""
    frame = images.jpeg(720, 1280, seed=4)
    first = await upload(vision_client, frame)
    again = await upload(vision_client, frame, first["sessionId"])
    other = await upload(vision_client, images.jpeg(720, 1280, seed=5), first["sessionId"])
    assert (first["reused"], again["reused"], other["reused"]) == (False, True, False)
    assert len(openai_peer.requests) == 2
