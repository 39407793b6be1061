"""How hookline proves who it is to an endpoint: credentials and a TLS client identity.

An endpoint may carry, beside its signing secret, an ``EndpointAuth``:

- a ``method`` that sets the request's ``Authorization`` header: ``BasicAuth``
  (username and password), ``BearerAuth`` (a static token) or
  ``OAuth2ClientCredentials`` (a token fetched from a token URL, RFC 6749 section 4.4,
  see ``domain/oauth2.py``);
- ``tls``: a client certificate and key for mutual TLS, and a CA bundle to trust a
  private CA (``ClientTls``).

The whole value is stored as one sealed column (``storage/sql/sealing.py``); here it is
plain. Secrets never show: ``repr`` leaves them out, ``masked_json`` replaces them with
``MASKED`` for answers and the audit trail, and ``keep_masked`` reads ``MASKED`` given
back (a client that PUTs what it GOT) as "the stored value".

Pure logic: no I/O; PEM texts are parsed with ``cryptography`` to check them.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from hookline.errors import ValidationError

__all__ = [
    "MASKED",
    "AuthMethod",
    "BasicAuth",
    "BearerAuth",
    "ClientTls",
    "EndpointAuth",
    "OAuth2ClientCredentials",
    "check_tls",
    "keep_masked",
    "static_authorization",
]

#: What a secret looks like in answers and audit entries; given back, it keeps the stored one.
MASKED = "<masked>"
AUTHORIZATION = "authorization"
ClientAuthentication = Literal["basic", "form"]


@dataclass(frozen=True, slots=True)
class BasicAuth:
    """HTTP Basic (RFC 7617): ``Authorization: Basic base64(username:password)``."""

    username: str
    password: str = field(repr=False)
    type: Literal["basic"] = "basic"


@dataclass(frozen=True, slots=True)
class BearerAuth:
    """A static bearer token (RFC 6750): ``Authorization: Bearer <token>``."""

    token: str = field(repr=False)
    type: Literal["bearer"] = "bearer"


@dataclass(frozen=True, slots=True)
class OAuth2ClientCredentials:
    """OAuth 2.0 client credentials (RFC 6749 section 4.4): the worker fetches a token from
    ``token_url`` as ``client_id``, authenticating by an HTTP Basic header or by form fields
    (``client_auth``), and sends it as a bearer token."""

    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str | None = None
    audience: str | None = None
    client_auth: ClientAuthentication = "basic"
    type: Literal["oauth2"] = "oauth2"


AuthMethod = BasicAuth | BearerAuth | OAuth2ClientCredentials


@dataclass(frozen=True, slots=True)
class ClientTls:
    """Mutual TLS: a PEM client certificate (chain) with its PEM key, and PEM CA
    certificates trusted besides the public roots (all optional; cert and key together)."""

    certificate: str | None = None
    key: str | None = field(default=None, repr=False)
    ca_bundle: str | None = None

    @property
    def has_identity(self) -> bool:
        """Whether a client certificate is presented."""
        return self.certificate is not None and self.key is not None

    def identity_pem(self) -> bytes:
        """The key and certificate chain as one PEM (what a TLS library takes as identity)."""
        return f"{self.key}\n{self.certificate}\n".encode()


@dataclass(frozen=True, slots=True)
class EndpointAuth:
    """An endpoint's credentials: an ``Authorization`` method and a TLS identity, each
    optional."""

    method: AuthMethod | None = None
    tls: ClientTls | None = None

    @property
    def empty(self) -> bool:
        """Whether there is nothing to apply."""
        return self.method is None and self.tls is None

    def to_json(self) -> dict[str, Any]:
        """The stored form (plaintext: storage seals it as a whole)."""
        stored: dict[str, Any] = {}
        if self.method is not None:
            stored["method"] = _method_json(self.method)
        if self.tls is not None:
            stored["tls"] = {
                "certificate": self.tls.certificate, "key": self.tls.key,
                "ca_bundle": self.tls.ca_bundle,
            }  # fmt: skip
        return stored

    @classmethod
    def from_json(cls, stored: Mapping[str, Any] | None) -> EndpointAuth | None:
        """The value of ``to_json``'s output (None for nothing stored)."""
        if not stored:
            return None
        found = stored.get("method")
        tls = stored.get("tls")
        return cls(
            method=None if found is None else _method_of(found),
            tls=None if tls is None else ClientTls(
                certificate=tls.get("certificate"), key=tls.get("key"),
                ca_bundle=tls.get("ca_bundle"),
            ),
        )  # fmt: skip

    def masked_json(self, mask: Callable[[str], str] = lambda _: MASKED) -> dict[str, Any]:
        """``to_json`` with every secret replaced by ``mask(secret)`` (``MASKED`` unless
        told otherwise: the audit trail puts a fingerprint there)."""
        shown = self.to_json()
        method = shown.get("method")
        if method is not None:
            for name in ("password", "token", "client_secret"):
                if name in method:
                    method[name] = mask(method[name])
        tls = shown.get("tls")
        if tls is not None and tls.get("key") is not None:
            tls["key"] = mask(tls["key"])
        return shown


def _method_json(method: AuthMethod) -> dict[str, Any]:
    if isinstance(method, BasicAuth):
        return {"type": "basic", "username": method.username, "password": method.password}
    if isinstance(method, BearerAuth):
        return {"type": "bearer", "token": method.token}
    return {
        "type": "oauth2", "token_url": method.token_url, "client_id": method.client_id,
        "client_secret": method.client_secret, "scope": method.scope,
        "audience": method.audience, "client_auth": method.client_auth,
    }  # fmt: skip


def _method_of(stored: Mapping[str, Any]) -> AuthMethod:
    kind = stored.get("type")
    if kind == "basic":
        return BasicAuth(username=stored["username"], password=stored["password"])
    if kind == "bearer":
        return BearerAuth(token=stored["token"])
    if kind == "oauth2":
        return OAuth2ClientCredentials(
            token_url=stored["token_url"], client_id=stored["client_id"],
            client_secret=stored["client_secret"], scope=stored.get("scope"),
            audience=stored.get("audience"), client_auth=stored.get("client_auth", "basic"),
        )  # fmt: skip
    raise ValueError(f"unknown endpoint auth type {kind!r}")


def static_authorization(method: AuthMethod | None) -> str | None:
    """The ``Authorization`` value of a method that needs no token fetch (None otherwise)."""
    if isinstance(method, BasicAuth):
        pair = f"{method.username}:{method.password}".encode()
        return f"Basic {base64.b64encode(pair).decode()}"
    if isinstance(method, BearerAuth):
        return f"Bearer {method.token}"
    return None


def keep_masked(given: EndpointAuth, stored: EndpointAuth | None) -> EndpointAuth:
    """``given`` with each ``MASKED`` secret replaced by the stored one of the same kind.

    Raises ``ValidationError`` (naming the field) when there is no stored value to keep.
    """
    method = given.method
    before = stored.method if stored is not None else None
    if isinstance(method, BasicAuth) and method.password == MASKED:
        if not isinstance(before, BasicAuth):
            raise _nothing_kept("auth", "password")
        method = replace(method, password=before.password)
    elif isinstance(method, BearerAuth) and method.token == MASKED:
        if not isinstance(before, BearerAuth):
            raise _nothing_kept("auth", "token")
        method = replace(method, token=before.token)
    elif isinstance(method, OAuth2ClientCredentials) and method.client_secret == MASKED:
        if not isinstance(before, OAuth2ClientCredentials):
            raise _nothing_kept("auth", "clientSecret")
        method = replace(method, client_secret=before.client_secret)
    tls = given.tls
    if tls is not None and tls.key == MASKED:
        old_key = stored.tls.key if stored is not None and stored.tls is not None else None
        if old_key is None:
            raise _nothing_kept("tls", "clientKey")
        tls = replace(tls, key=old_key)
    return EndpointAuth(method=method, tls=tls)


def _nothing_kept(*where: str) -> ValidationError:
    return ValidationError(
        f"{MASKED!r} keeps the stored value, and there is none to keep", field=where
    )


def check_tls(tls: ClientTls) -> None:
    """Check a TLS identity: PEM texts that parse, a certificate and key given together,
    and a key that belongs to the (first) certificate. Raises ``ValidationError``."""
    if (tls.certificate is None) != (tls.key is None):
        raise ValidationError(
            "clientCertificate and clientKey go together", field=("tls", "clientCertificate")
        )
    if tls.certificate is not None and tls.key is not None:
        certificates = _certificates(tls.certificate, "clientCertificate")
        try:
            key = serialization.load_pem_private_key(tls.key.encode(), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as error:
            raise ValidationError(
                f"not an unencrypted PEM private key ({error})", field=("tls", "clientKey")
            ) from None
        if not isinstance(key, _TLS_KEYS):
            raise ValidationError(
                "clientKey must be an RSA, ECDSA or Ed25519 key", field=("tls", "clientKey")
            )
        try:
            public = certificates[0].public_key()
        except (ValueError, UnsupportedAlgorithm) as error:
            raise ValidationError(
                f"clientCertificate's key is not usable ({error})",
                field=("tls", "clientCertificate"),
            ) from None
        if _spki(key.public_key()) != _spki(public):
            raise ValidationError(
                "clientKey is not the key of clientCertificate", field=("tls", "clientKey")
            )
    if tls.ca_bundle is not None:
        _certificates(tls.ca_bundle, "caBundle")


#: The key types TLS client authentication takes (rustls' identities).
_TLS_KEYS = (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)


def _spki(key: Any) -> bytes:
    encoded: bytes = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return encoded


def _certificates(pem: str, name: str) -> list[x509.Certificate]:
    try:
        found = x509.load_pem_x509_certificates(pem.encode())
    except ValueError as error:
        raise ValidationError(f"not PEM certificates ({error})", field=("tls", name)) from None
    return found


def split_pem_certificates(bundle: str) -> list[bytes]:
    """Each certificate of a PEM bundle as its own PEM (some TLS libraries take one at a time)."""
    return [
        cert.public_bytes(serialization.Encoding.PEM)
        for cert in x509.load_pem_x509_certificates(bundle.encode())
    ]
