"""The pure parts of endpoint credentials: values, masking, TLS checks, OAuth2 rules."""

from __future__ import annotations

import base64
import datetime
from urllib.parse import parse_qs

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448
from cryptography.x509.oid import NameOID

from hookline.domain import audit
from hookline.domain.egress import EgressProxy, parse_proxy_url
from hookline.domain.endpoint_auth import (
    MASKED,
    BasicAuth,
    BearerAuth,
    ClientTls,
    EndpointAuth,
    OAuth2ClientCredentials,
    check_tls,
    keep_masked,
    static_authorization,
)
from hookline.domain.models import Endpoint
from hookline.domain.oauth2 import (
    REFRESH_MARGIN,
    UNSTATED_LIFETIME,
    TokenError,
    cache_key,
    parse_token_response,
    refresh_time,
    token_request,
)
from hookline.errors import ConfigError, ValidationError
from hookline.settings import load_settings

OAUTH2 = OAuth2ClientCredentials(
    token_url="https://auth.example.com/token", client_id="client one",
    client_secret="s3cr:t/+", scope="hooks:write", audience="https://api.example.com",
)  # fmt: skip


def _identity(name: str) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def _encrypted(key_pem: str) -> str:
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    ).decode()  # fmt: skip


def _ed448() -> str:
    return ed448.Ed448PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip


def test_every_kind_round_trips_through_its_stored_form() -> None:
    """Basic, bearer and OAuth2 methods with a TLS identity come back equal from JSON."""
    tls = ClientTls(certificate="C", key="K", ca_bundle="CA")
    for method in (BasicAuth("u", "p"), BearerAuth("t"), OAUTH2):
        auth = EndpointAuth(method=method, tls=tls)
        assert EndpointAuth.from_json(auth.to_json()) == auth
    assert EndpointAuth.from_json(None) is None
    assert EndpointAuth.from_json({}) is None


def test_secrets_never_show_in_repr_masked_json_or_audit() -> None:
    """repr, the masked form and the audit snapshot hold no password, token, secret or key."""
    auth = EndpointAuth(method=OAUTH2, tls=ClientTls(certificate="C", key="PRIVATE"))
    shown = auth.masked_json()
    assert shown["method"]["client_secret"] == MASKED
    assert shown["method"]["client_id"] == "client one"
    assert shown["tls"] == {"certificate": "C", "key": MASKED, "ca_bundle": None}
    assert "s3cr" not in repr(auth)
    assert "PRIVATE" not in repr(auth)
    for method in (BasicAuth("u", "pw-secret"), BearerAuth("tok-secret")):
        assert "secret" not in repr(method)
        endpoint = Endpoint(id="ep_1", app_id="app_1", url="https://x", secret="whsec_x",
                            auth=EndpointAuth(method=method))  # fmt: skip
        snapshot = audit.snapshot(endpoint)
        assert snapshot is not None
        assert "secret" not in str(snapshot["auth"])
        assert "<masked sha256:" in str(snapshot["auth"])


def test_static_methods_make_their_authorization_headers() -> None:
    """Basic is base64 of user:password; bearer is the token; OAuth2 needs a fetch."""
    basic = static_authorization(BasicAuth("aladdin", "open sesame"))
    assert basic == "Basic " + base64.b64encode(b"aladdin:open sesame").decode()
    assert static_authorization(BearerAuth("abc")) == "Bearer abc"
    assert static_authorization(OAUTH2) is None
    assert static_authorization(None) is None


def test_masked_values_given_back_keep_the_stored_secrets() -> None:
    """A GET's answer PUT back keeps every stored secret; with nothing stored it is refused."""
    stored = EndpointAuth(method=BasicAuth("u", "real"), tls=ClientTls("C", "KEY"))
    given = EndpointAuth(method=BasicAuth("u2", MASKED), tls=ClientTls("C", MASKED))
    kept = keep_masked(given, stored)
    assert kept == EndpointAuth(method=BasicAuth("u2", "real"), tls=ClientTls("C", "KEY"))
    with pytest.raises(ValidationError) as refused:
        keep_masked(EndpointAuth(method=BearerAuth(MASKED)), stored)
    assert refused.value.field == ("auth", "token")
    with pytest.raises(ValidationError):
        keep_masked(EndpointAuth(tls=ClientTls("C", MASKED)), None)


def test_tls_identity_is_checked() -> None:
    """A certificate needs its own key, PEM that parses, and cert and key together."""
    cert, key = _identity("client")
    other_cert, other_key = _identity("other")
    check_tls(ClientTls(certificate=cert, key=key, ca_bundle=other_cert + other_cert))
    check_tls(ClientTls(ca_bundle=cert))
    cases = [
        (ClientTls(certificate=cert), "clientCertificate"),
        (ClientTls(certificate=cert, key=other_key), "clientKey"),
        (ClientTls(certificate="nonsense", key=key), "clientCertificate"),
        (ClientTls(certificate=cert, key="nonsense"), "clientKey"),
        (ClientTls(ca_bundle="nonsense"), "caBundle"),
        (ClientTls(certificate=cert, key=_encrypted(key)), "clientKey"),
        (ClientTls(certificate=cert, key=_ed448()), "clientKey"),
    ]
    for tls, field in cases:
        with pytest.raises(ValidationError) as refused:
            check_tls(tls)
        assert refused.value.field == ("tls", field)


def test_token_request_authenticates_by_basic_header_or_form() -> None:
    """RFC 6749 client credentials: grant, scope and audience; the client by header or form."""
    body, headers = token_request(OAUTH2)
    form = parse_qs(body.decode())
    assert form == {
        "grant_type": ["client_credentials"], "scope": ["hooks:write"],
        "audience": ["https://api.example.com"],
    }  # fmt: skip
    scheme, encoded = headers["authorization"].split(" ")
    assert scheme == "Basic"
    # Each part form-encoded before joining (RFC 6749 section 2.3.1).
    assert base64.b64decode(encoded).decode() == "client+one:s3cr%3At%2F%2B"
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    body, headers = token_request(OAuth2ClientCredentials("https://a/t", "id", "sec",
                                                          client_auth="form"))  # fmt: skip
    assert "authorization" not in headers
    assert parse_qs(body.decode()) == {
        "grant_type": ["client_credentials"], "client_id": ["id"], "client_secret": ["sec"],
    }  # fmt: skip


def test_token_answers_become_tokens_or_readable_reasons() -> None:
    """A bearer token with its lifetime is taken; errors and odd answers say why not."""
    token = parse_token_response(
        200, '{"access_token": "T1", "token_type": "Bearer", "expires_in": 3600}', 1000.0
    )
    assert token.authorization == "Bearer T1"
    assert token.refresh_at == 1000.0 + 3600 - REFRESH_MARGIN
    assert "T1" not in repr(token)
    refusals = {
        (401, '{"error": "invalid_client", "error_description": "bad secret"}'):
            "refused the request: invalid_client (bad secret)",
        (503, "overloaded"): "answered 503",
        (200, "not json"): "not a JSON object",
        (200, '{"token_type": "bearer"}'): "no access_token",
        (200, '{"access_token": "x", "token_type": "mac"}'): "not a bearer token",
        (200, '{"access_token": "x", "token_type": "bearer", "expires_in": "soon"}'):
            "expires_in",
    }  # fmt: skip
    for (status, body), reason in refusals.items():
        with pytest.raises(TokenError) as refused:
            parse_token_response(status, body, 0.0)
        assert reason in refused.value.reason


def test_tokens_are_refreshed_before_they_expire() -> None:
    """A margin before expiry (a tenth of a short lifetime); an hour without a lifetime."""
    assert refresh_time(100.0, 3600) == 100.0 + 3600 - REFRESH_MARGIN
    assert refresh_time(100.0, 10) == 100.0 + 9
    assert refresh_time(100.0, None) == 100.0 + UNSTATED_LIFETIME
    assert cache_key("ep_1", OAUTH2) != cache_key("ep_2", OAUTH2)
    other_secret = OAuth2ClientCredentials(OAUTH2.token_url, OAUTH2.client_id, "new")
    assert cache_key("ep_1", OAUTH2) != cache_key("ep_1", other_secret)


def test_proxy_urls_parse_and_bad_ones_are_named_without_their_password() -> None:
    """HOOKLINE_PROXY_URL: credentials apart from the URL; malformed ones refused clearly."""
    proxy = parse_proxy_url("http://us%40er:p%3Ass@proxy.internal:3128")
    assert proxy == EgressProxy("http://proxy.internal:3128", "us@er", "p:ss")
    assert "p:ss" not in repr(proxy)
    assert parse_proxy_url("") is None
    assert parse_proxy_url("http://[::1]:8080") == EgressProxy("http://[::1]:8080")
    for bad in ("socks5://h:1", "http://h", "http://h:1/path", "proxy:3128"):
        with pytest.raises(ConfigError, match="HOOKLINE_PROXY_URL"):
            parse_proxy_url(bad)
    with pytest.raises(ConfigError) as refused:
        load_settings({"proxy_url": "http://u:hunter2@h"})
    assert "hunter2" not in str(refused.value)
    with pytest.raises(ConfigError, match="pyreqwest"):
        load_settings({"proxy_url": "http://h:1", "http_client": "aiohttp"})
    settings = load_settings({"proxy_url": "http://u:p@h:1"})
    assert settings.egress_proxy == EgressProxy("http://h:1", "u", "p")
