"""The student's privacy over HTTP: pause, what is kept, export and forget.

Pause and resume are the phone's as well as the owner's; the rest is the owner's alone.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from contextlib import closing, suppress
from pathlib import Path
from typing import BinaryIO

from aiohttp import web

from edge import __version__
from edge.files import private_dir
from edge.http.context import Services, services
from edge.http.envelope import ok, read_json
from edge.privacy import summary
from edge.privacy.export import export_archive
from edge.privacy.forget import ForgetScope
from edge.privacy.pause import PauseRequest, ResumeRequest
from edge.store import open_database
from shared.clock import local_date

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

_BLOCK = 1 << 20


@routes.post("/api/privacy/pause")
async def pause(request: web.Request) -> web.Response:
    """Pause capture for `minutes` (1 to 1440), or until resumed (`null`); answers the state."""
    s = services(request)
    body = await read_json(request, PauseRequest)
    return ok(await s.pause.pause(body.minutes))


@routes.post("/api/privacy/resume")
async def resume(request: web.Request) -> web.Response:
    """End the pause (fine when none is on); answers the state."""
    s = services(request)
    await read_json(request, ResumeRequest)
    return ok(await s.pause.resume())


@routes.get("/api/privacy/summary")
async def privacy_summary(request: web.Request) -> web.Response:
    """What is stored and how much, its oldest and newest, the retention in force, the pause."""
    s = services(request)
    rows = await s.store.run(summary.stored_rows)
    files = await asyncio.to_thread(
        summary.stored_files,
        s.settings.database_path,
        s.originals,
        s.settings.recordings_path,
    )
    state = await s.pause.state()
    today = local_date(s.clock.now(), s.zone)
    return ok(summary.summary(rows, files, summary.retention_of(s.settings), state, today))


def _export_to_open_file(s: Services, folder: Path) -> BinaryIO:
    """Write the export archive into `folder` and return it open, its name already removed.

    Blocking: run it in a thread. A connection of its own reads the snapshot, as the CLI's
    does (WAL: the daemon's writer is not held up). Unlinking the open file means nothing is
    left behind however the download ends, a browser leaving midway or the daemon dying; the
    bytes live until the handle closes (POSIX unlink semantics).
    """
    private_dir(folder)
    out = folder / f"export-{uuid.uuid4().hex}.zip"
    with closing(open_database(s.settings.database_path)) as db:
        export_archive(
            db,
            out,
            originals=s.originals,
            recordings=s.settings.recordings_path,
            now=s.clock.now(),
            zone=s.zone,
            app_version=__version__,
        )
    try:
        archive = out.open("rb")
    finally:
        out.unlink()
    return archive


@routes.get("/api/privacy/export")
async def export(request: web.Request) -> web.StreamResponse:
    """The whole export archive (as `studylens-edge export` writes it), as a download."""
    s = services(request)
    archive = await asyncio.to_thread(_export_to_open_file, s, s.settings.temp_path)
    name = f"studylens-export-{local_date(s.clock.now(), s.zone).isoformat()}.zip"
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        }
    )
    with archive, suppress(ConnectionResetError):
        remaining = response.content_length = os.fstat(archive.fileno()).st_size
        await response.prepare(request)
        while remaining > 0 and (block := await asyncio.to_thread(archive.read, _BLOCK)):
            remaining -= len(block)
            if remaining <= 0:
                archive.close()  # before the last bytes leave: freed once the browser has all
            await response.write(block)
        await response.write_eof()
    if remaining > 0:
        log.info("the export download ended early: the browser went away")
    return response


@routes.post("/api/privacy/forget/preview")
async def forget_preview(request: web.Request) -> web.Response:
    """What a forget of the scope (`before`, `sessionId` or `all`) would delete; deletes nothing."""
    s = services(request)
    scope = await read_json(request, ForgetScope)
    return ok(await s.forget.preview(scope))


@routes.post("/api/privacy/forget")
async def forget(request: web.Request) -> web.Response:
    """Delete the scope's sessions with everything in them; answers what was deleted."""
    s = services(request)
    scope = await read_json(request, ForgetScope)
    return ok(await s.forget.forget(scope))
