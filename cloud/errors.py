"""The cloud's one exception hierarchy; the HTTP layer turns each into its status and envelope."""

from __future__ import annotations

import math

from shared.errors import ReportedError


class CloudError(ReportedError):
    """Base of every error the cloud reports to a client on purpose."""


class BadRequest(CloudError):
    """400 `invalid_request`: malformed (bad JSON, wrong types, values out of range)."""

    http_status = 400
    code = "invalid_request"


class Unauthenticated(CloudError):
    """No valid credentials came with the request."""

    http_status = 401
    code = "unauthenticated"

    def __init__(self, message: str = "Sign in first: no valid access token was sent.") -> None:
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer realm="studylens"'})


class InvalidToken(Unauthenticated):
    """An access token was sent but is expired, revoked or not ours."""

    code = "invalid_token"

    def __init__(self, message: str = "The access token is expired, revoked or invalid.") -> None:
        super().__init__(message)
        self.headers = {"WWW-Authenticate": 'Bearer realm="studylens", error="invalid_token"'}


class TokenInvalid(CloudError):
    """An access token failed verification; the message says why, for the logs only.

    `cloud.tokens` raises it; authentication answers the client `InvalidToken` instead.
    """

    http_status = 401
    code = "invalid_token"


class InvalidGrant(CloudError):
    """A refresh token is unknown, expired, revoked or was already used (RFC 6749, 5.2)."""

    http_status = 401
    code = "invalid_grant"


class InvalidIdToken(CloudError):
    """A Google ID token failed verification."""

    http_status = 401
    code = "invalid_id_token"


class AccessDenied(CloudError):
    """403 `forbidden`: signed in, but not allowed to do this."""

    http_status = 403
    code = "forbidden"


class InsufficientScope(AccessDenied):
    """A device's sync token used on a route that is not for syncing (RFC 6750, 3.1)."""

    code = "insufficient_scope"


class NotFound(CloudError):
    """Nothing of the caller's has this name."""

    http_status = 404
    code = "not_found"


class DeviceFlowError(CloudError):
    """Answers of the device token endpoint that are not tokens (RFC 8628, section 3.5)."""

    http_status = 400


class AuthorizationPending(DeviceFlowError):
    """The student has not approved the code yet."""

    code = "authorization_pending"


class SlowDown(DeviceFlowError):
    """The edge polled faster than the interval allows."""

    code = "slow_down"


class ExpiredToken(DeviceFlowError):
    """The device code expired (or was already exchanged)."""

    code = "expired_token"


class UnknownDeviceCode(DeviceFlowError):
    """The device code was never issued (RFC 6749's `invalid_grant`)."""

    code = "invalid_grant"


class BatchTooLarge(CloudError):
    """More items than one sync batch may carry."""

    http_status = 413
    code = "batch_too_large"


class RateLimited(CloudError):
    """Too many requests (or wrong codes) for now; `Retry-After` says when to try again."""

    http_status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, math.ceil(retry_after)))})


class TooManyPendingCodes(CloudError):
    """Every slot for pending device codes is taken; one frees up when the soonest expires."""

    http_status = 503
    code = "too_many_pending_codes"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, math.ceil(retry_after)))})


class IdentityUnavailable(CloudError):
    """Google's keys could not be fetched; the sign-in may be retried."""

    http_status = 503
    code = "identity_unavailable"


class StoreUnavailable(CloudError):
    """The database or the object store failed; the request may be retried."""

    http_status = 503
    code = "store_unavailable"


class CrossSiteCookie(AccessDenied):
    """A change sent with the access cookie from another site's page (CSRF) is refused."""

    code = "cross_site_refused"


class DeletionIncomplete(StoreUnavailable):
    """An account deletion stopped before its end; sending the same request again finishes it."""

    code = "deletion_incomplete"


class SecretsUnavailable(CloudError):
    """A Secrets Manager secret the settings name could not be read or is not what it must be.

    Raised at startup only; the message names the secret's ARN and the reason, never its value.
    """

    http_status = 503
    code = "secrets_unavailable"
