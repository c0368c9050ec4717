"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright.

Screenshots of each page are saved under `test-artifacts/screenshots/`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from playwright.async_api import Browser, Page, async_playwright
from pydantic import SecretStr

from tests.fakes.images import jpeg
from tests.fakes.openai_peer import FakeOpenAI
from tests.support import AppClient, FakeClock, data_of, services_of, upload

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
PAGES = ("today", "history", "frames", "devices")


@pytest.fixture
def chromium() -> str:
    """Debian's Chromium (never a downloaded one), or a clear failure."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: the test command installs Debian's chromium")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    """A headless Chromium for one test."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def dashboard(start_app: Any, openai_peer: FakeOpenAI) -> AppClient:
    """The daemon with a vision model, open to this computer's browser as in production."""
    client: AppClient = await start_app(
        open_on_localhost=True,
        openai_api_key=SecretStr("sk-test-not-a-real-key"),
        openai_base_url=openai_peer.base_url,
    )
    return client


class Console:
    """What the page logged as errors, and uncaught exceptions."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))


async def open_page(browser: Browser, dashboard: AppClient, name: str, **kw: Any) -> Page:
    """A tab showing one dashboard page, loaded."""
    page = await browser.new_page(**kw)
    page.console = Console(page)  # type: ignore[attr-defined]
    await page.goto(str(dashboard.make_url(f"/#{name}")))
    await page.wait_for_selector(f'body[data-loaded="{name}"]', timeout=10_000)
    return page


async def study(dashboard: AppClient, clock: FakeClock, topics: list[tuple[str, int]]) -> str:
    """A running session that spent `seconds` on each topic, in order."""
    from tests.support import ACTIVE

    services = services_of(dashboard)
    started = await services.sessions.start()
    for topic, seconds in topics:
        await services.sessions.track(started.session_id, topic, clock.now(), ACTIVE)
        clock.advance(seconds)
    await services.sessions.track(started.session_id, topics[-1][0], clock.now(), ACTIVE)
    return started.session_id


@pytest.mark.parametrize("name", PAGES)
async def test_each_page_loads_without_console_errors(
    browser: Browser, dashboard: AppClient, clock: FakeClock, name: str
) -> None:
    """Every page renders with real data and logs no error; a screenshot is kept."""
    await study(dashboard, clock, [("Biology", 600), ("Math", 300)])
    await upload(dashboard, jpeg(640, 480))
    page = await open_page(browser, dashboard, name)
    await page.wait_for_timeout(300)  # charts draw on the next frame
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    assert page.console.errors == []  # type: ignore[attr-defined]


async def test_a_new_frame_appears_without_a_reload(browser: Browser, dashboard: AppClient) -> None:
    """A frame posted while the Frames page is open shows up there within seconds."""
    page = await open_page(browser, dashboard, "frames")
    await page.wait_for_selector("#live.on", timeout=5_000)
    frame = await upload(dashboard, jpeg(640, 480, seed=7))
    card = f'li[data-analysis-id="{frame["analysisId"]}"]'
    await page.wait_for_selector(card, timeout=5_000)
    assert "Biology" in await page.inner_text(card)
    assert page.console.errors == []  # type: ignore[attr-defined]


async def test_the_topic_chart_shows_the_days_topics(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """The Today chart has one bar per topic studied, longest first."""
    await study(dashboard, clock, [("Chemistry", 120), ("English", 900), ("Math", 300)])
    page = await open_page(browser, dashboard, "today")
    labels = await page.evaluate('Chart.getChart("topic-chart").data.labels')
    assert labels == ["English", "Math", "Chemistry"]
    timeline = await page.inner_text("#timeline")
    assert timeline.split() == ["Chemistry", "English", "Math"]


async def test_the_session_ends_live(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """Ending the session elsewhere empties the timeline without a reload."""
    session_id = await study(dashboard, clock, [("Art", 60)])
    page = await open_page(browser, dashboard, "today")
    await page.wait_for_selector("#live.on", timeout=5_000)
    assert await page.is_hidden("#no-session")
    await data_of(await dashboard.post(f"/api/session/{session_id}/end"))
    await page.wait_for_selector("#no-session", state="visible", timeout=5_000)


async def test_the_pairing_code_shown_pairs_a_phone(browser: Browser, dashboard: AppClient) -> None:
    """The code on the Devices page is one that POST /api/pair accepts."""
    page = await open_page(browser, dashboard, "devices")
    await page.click("#new-code")
    await page.wait_for_selector("#offer-qr svg", timeout=5_000)
    code = await page.get_attribute("#offer-code", "data-code")
    assert code is not None
    async with ClientSession() as phone:
        body = {"code": code, "deviceName": "Pixel"}
        async with phone.post(dashboard.make_url("/api/pair"), json=body) as response:
            assert response.status == 201


async def test_readable_on_a_phone_width_screen(browser: Browser, dashboard: AppClient) -> None:
    """At 390 px wide nothing runs off the side of the page."""
    page = await open_page(browser, dashboard, "today", viewport={"width": 390, "height": 844})
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390


async def test_pages_are_reachable_by_keyboard(browser: Browser, dashboard: AppClient) -> None:
    """Tabbing to a page link and pressing Enter opens that page."""
    page = await open_page(browser, dashboard, "today")
    for _ in range(10):
        await page.keyboard.press("Tab")
        focused = await page.evaluate("document.activeElement.dataset.page || ''")
        if focused == "history":
            break
    await page.keyboard.press("Enter")
    await page.wait_for_selector('body[data-loaded="history"]', timeout=5_000)
    assert await page.get_attribute('nav a[data-page="history"]', "aria-current") == "page"


async def test_a_phones_browser_is_told_devices_are_the_owners(
    browser: Browser, dashboard: AppClient, settings: Any
) -> None:
    """A browser paired as a phone sees why the Devices page holds no controls, and no error."""
    from tests.support import pair_device

    token = pair_device(settings, "tablet browser")
    page = await browser.new_page()
    page.console = Console(page)  # type: ignore[attr-defined]
    await page.goto(str(dashboard.make_url(f"/?token={token}#devices")))
    await page.wait_for_selector('body[data-loaded="devices"]', timeout=10_000)

    assert await page.is_visible("#owner-only")
    assert await page.is_hidden("#owner-controls")
    assert page.console.errors == []  # type: ignore[attr-defined]


async def test_the_owner_sees_when_guessing_killed_the_code(
    browser: Browser, dashboard: AppClient
) -> None:
    """When the daemon withdraws the shown code, the Devices page says so and hides it."""
    page = await open_page(browser, dashboard, "devices")
    await page.click("#new-code")
    await page.wait_for_selector("#offer-qr svg", timeout=5_000)
    await page.wait_for_selector("#live.on", timeout=5_000)

    services_of(dashboard).events.publish("pairing", {"state": "withdrawn"})

    await page.wait_for_selector("#offer-withdrawn", state="visible", timeout=5_000)
    assert await page.is_hidden("#offer")


async def test_the_pause_button_pauses_and_resumes_capture(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """Pause for the chosen minutes shows the end and pauses the daemon; Resume ends it."""
    page = await open_page(browser, dashboard, "today")
    assert await page.inner_text("#pause-state") == "Capture on"
    await page.select_option("#pause-minutes", "60")

    await page.click("#pause-toggle")

    await page.wait_for_selector('body[data-paused="yes"]', timeout=5_000)
    assert (await page.inner_text("#pause-state")).startswith("Paused until ")
    assert await page.inner_text("#pause-toggle") == "Resume"
    state = await services_of(dashboard).pause.state()
    assert state.paused
    assert state.ends_at == clock.now() + timedelta(minutes=60)

    await page.click("#pause-toggle")

    await page.wait_for_selector('body[data-paused="no"]', timeout=5_000)
    assert await page.inner_text("#pause-state") == "Capture on"
    assert not (await services_of(dashboard).pause.state()).paused
    assert page.console.errors == []  # type: ignore[attr-defined]


async def test_a_pause_made_elsewhere_shows_without_a_reload(
    browser: Browser, dashboard: AppClient
) -> None:
    """A pause from the phone (or the CLI) reaches an open page through the live events."""
    page = await open_page(browser, dashboard, "frames")
    await page.wait_for_selector("#live.on", timeout=5_000)

    await data_of(await dashboard.post("/api/privacy/pause", json={"minutes": None}))

    await page.wait_for_selector('body[data-paused="yes"]', timeout=5_000)
    assert await page.inner_text("#pause-state") == "Paused until you resume"
    assert await page.is_hidden("#pause-minutes")


async def test_a_page_opened_while_paused_says_so(browser: Browser, dashboard: AppClient) -> None:
    """The state comes with the page, not only with events."""
    await data_of(await dashboard.post("/api/privacy/pause", json={"minutes": 30}))

    page = await open_page(browser, dashboard, "history")

    assert (await page.inner_text("#pause-state")).startswith("Paused until ")
    assert await page.get_attribute("#pause-toggle", "aria-pressed") == "true"
