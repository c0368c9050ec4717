"""`/api/sync/status` and `/api/sync/now`."""

from __future__ import annotations

from tests.support import AppClient, data_of, start_session


async def test_status_of_an_unlinked_edge_shows_the_waiting_outbox(owner: AppClient) -> None:
    """Unlinked, the outbox waits and the status says so."""
    await start_session(owner)
    status = await data_of(await owner.get("/api/sync/status"))
    assert status["linked"] is False
    assert status["enabled"] is True
    assert status["pendingFacts"] == 1
    assert status["lastSuccessAt"] is None


async def test_sync_now_answers_the_status(owner: AppClient) -> None:
    """Asking to sync now answers the same figures."""
    status = await data_of(await owner.post("/api/sync/now"))
    assert status["pendingFacts"] == 0
