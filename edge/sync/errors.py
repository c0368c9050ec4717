"""What can go wrong between this edge and its cloud: the sync branch of the edge's errors.

The cloud client maps every transport failure and refusal to one of these where it enters
(`edge.sync.client`); the worker, the CLI and the status page only ever see these.
"""

from __future__ import annotations

from edge.errors import EdgeError


class SyncError(EdgeError):
    """Base of the sync errors; the cloud is the one failing, so 502 if one reaches a client."""

    http_status = 502
    code = "sync_failed"


class CloudUnavailable(SyncError):
    """Network failure, timeout or a 5xx: try again later."""

    http_status = 503
    code = "cloud_unavailable"


class CloudUnlinked(SyncError):
    """The cloud no longer accepts this device (revoked, or the refresh token is dead)."""

    http_status = 409
    code = "cloud_unlinked"


class CredentialsUnreadable(CloudUnlinked):
    """The link file exists but cannot be used: as good as unlinked until linked again."""

    code = "credentials_unreadable"


class CloudBatchTooLarge(SyncError):
    """The cloud answered 413 to a batch: send fewer items at once."""

    code = "cloud_batch_too_large"


class CloudRefused(SyncError):
    """Another 4xx: the request itself is wrong; `status` and `cloud_code` say how."""

    code = "cloud_refused"

    def __init__(self, status: int, cloud_code: str, message: str) -> None:
        super().__init__(f"{status} {cloud_code}: {message}")
        self.status = status
        self.cloud_code = cloud_code


class LinkExpired(SyncError):
    """The device code expired before the student approved it."""

    http_status = 410
    code = "link_expired"
