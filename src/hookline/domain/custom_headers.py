"""An endpoint's custom headers: the one check the API and the portal both apply."""

from __future__ import annotations

import re
from typing import Final

HEADER_NAME_PATTERN: Final = r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$"
MAX_HEADERS: Final = 32

#: Headers a user may not set on deliveries: they carry the signature or are the transport's.
RESERVED_HEADERS: Final = frozenset(
    {
        "content-type", "content-length", "host", "connection", "transfer-encoding",
        "webhook-id", "webhook-timestamp", "webhook-signature",
        "svix-id", "svix-timestamp", "svix-signature", "user-agent",
    }
)  # fmt: skip


def check_headers(value: dict[str, str]) -> dict[str, str]:
    """Custom delivery headers: valid names, no reserved names, bounded sizes (else
    ValueError saying which)."""
    if len(value) > MAX_HEADERS:
        raise ValueError(f"at most {MAX_HEADERS} headers")
    for name, item in value.items():
        if not re.match(HEADER_NAME_PATTERN, name) or len(name) > 256:
            raise ValueError(f"{name!r} is not a valid header name")
        if name.lower() in RESERVED_HEADERS:
            raise ValueError(f"header {name!r} is set by hookline and cannot be overridden")
        if len(item) > 4096 or "\r" in item or "\n" in item:
            raise ValueError(f"header {name!r} has an invalid or oversized value")
    return value
