"""The routes behind the dashboard, live events, and who may use them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import ClientSession
from aiohttp.test_utils import make_mocked_request

from edge.http.auth import is_local, same_origin
from tests.fakes.images import jpeg
from tests.support import (
    AppClient,
    FakeClock,
    data_of,
    error_of,
    start_session,
    track,
    upload,
)


async def test_today_board_shows_totals_split_and_the_running_timeline(
    client: AppClient, clock: FakeClock
) -> None:
    """Today's board has per-topic time, the engagement split and the live segments."""
    session_id = await start_session(client)
    await track(client, clock, session_id, "Biology")
    clock.advance(120)
    await track(client, clock, session_id, "Math")
    clock.advance(60)
    await track(client, clock, session_id, "Math")
    await client.post("/api/help-count", json={"sessionId": session_id})
    board = await data_of(await client.get("/api/dashboard/today"))
    assert board["date"] == "2026-11-25"
    assert [(s["topic"], s["durationSeconds"]) for s in board["stats"]["topicStats"]] == [
        ("Biology", 120),
        ("Math", 60),
    ]
    assert board["split"] == {"active": 3, "passive": 0, "distracted": 0}
    assert board["current"]["sessionId"] == session_id
    assert [(g["topic"], g["running"]) for g in board["current"]["segments"]] == [
        ("Biology", False),
        ("Math", True),
    ]
    assert board["helpRequests"] == 1


async def test_today_board_without_a_session(client: AppClient) -> None:
    """With nothing running the board says so and counts zero."""
    board = await data_of(await client.get("/api/dashboard/today"))
    assert board["current"] is None
    assert board["stats"]["totalSeconds"] == 0


async def test_recent_frames_carry_their_analysis_and_bookmarks(vision_client: AppClient) -> None:
    """Recent frames come newest first with analysis, image link and bookmark flag."""
    first = await upload(vision_client, jpeg(640, 480, seed=1))
    second = await upload(vision_client, jpeg(640, 480, seed=2))
    note = {"sessionId": first["sessionId"], "analysisId": first["analysisId"], "note": "x"}
    await data_of(await vision_client.post("/api/bookmark", json=note), 201)
    frames = (await data_of(await vision_client.get("/api/frames/recent?limit=5")))["frames"]
    assert [f["analysisId"] for f in frames] == [second["analysisId"], first["analysisId"]]
    assert [f["bookmarked"] for f in frames] == [False, True]
    assert frames[0]["imageUrl"] == f"/api/images/{second['imageKey']}"
    assert frames[0]["analysis"]["topic"] == "Biology"


async def test_bad_limits_are_400s(client: AppClient) -> None:
    """`limit` must be a whole number in range."""
    for url in (
        "/api/frames/recent?limit=0",
        "/api/frames/recent?limit=x",
        "/api/sessions?limit=999",
    ):
        assert (await error_of(await client.get(url), 400))["code"] == "invalid_request"


async def test_sessions_are_listed_with_totals(client: AppClient, clock: FakeClock) -> None:
    """The session list has each session's totals, newest first."""
    first = await start_session(client)
    await track(client, clock, first, "Art")
    clock.advance(90)
    await client.post(f"/api/session/{first}/end")
    second = await start_session(client)
    listed = (await data_of(await client.get("/api/sessions")))["sessions"]
    assert [s["sessionId"] for s in listed] == [second, first]
    assert listed[1]["totalSeconds"] == 90


async def test_a_pairing_code_from_the_dashboard_pairs_a_phone(owner: AppClient) -> None:
    """The code and QR the dashboard shows are accepted by POST /api/pair."""
    offer = await data_of(await owner.post("/api/pair/code"))
    assert offer["qrSvg"].startswith("<svg")
    assert f"code={offer['code']}" in offer["pairUrl"]
    paired = await owner.post("/api/pair", json={"code": offer["code"], "deviceName": "Pixel"})
    token = (await data_of(paired, 201))["token"]
    devices = (await data_of(await owner.get("/api/devices")))["devices"]
    assert "Pixel" in [d["name"] for d in devices]
    assert token


async def test_revoking_a_device_from_the_dashboard(owner: AppClient) -> None:
    """A revoked phone is listed as revoked; an unknown id is a 404."""
    offer = await data_of(await owner.post("/api/pair/code"))
    await data_of(
        await owner.post("/api/pair", json={"code": offer["code"], "deviceName": "Old phone"}), 201
    )
    devices = (await data_of(await owner.get("/api/devices")))["devices"]
    [old] = [d for d in devices if d["name"] == "Old phone"]
    await data_of(await owner.delete(f"/api/devices/{old['deviceId']}"))
    devices = (await data_of(await owner.get("/api/devices")))["devices"]
    assert [d["revokedAt"] is not None for d in devices if d["name"] == "Old phone"] == [True]
    await error_of(await owner.delete("/api/devices/no-such-device"), 404)


async def read_events(
    client: AppClient, count: int, connected: asyncio.Event | None = None
) -> list[Any]:
    """The first `count` events of the stream (5 s at most); `connected` is set once subscribed."""
    found: list[Any] = []
    async with asyncio.timeout(5):
        response = await client.get("/api/events")
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/event-stream"
        kind = None
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line == ": connected" and connected is not None:
                connected.set()
            elif line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                found.append((kind, json.loads(line[6:])))
                if len(found) == count:
                    response.close()
                    return found
    return found


async def test_events_announce_sessions_and_frames(vision_client: AppClient) -> None:
    """A new session and a new frame reach an open event stream."""
    connected = asyncio.Event()
    reader = asyncio.create_task(read_events(vision_client, 2, connected))
    await connected.wait()  # the daemon subscribes the stream before it says so
    frame = await upload(vision_client, jpeg(640, 480))
    events = await reader
    assert events[0] == ("session", {"change": "started", "sessionId": frame["sessionId"]})
    assert events[1][0] == "frame"
    assert events[1][1]["analysisId"] == frame["analysisId"]
    assert events[1][1]["topic"] == "Biology"


async def test_the_event_stream_takes_the_token_as_a_query(client: AppClient) -> None:
    """Browsers cannot set headers on EventSource: `?token=` works there."""
    token = client.session.headers["Authorization"].split(" ", 1)[1]
    async with ClientSession() as anonymous:
        url = client.make_url(f"/api/events?token={token}")
        async with anonymous.get(url) as response:
            assert response.status == 200
        async with anonymous.get(client.make_url("/api/events")) as response:
            assert response.status == 401


async def test_the_page_and_its_assets_are_open(client: AppClient) -> None:
    """The page and its scripts load without a token; they hold no data."""
    async with ClientSession() as anonymous:
        for path in ("/", "/static/app.js", "/static/vendor/chart.umd.min.js"):
            async with anonymous.get(client.make_url(path)) as response:
                assert response.status == 200, path


async def test_localhost_needs_no_token_when_open(start_app: Any) -> None:
    """With `open_on_localhost`, this computer's browser reads the API without a token."""
    client = await start_app(open_on_localhost=True)
    async with (
        ClientSession() as local,
        local.get(client.make_url("/api/dashboard/today")) as response,
    ):
        assert response.status == 200


async def test_cross_site_posts_to_localhost_are_refused(start_app: Any) -> None:
    """A page of another site cannot make the local browser change anything."""
    client = await start_app(open_on_localhost=True)
    async with ClientSession() as local:
        evil = {"Origin": "https://evil.example"}
        async with local.post(client.make_url("/api/pair/code"), headers=evil) as response:
            assert response.status == 403
        own = {"Origin": f"http://{client.host}:{client.port}"}
        async with local.post(client.make_url("/api/pair/code"), headers=own) as response:
            assert response.status == 200


def test_loopback_peers_are_local_and_others_not() -> None:
    """Only loopback peer addresses count as this computer."""

    def request_from(peer: str) -> Any:
        request = make_mocked_request("GET", "/", headers={"Host": "laptop.local:8765"})
        return request.clone(remote=peer)

    assert is_local(request_from("127.0.0.1"))
    assert is_local(request_from("::1"))
    assert not is_local(request_from("192.168.1.20"))
    assert not is_local(request_from("not an address"))  # a Unix socket's peer, say


def test_origin_must_name_this_host() -> None:
    """No Origin (curl, the CLI) or our own origin pass; another site's does not."""

    def request_with(origin: str | None) -> Any:
        headers = {"Host": "localhost:8765"} | ({"Origin": origin} if origin else {})
        return make_mocked_request("POST", "/api/pair/code", headers=headers)

    assert same_origin(request_with(None))
    assert same_origin(request_with("http://localhost:8765"))
    assert not same_origin(request_with("http://localhost:9999"))
    assert not same_origin(request_with("https://evil.example"))
