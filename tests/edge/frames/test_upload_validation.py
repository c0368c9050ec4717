"""Bad uploads to POST /api/upload-and-analyze: each gets its code, no model call, daemon up."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import ClientResponse, FormData
from pydantic import SecretStr

from tests.fakes import images
from tests.fakes.openai_peer import FakeOpenAI
from tests.support import AppClient, StartApp, data_of, error_of, form, start_session

ROUTE = "/api/upload-and-analyze"
BOUNDARY = "studylens-test-boundary"


async def assert_refused(
    client: AppClient, peer: FakeOpenAI, response: ClientResponse, status: int, code: str
) -> None:
    """The upload got `status` and `code` in the envelope, no model call, and the daemon is up."""
    error = await error_of(response, status)
    assert error["code"] == code, error
    assert error["message"]
    assert peer.requests == []
    assert (await client.get("/healthz")).status == 200


def multipart_body(data: bytes, field: str = "image") -> bytes:
    """A multipart/form-data body with one file part, built by hand."""
    head = (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="frame.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{BOUNDARY}--\r\n".encode()


async def chunks(body: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """Yield `body` in pieces, so the client sends it chunked, with no Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


async def configured(start_app: StartApp, peer: FakeOpenAI, **overrides: object) -> AppClient:
    """An app pointed at the fake peer, with extra settings."""
    return await start_app(
        openai_api_key=SecretStr("sk-test-not-a-real-key"),
        openai_base_url=peer.base_url,
        vision_timeout_seconds=5,
        **overrides,
    )


def padded_jpeg(total: int) -> bytes:
    """A valid JPEG of exactly `total` bytes (padding after the end marker is ignored)."""
    frame = images.jpeg(320, 240, seed=11)
    assert len(frame) < total
    return frame + b"\x00" * (total - len(frame))


async def test_form_without_image_field_is_missing_image(
    vision_client: AppClient, openai_peer: FakeOpenAI
) -> None:
    """A form with only a text field is 400 missing_image."""
    body = FormData()
    body.add_field("note", "no picture here")
    body.add_field("other", io.BytesIO(b"x"), filename="x.txt", content_type="text/plain")
    response = await vision_client.post(ROUTE, data=body)
    await assert_refused(vision_client, openai_peer, response, 400, "missing_image")


async def test_wrong_field_name_is_missing_image(
    vision_client: AppClient, openai_peer: FakeOpenAI
) -> None:
    """A real JPEG under the field `file` instead of `image` is 400 missing_image."""
    response = await vision_client.post(ROUTE, data=form(images.jpeg(), field="file"))
    await assert_refused(vision_client, openai_peer, response, 400, "missing_image")


async def test_empty_file_is_missing_image(
    vision_client: AppClient, openai_peer: FakeOpenAI
) -> None:
    """An `image` field with no bytes is 400 missing_image."""
    response = await vision_client.post(ROUTE, data=form(b""))
    await assert_refused(vision_client, openai_peer, response, 400, "missing_image")


async def test_eleven_megabytes_with_content_length_is_too_large(
    vision_client: AppClient, openai_peer: FakeOpenAI
) -> None:
    """An 11 MB upload that declares its length is 413 image_too_large."""
    body = multipart_body(b"\xff\xd8\xff" + b"\x00" * (11 * 1024 * 1024))
    headers = {**MULTIPART, "Content-Length": str(len(body))}
    response = await vision_client.post(ROUTE, data=io.BytesIO(body), headers=headers)
    assert response.request_info.headers["Content-Length"] == str(len(body))
    await assert_refused(vision_client, openai_peer, response, 413, "image_too_large")


async def test_eleven_megabytes_streamed_is_too_large(
    vision_client: AppClient, openai_peer: FakeOpenAI
) -> None:
    """An 11 MB upload sent chunked, with no Content-Length, is 413 image_too_large."""
    body = multipart_body(b"\xff\xd8\xff" + b"\x00" * (11 * 1024 * 1024))
    response = await vision_client.post(ROUTE, data=chunks(body), headers=MULTIPART)
    assert response.request_info.headers.get("Transfer-Encoding") == "chunked"
    await assert_refused(vision_client, openai_peer, response, 413, "image_too_large")


async def test_image_over_limit_within_envelope_allowance_is_too_large(
    start_app: StartApp, openai_peer: FakeOpenAI
) -> None:
    """An image one byte over the limit is 413 even though the whole body passes the early check."""
    client = await configured(start_app, openai_peer, max_image_bytes=200_000)
    response = await client.post(ROUTE, data=form(padded_jpeg(200_001)))
    await assert_refused(client, openai_peer, response, 413, "image_too_large")


async def test_image_exactly_at_limit_is_accepted(
    start_app: StartApp, openai_peer: FakeOpenAI
) -> None:
    """An image of exactly `max_image_bytes` is analysed."""
    client = await configured(start_app, openai_peer, max_image_bytes=200_000)
    data = await data_of(await client.post(ROUTE, data=form(padded_jpeg(200_000))))
    assert data["analysis"] == openai_peer.analysis


async def test_text_file_named_jpg_is_unsupported_type(
    vision_client: AppClient, openai_peer: FakeOpenAI
) -> None:
    """Text bytes declared as image/jpeg and named .jpg are 415 unsupported_image_type."""
    text = b"Hello, I am definitely a photo.\n" * 20
    response = await vision_client.post(ROUTE, data=form(text, filename="notes.jpg"))
    await assert_refused(vision_client, openai_peer, response, 415, "unsupported_image_type")


async def test_gif_is_unsupported_type(vision_client: AppClient, openai_peer: FakeOpenAI) -> None:
    """A real GIF, a format the model path does not take, is 415 unsupported_image_type."""
    gif = images.encode(images.scene(64, 48), "GIF")
    response = await vision_client.post(ROUTE, data=form(gif, filename="frame.gif"))
    await assert_refused(vision_client, openai_peer, response, 415, "unsupported_image_type")


async def test_truncated_jpeg_is_bad_image(
    vision_client: AppClient, openai_peer: FakeOpenAI
) -> None:
    """The first half of a JPEG is 400 bad_image."""
    frame = images.jpeg()
    response = await vision_client.post(ROUTE, data=form(frame[: len(frame) // 2]))
    await assert_refused(vision_client, openai_peer, response, 400, "bad_image")


async def test_png_bomb_is_too_many_pixels(
    vision_client: AppClient, openai_peer: FakeOpenAI
) -> None:
    """A tiny PNG claiming 30000x30000 pixels is 400 image_too_many_pixels."""
    response = await vision_client.post(ROUTE, data=form(images.png_bomb(), filename="x.png"))
    await assert_refused(vision_client, openai_peer, response, 400, "image_too_many_pixels")


async def test_png_wider_than_jpeg_allows_is_a_client_error(
    vision_client: AppClient, openai_peer: FakeOpenAI
) -> None:
    """A small PNG 70000x2 px (under the pixel cap) is refused with a 400, never a 500."""
    wide = images.encode(images.scene(70_000, 2), "PNG")
    response = await vision_client.post(ROUTE, data=form(wide, filename="wide.png"))
    body = await response.json()
    assert response.status == 400, body
    assert body["error"]["code"] in {"bad_image", "image_too_many_pixels"}, body


async def test_json_body_is_unsupported_media_type(
    vision_client: AppClient, openai_peer: FakeOpenAI
) -> None:
    """A JSON body instead of multipart is 415 unsupported_media_type."""
    response = await vision_client.post(ROUTE, json={"image": "aGVsbG8="})
    await assert_refused(vision_client, openai_peer, response, 415, "unsupported_media_type")


async def test_unknown_session_is_not_found(
    vision_client: AppClient, openai_peer: FakeOpenAI
) -> None:
    """A good frame for an X-Session-Id nobody started is 404 session_not_found."""
    headers = {"X-Session-Id": str(uuid.uuid4())}
    response = await vision_client.post(ROUTE, data=form(images.jpeg()), headers=headers)
    await assert_refused(vision_client, openai_peer, response, 404, "session_not_found")


async def test_ended_session_is_not_active(
    vision_client: AppClient, openai_peer: FakeOpenAI
) -> None:
    """A good frame for an ended session is 409 session_not_active."""
    session_id = await start_session(vision_client)
    await data_of(await vision_client.post(f"/api/session/{session_id}/end"))
    headers = {"X-Session-Id": session_id}
    response = await vision_client.post(ROUTE, data=form(images.jpeg()), headers=headers)
    await assert_refused(vision_client, openai_peer, response, 409, "session_not_active")


async def test_overlong_session_header_is_invalid_request(
    vision_client: AppClient, openai_peer: FakeOpenAI
) -> None:
    """An X-Session-Id longer than any id is 400 invalid_request."""
    headers = {"X-Session-Id": "s" * 65}
    response = await vision_client.post(ROUTE, data=form(images.jpeg()), headers=headers)
    await assert_refused(vision_client, openai_peer, response, 400, "invalid_request")


async def test_png_is_accepted_by_content(
    vision_client: AppClient, openai_peer: FakeOpenAI
) -> None:
    """A PNG declared as image/jpeg named .jpg is analysed and stored as .png."""
    frame = images.png(seed=4)
    data = await data_of(await vision_client.post(ROUTE, data=form(frame, filename="f.jpg")))
    assert data["analysis"] == openai_peer.analysis
    assert data["imageKey"].endswith(".png")
    served = await vision_client.get(f"/api/images/{data['imageKey']}")
    assert served.headers["Content-Type"] == "image/png"
    assert await served.read() == frame


async def test_webp_is_accepted_by_content(
    vision_client: AppClient, openai_peer: FakeOpenAI
) -> None:
    """A WebP frame is analysed and stored as .webp."""
    frame = images.webp(seed=5)
    data = await data_of(await vision_client.post(ROUTE, data=form(frame, filename="f.jpg")))
    assert data["analysis"] == openai_peer.analysis
    assert data["imageKey"].endswith(".webp")
    assert len(openai_peer.requests) == 1


async def test_daemon_still_serves_after_every_bad_upload(
    start_app: StartApp, openai_peer: FakeOpenAI
) -> None:
    """After a run of bad uploads on one app, a good frame is analysed by the first model call."""
    client = await configured(start_app, openai_peer, max_image_bytes=200_000)
    frame = images.jpeg()
    ended = await start_session(client)
    await data_of(await client.post(f"/api/session/{ended}/end"))
    bad: list[Callable[[], Awaitable[ClientResponse]]] = [
        lambda: client.post(ROUTE, data=form(b"")),
        lambda: client.post(ROUTE, data=form(frame, field="file")),
        lambda: client.post(
            ROUTE, data=multipart_body(b"\xff\xd8\xff" + bytes(300_000)), headers=MULTIPART
        ),
        lambda: client.post(ROUTE, data=chunks(multipart_body(bytes(300_000))), headers=MULTIPART),
        lambda: client.post(ROUTE, data=form(b"plain text")),
        lambda: client.post(ROUTE, data=form(frame[:1000])),
        lambda: client.post(ROUTE, data=form(images.png_bomb())),
        lambda: client.post(ROUTE, json={}),
        lambda: client.post(ROUTE, data=form(frame), headers={"X-Session-Id": "nope"}),
        lambda: client.post(ROUTE, data=form(frame), headers={"X-Session-Id": ended}),
    ]
    statuses = []
    for send in bad:
        response = await send()
        await response.read()
        statuses.append(response.status)
    assert statuses == [400, 400, 413, 413, 415, 400, 400, 415, 404, 409]
    assert openai_peer.requests == []
    assert (await client.get("/healthz")).status == 200
    data = await data_of(await client.post(ROUTE, data=form(frame)))
    assert data["analysis"] == openai_peer.analysis
    assert len(openai_peer.requests) == 1


async def test_rejected_upload_starts_no_session(
    vision_client: AppClient, openai_peer: FakeOpenAI
) -> None:
    """A frame that does not decode, sent with no session running, leaves no session behind."""
    frame = images.jpeg()
    response = await vision_client.post(ROUTE, data=form(frame[: len(frame) // 2]))
    await assert_refused(vision_client, openai_peer, response, 400, "bad_image")
    health = await data_of(await vision_client.get("/healthz"))
    assert health["activeSessions"] == 0
