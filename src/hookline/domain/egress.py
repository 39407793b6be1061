"""The egress proxy every outbound request goes through when one is set (pure).

``HOOKLINE_PROXY_URL`` is ``http://[user:password@]host:port`` (or ``https://``): https
destinations are reached through it with HTTP CONNECT, http ones as absolute-URI
requests. The destination checks (``domain/ssrf.py``) still judge the real destination:
its URL before any I/O and the addresses its name resolves to here; the proxy itself is
the operator's, and is not judged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from hookline.errors import ConfigError


@dataclass(frozen=True, slots=True)
class EgressProxy:
    """A forward proxy: its URL without credentials, and the credentials apart."""

    url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def has_credentials(self) -> bool:
        """Whether the proxy is sent ``Proxy-Authorization``."""
        return self.username is not None


def parse_proxy_url(text: str, source: str = "HOOKLINE_PROXY_URL") -> EgressProxy | None:
    """The proxy of a setting (None when empty); errors name ``source``, never the password."""
    if not text:
        return None
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in {"http", "https"} or not parts.hostname or port is None:
        raise ConfigError(f"{source} must be http(s)://[user:password@]host:port")
    if parts.path not in {"", "/"} or parts.query or parts.fragment:
        raise ConfigError(f"{source} takes no path, query or fragment")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    if username is not None and password is None:
        password = ""
    return EgressProxy(f"{parts.scheme}://{host}:{port}", username, password)
