"""A small client of hookline's API for the console commands, and their one-line errors.

The transport is an argument, so tests can hand it an ``httpx.MockTransport``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from hookline import __version__
from hookline.console._errors import ConsoleError
from hookline.console._text import describe_api_error

#: Largest page the API serves.
PAGE = 250


class Api:
    """hookline's API at ``url``, called with ``token``; every failure is a ConsoleError."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """Prepare a client; nothing is sent yet."""
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            headers={
                "Authorization": f"Bearer {token}",
                "User-Agent": f"hookline-cli/{__version__}",
            },
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int | bool] | None = None,
    ) -> Any:
        """Call the API; the decoded JSON answer (None when it has no body)."""
        try:
            response = self._http.request(method, path, json=json, params=params)
        except httpx.ConnectError as error:
            raise ConsoleError(
                f"cannot connect to hookline at {self.url} ({_reason(error)});"
                " is it running? (--url / HOOKLINE_URL)"
            ) from None
        except httpx.TimeoutException:
            raise ConsoleError(
                f"hookline at {self.url} did not answer {method} {path} in time"
            ) from None
        except httpx.HTTPError as error:
            raise ConsoleError(f"{method} {self.url}{path} failed: {_reason(error)}") from None
        if response.status_code >= 400:
            raise ConsoleError(
                describe_api_error(response.status_code, response.content), response.status_code
            )
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ConsoleError(
                f"{method} {path} answered {response.status_code} with something not JSON;"
                f" is {self.url} a hookline server?"
            ) from None

    def get(self, path: str, params: Mapping[str, str | int | bool] | None = None) -> Any:
        """``GET`` a resource."""
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any) -> Any:
        """``POST`` a JSON body."""
        return self.request("POST", path, json=body)

    def every(
        self, path: str, params: Mapping[str, str | int | bool] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list, oldest first, following the Svix iterator to ``done``."""
        query: dict[str, str | int | bool] = {**(params or {}), "limit": PAGE}
        query.setdefault("order", "ascending")
        while True:
            page = self.get(path, query)
            yield from page["data"]
            if page["done"] or not page["data"]:
                return
            query["iterator"] = page["iterator"]


def _reason(error: httpx.HTTPError) -> str:
    text = str(error) or type(error).__name__
    # "[Errno 111] Connection refused" reads better without the number.
    return text.split("] ", 1)[1] if text.startswith("[Errno") and "] " in text else text
