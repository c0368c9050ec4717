"""POST /api/upload-and-analyze end to end, through the real openai SDK against the fake peer."""

from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image

from tests.fakes import images
from tests.fakes.openai_peer import FakeOpenAI
from tests.support import AppClient, upload


def sent_image(request: dict[str, Any]) -> Image.Image:
    """Decode the data-URL image the daemon sent to the model."""
    [message] = request["input"]
    [image_part] = [p for p in message["content"] if p["type"] == "input_image"]
    prefix, encoded = image_part["image_url"].split(",", 1)
    assert prefix == "data:image/jpeg;base64"
    return Image.open(io.BytesIO(base64.b64decode(encoded)))


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
