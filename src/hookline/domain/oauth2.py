"""OAuth 2.0 client credentials (RFC 6749 section 4.4), the pure parts.

What the token request carries (``token_request``), what an answer means
(``parse_token_response``: a token, or a ``TokenError`` with a reason a person can
read), and how long a token is used (``AccessToken.fresh``: until it nears expiry).
The HTTP exchange and the per-endpoint cache shared by a worker's requests are in
``delivery/oauth2.py``.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

import orjson

from hookline.domain.endpoint_auth import OAuth2ClientCredentials

#: A token is refreshed this long before it expires (or after 90% of a short lifetime)...
REFRESH_MARGIN = 30.0
#: ...and one that states no lifetime is used this long (a 401 refreshes it sooner).
UNSTATED_LIFETIME = 3600.0
#: Tokens longer than this are refused as unreasonable (a misconfigured endpoint).
MAX_TOKEN_CHARS = 16_384


class TokenError(Exception):
    """The token endpoint gave no usable token; ``reason`` says why, without secrets."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A token as fetched, and until when it is used."""

    value: str = field(repr=False)
    refresh_at: float

    def fresh(self, now: float) -> bool:
        """Whether the token may still be sent at ``now``."""
        return now < self.refresh_at

    @property
    def authorization(self) -> str:
        """The ``Authorization`` header value that carries it."""
        return f"Bearer {self.value}"


def refresh_time(fetched_at: float, expires_in: float | None) -> float:
    """When a token fetched at ``fetched_at`` with lifetime ``expires_in`` is replaced."""
    if expires_in is None:
        return fetched_at + UNSTATED_LIFETIME
    margin = min(REFRESH_MARGIN, expires_in * 0.1)
    return fetched_at + max(expires_in - margin, 0.0)


def cache_key(endpoint_id: str, credentials: OAuth2ClientCredentials) -> str:
    """The key an endpoint's token is cached under: a change of its credentials (a new
    secret, scope or token URL) is a new key, so no token outlives its configuration."""
    parts = (
        endpoint_id, credentials.token_url, credentials.client_id, credentials.client_secret,
        credentials.scope or "", credentials.audience or "", credentials.client_auth,
    )  # fmt: skip
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def token_request(credentials: OAuth2ClientCredentials) -> tuple[bytes, dict[str, str]]:
    """The body and headers of the token request (``POST token_url``)."""
    form = [("grant_type", "client_credentials")]
    if credentials.scope:
        form.append(("scope", credentials.scope))
    if credentials.audience:
        form.append(("audience", credentials.audience))
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "accept": "application/json",
    }
    if credentials.client_auth == "form":
        form += [("client_id", credentials.client_id),
                 ("client_secret", credentials.client_secret)]  # fmt: skip
    else:
        # RFC 6749 section 2.3.1: both parts form-encoded, then joined by a colon.
        pair = f"{_form_encoded(credentials.client_id)}:{_form_encoded(credentials.client_secret)}"
        headers["authorization"] = f"Basic {base64.b64encode(pair.encode()).decode()}"
    return urlencode(form).encode(), headers


def _form_encoded(text: str) -> str:
    return quote(text, safe="").replace("%20", "+")


def parse_token_response(status: int, body: str, now: float) -> AccessToken:
    """The token of a token endpoint's answer, or ``TokenError`` saying why there is none."""
    try:
        answer = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        answer = None
    if not 200 <= status < 300:
        if isinstance(answer, dict) and isinstance(answer.get("error"), str):
            described = answer.get("error_description")
            detail = f" ({str(described)[:200]})" if described else ""
            raise TokenError(
                f"the token endpoint refused the request: {answer['error'][:64]}{detail}"
            )
        raise TokenError(f"the token endpoint answered {status}: {body[:200]!r}")
    if not isinstance(answer, dict):
        raise TokenError(f"the token endpoint's answer is not a JSON object: {body[:200]!r}")
    value = answer.get("access_token")
    if not isinstance(value, str) or not value:
        raise TokenError("the token endpoint's answer has no access_token")
    if len(value) > MAX_TOKEN_CHARS or any(c in value for c in "\r\n"):
        raise TokenError("the token endpoint's access_token is not a usable header value")
    token_type = answer.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise TokenError(f"the token endpoint issued a {token_type!r} token, not a bearer token")
    expires_in = answer.get("expires_in")
    if isinstance(expires_in, str) and expires_in.isdigit():
        expires_in = int(expires_in)  # some servers send it as a string
    if expires_in is not None and (
        not isinstance(expires_in, int | float) or isinstance(expires_in, bool) or expires_in < 0
    ):
        raise TokenError(f"the token endpoint's expires_in is not a number: {expires_in!r}")
    return AccessToken(value=value, refresh_at=refresh_time(now, expires_in))
