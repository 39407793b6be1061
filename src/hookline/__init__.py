"""hookline: a self-hostable webhook platform.

The library face: Standard Webhooks signing and verification, and the pieces to
embed hookline's engine in an application.
"""

from __future__ import annotations

from hookline.delivery.handlers import Handlers, InboundEvent
from hookline.domain.signing import (
    SignatureError,
    generate_secret,
    headers,
    sign,
    signature_header,
    verify,
)
from hookline.errors import HooklineError

__version__ = "0.1.0"

__all__ = [
    "Handlers",
    "HooklineError",
    "InboundEvent",
    "SignatureError",
    "__version__",
    "generate_secret",
    "headers",
    "sign",
    "signature_header",
    "verify",
]
