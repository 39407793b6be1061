"""The wire shapes of an endpoint's credentials (hookline extensions of the endpoint models).

``auth`` sets the ``Authorization`` header of every request to the endpoint::

    {"type": "basic", "username": "...", "password": "..."}
    {"type": "bearer", "token": "..."}
    {"type": "oauth2", "tokenUrl": "https://...", "clientId": "...", "clientSecret": "...",
     "scope": "...", "audience": "...", "clientAuth": "basic" | "form"}

``tls`` is a TLS client identity and the CAs trusted besides the public roots::

    {"clientCertificate": "-----BEGIN CERTIFICATE-----...", "clientKey": "-----BEGIN ...",
     "caBundle": "-----BEGIN CERTIFICATE-----..."}

Answers show the same shapes with each secret (password, token, client secret, key) as
``"<masked>"``; given back as it is, ``"<masked>"`` keeps the stored secret.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

from hookline.domain.endpoint_auth import (
    MASKED,
    AuthMethod,
    BasicAuth,
    BearerAuth,
    ClientTls,
    EndpointAuth,
    OAuth2ClientCredentials,
)

#: Header-safe text: no control characters (they would split or corrupt a header).
_HeaderText = r"^[^\x00-\x1f\x7f]*$"
Username = Annotated[
    str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^:\x00-\x1f\x7f]*$")
]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=4096, pattern=_HeaderText)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=_HeaderText)]
Pem = Annotated[str, StringConstraints(min_length=1, max_length=65536)]


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class BasicAuthIn(_Wire):
    """HTTP Basic credentials."""

    type: Literal["basic"]
    username: Username
    password: Secret


class BearerAuthIn(_Wire):
    """A static bearer token."""

    type: Literal["bearer"]
    token: Secret


class OAuth2AuthIn(_Wire):
    """OAuth 2.0 client credentials: a token fetched from ``tokenUrl`` and sent as bearer."""

    type: Literal["oauth2"]
    token_url: Annotated[str, StringConstraints(min_length=1, max_length=4096)]
    client_id: ShortText
    client_secret: Secret
    scope: ShortText | None = None
    audience: ShortText | None = None
    #: How the client authenticates to the token endpoint: an HTTP Basic header, or form fields.
    client_auth: Literal["basic", "form"] = "basic"


EndpointAuthIn = Annotated[BasicAuthIn | BearerAuthIn | OAuth2AuthIn, Field(discriminator="type")]


class ClientTlsIn(_Wire):
    """A TLS client certificate with its key (PEM), and PEM CAs to trust; all optional."""

    client_certificate: Pem | None = None
    client_key: Pem | None = None
    ca_bundle: Pem | None = None


def method_of(given: BasicAuthIn | BearerAuthIn | OAuth2AuthIn) -> AuthMethod:
    """The domain value of a wire ``auth``."""
    if isinstance(given, BasicAuthIn):
        return BasicAuth(username=given.username, password=given.password)
    if isinstance(given, BearerAuthIn):
        return BearerAuth(token=given.token)
    return OAuth2ClientCredentials(
        token_url=given.token_url, client_id=given.client_id, client_secret=given.client_secret,
        scope=given.scope, audience=given.audience, client_auth=given.client_auth,
    )  # fmt: skip


def tls_of(given: ClientTlsIn) -> ClientTls:
    """The domain value of a wire ``tls``."""
    return ClientTls(
        certificate=given.client_certificate, key=given.client_key, ca_bundle=given.ca_bundle
    )


def auth_out(auth: EndpointAuth | None) -> dict[str, Any]:
    """The ``auth`` and ``tls`` fields of an endpoint's answer, secrets masked."""
    method = auth.method if auth is not None else None
    tls = auth.tls if auth is not None else None
    shown_method: BasicAuthIn | BearerAuthIn | OAuth2AuthIn | None = None
    if isinstance(method, BasicAuth):
        shown_method = BasicAuthIn(type="basic", username=method.username, password=MASKED)
    elif isinstance(method, BearerAuth):
        shown_method = BearerAuthIn(type="bearer", token=MASKED)
    elif isinstance(method, OAuth2ClientCredentials):
        shown_method = OAuth2AuthIn(
            type="oauth2", token_url=method.token_url, client_id=method.client_id,
            client_secret=MASKED, scope=method.scope, audience=method.audience,
            client_auth=method.client_auth,
        )  # fmt: skip
    shown_tls = None
    if tls is not None:
        shown_tls = ClientTlsIn(
            client_certificate=tls.certificate,
            client_key=None if tls.key is None else MASKED,
            ca_bundle=tls.ca_bundle,
        )
    return {"auth": shown_method, "tls": shown_tls}
