"""An endpoint's credentials as a change gives them: merged with what is stored, checked.

A create, replace or patch may give ``auth`` (the ``Authorization`` method), ``tls``
(the TLS identity), both or neither. What is not given stays as stored (a replace by a
client that knows nothing of them, such as the Svix SDK, keeps them); an explicit null
clears it; ``"<masked>"`` for a secret keeps the stored secret. The result is checked:
an OAuth2 token URL passes the same destination checks as an endpoint URL, a TLS
identity parses and belongs together, applies to ``https`` URLs only, and needs the
default (pyreqwest) transport.
"""

from __future__ import annotations

from dataclasses import dataclass

from hookline.domain import ssrf
from hookline.domain.endpoint_auth import (
    AuthMethod,
    ClientTls,
    EndpointAuth,
    OAuth2ClientCredentials,
    check_tls,
    keep_masked,
)
from hookline.domain.routing import HANDLER_SCHEME
from hookline.domain.tokens import Principal
from hookline.errors import ValidationError


@dataclass(frozen=True, slots=True)
class AuthDraft:
    """The credentials a change gives, and which of them it gives at all."""

    method: AuthMethod | None = None
    tls: ClientTls | None = None
    method_given: bool = False
    tls_given: bool = False
    #: Whether the configured transport can present a TLS client identity (pyreqwest can,
    #: aiohttp here does not).
    client_tls_supported: bool = True

    @property
    def given(self) -> bool:
        """Whether the change touches the credentials at all."""
        return self.method_given or self.tls_given


async def resolve(
    draft: AuthDraft | None, url: str, stored: EndpointAuth | None, who: Principal,
    policy: ssrf.DestinationPolicy, url_changed: bool = False,
) -> EndpointAuth | None:  # fmt: skip
    """The credentials after the change (None: none), checked when they or the URL change."""
    if draft is None or not draft.given:
        if stored is not None and url_changed and stored.tls is not None:
            _check_tls_url(url)  # a kept TLS identity still needs an https URL
        return stored
    method = draft.method if draft.method_given else (stored.method if stored else None)
    tls = draft.tls if draft.tls_given else (stored.tls if stored else None)
    merged = keep_masked(EndpointAuth(method=method, tls=tls), stored)
    if merged.empty:
        return None
    if url.startswith(HANDLER_SCHEME):
        raise ValidationError("handler: endpoints take no credentials", field=("auth",))
    if isinstance(merged.method, OAuth2ClientCredentials) and draft.method_given:
        await _check_token_url(merged.method.token_url, who, policy)
    if merged.tls is not None:
        if draft.tls_given and not draft.client_tls_supported:
            raise ValidationError(
                "tls needs the pyreqwest HTTP client (HOOKLINE_HTTP_CLIENT=pyreqwest); "
                "this server delivers with aiohttp",
                field=("tls",),
            )
        check_tls(merged.tls)
        _check_tls_url(url)
    return merged


def _check_tls_url(url: str) -> None:
    if not url.startswith("https://"):
        raise ValidationError("tls applies to https:// URLs only", field=("tls",))


async def _check_token_url(url: str, who: Principal, policy: ssrf.DestinationPolicy) -> None:
    # Imported here: usecases.endpoints imports this module.
    from hookline.usecases.endpoints import check_url

    if not url.startswith(("https://", "http://")):
        raise ValidationError("tokenUrl must be an http(s) URL", field=("auth", "tokenUrl"))
    try:
        await check_url(url, who, policy)
    except ValidationError as refused:
        raise ValidationError(f"tokenUrl: {refused}", field=("auth", "tokenUrl")) from None
