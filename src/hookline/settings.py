"""Settings: one frozen object, read once at the edge (CLI, app factory) and passed down.

Every field maps to an environment variable ``HOOKLINE_<FIELD>`` (for example
``HOOKLINE_DATABASE_URL``), or to a key of the same name in an optional
``.env``-style file given with ``--config``. docs/configuration.md lists them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hookline.domain import ingress, portal_look
from hookline.domain.egress import EgressProxy, parse_proxy_url
from hookline.domain.retry import DEFAULT_SCHEDULE, RetryPolicy, parse_schedule
from hookline.domain.ssrf import DestinationPolicy
from hookline.errors import ConfigError, HooklineError


class Settings(BaseSettings):
    """Every tunable of a hookline process."""

    model_config = SettingsConfigDict(env_prefix="HOOKLINE_", frozen=True, extra="ignore")

    # Storage
    database_url: str = Field(
        "sqlite:///hookline.db",
        description="sqlite:///path/to/file.db (default) or postgresql://user@host/db",
    )
    sqlite_synchronous: str = Field(
        "FULL",
        description="SQLite fsync policy: FULL survives power loss; NORMAL only process crashes",
    )
    postgres_pool_size: int = Field(10, ge=1, description="connections per process")

    # Secrets at rest. The key is checked when it is loaded (hookline.secret_keys), not
    # here: a validator's error would carry the raw value in pydantic's message.
    secret_key: SecretStr = Field(
        SecretStr(""),
        description="keys sealing stored secrets: urlsafe base64 of 32 bytes each, "
        "comma-separated, the first seals; empty: use HOOKLINE_SECRET_KEY_FILE",
    )
    secret_key_file: Path = Field(
        Path("hookline.key"),
        description="key file used when HOOKLINE_SECRET_KEY is empty; created (mode 0600) "
        "with a new key if missing",
    )

    # API
    host: str = Field("127.0.0.1", description="address the API binds to")
    port: int = Field(8040, ge=0, le=65535, description="port the API listens on")
    api_processes: int | None = Field(
        None, ge=1, le=64,
        description="API processes sharing the port (one uses about one CPU); unset: serve "
        "runs one per CPU but one, beside its delivery process, and api runs one",
    )  # fmt: skip
    single_process: bool = Field(
        False,
        description="serve runs the API and delivery in one process, one GIL for both "
        "(about one CPU; --single-process)",
    )
    idempotency_ttl: float = Field(86400, gt=0, description="seconds an Idempotency-Key is kept")

    # HTTP server: the API, the inbound gateway and the web faces share these limits
    header_timeout: float = Field(
        10.0, gt=0,
        description="seconds a client has to send a request line and headers (from connecting, "
        "or from a kept-alive request's first byte); then 408 and the connection is closed",
    )  # fmt: skip
    body_timeout: float = Field(
        30.0, gt=0,
        description="seconds a client has to send a request's whole body once its headers are "
        "in; then 408 and the connection is closed",
    )  # fmt: skip
    max_header_bytes: int = Field(
        32 * 1024, ge=1024, description="largest request line and headers together (431 beyond)"
    )
    max_connections: int = Field(
        10_000, ge=1,
        description="open connections per API process; one more is answered 503 and closed",
    )  # fmt: skip
    max_connections_per_address: int = Field(
        256, ge=0,
        description="open connections per client address and API process; one more is "
        "answered 503 and closed (0: no cap; behind a proxy, raise it: clients share its address)",
    )  # fmt: skip
    keep_alive_timeout: float = Field(
        5.0, gt=0, description="seconds an idle kept-alive connection stays open"
    )
    max_requests_per_connection: int = Field(
        1000, ge=0,
        description="requests one connection may send; the last answer closes it (0: no limit)",
    )  # fmt: skip

    # Observability
    metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="a worker-only process (hookline worker) serves "
        "/metrics on this port, at HOOKLINE_HOST (0: not served); API processes serve it "
        "beside the API",
    )
    traces: str = Field(
        "",
        description="OpenTelemetry traces: 'otlp' (OTEL_EXPORTER_OTLP_* variables) or "
        "'file:<path>' (JSON lines); empty: off. Needs the otel extra",
    )

    # Retention
    payload_retention_days: float = Field(
        90,
        gt=0,
        description="days a message's payload is kept (a message may ask for fewer "
        "or more with payloadRetentionPeriod); then it is removed, the message kept",
    )
    attempt_retention_days: float = Field(
        90, gt=0, description="days attempt records (requests and responses) are kept"
    )
    retention_interval: float = Field(
        60, gt=0, description="seconds between rounds of the retention cleaner"
    )
    retention_batch: int = Field(
        1000, ge=1, description="rows the cleaner removes per transaction (small: delivery goes on)"
    )

    # Access and limits
    admin_token: SecretStr = Field(
        SecretStr(""),
        description="an admin API token to accept (32+ characters); if unset, the first start "
        "creates one and prints it once",
    )
    auth_cache_seconds: float = Field(
        5.0, ge=0, description="how long a process trusts a checked token before re-reading it"
    )
    api_rate_limit: float = Field(
        1000, ge=0, description="API requests per second per token and process (0: no limit)"
    )
    api_rate_burst: int = Field(2000, ge=1, description="requests a token may send at once")
    auth_failure_limit: int = Field(
        20, ge=0,
        description="failed authentications (API tokens, dashboard and portal sign-ins) a client "
        "address may make per auth_failure_window; more fail with 429 and Retry-After, while "
        "valid tokens still pass (0: no limit)",
    )  # fmt: skip
    auth_failure_window: float = Field(
        60.0, gt=0, description="seconds over which auth_failure_limit counts failures"
    )
    max_request_bytes: int = Field(
        2 * 1024 * 1024, ge=1024, description="largest API request body (413 beyond)"
    )
    max_payload_bytes: int = Field(
        1024 * 1024, ge=64, description="largest message payload, as JSON bytes (413 beyond)"
    )
    public_url: str = Field(
        "", description="base URL people reach hookline at, for portal links (default: as asked)"
    )
    # The customer portal (docs/portal.md)
    portal_frame_ancestors: str = Field(
        "",
        description="origins that may show the portal in a frame (CSP frame-ancestors), comma "
        "or space separated, like https://app.example.com; empty: no site may frame it",
    )
    portal_features: str = Field(
        "headers,rate_limit",
        description="what customers may change on their endpoints in the portal, comma "
        "separated from headers, rate_limit, transformations (empty: none of them)",
    )
    portal_name: str = Field("", description="the portal's name in its header (default: hookline)")
    portal_logo_url: str = Field("", description="the portal's logo: an https URL or a /path")
    portal_accent: str = Field("", description="the portal's accent colour, like #3151d3")
    portal_accent_dark: str = Field(
        "", description="the portal's accent colour in dark mode (default: portal_accent)"
    )
    log_payloads: bool = Field(False, description="log message payloads (off: never logged)")
    metrics_public: bool = Field(
        False, description="serve /metrics without a token (off: an admin token is needed)"
    )

    # Delivery
    worker_concurrency: int = Field(512, ge=1, description="requests in flight per worker process")
    endpoint_concurrency: int = Field(
        16, ge=1, description="requests in flight to one endpoint per worker process"
    )
    slow_after: float = Field(
        0.5,
        ge=0,
        description=(
            "seconds after which a request still waiting for its answer stops counting "
            "against worker_concurrency (up to half as many again; 0 turns this off), so "
            "endpoints that hang cannot starve the others"
        ),
    )
    claim_batch: int = Field(256, ge=1, description="deliveries claimed per query")
    lease_seconds: float = Field(
        60, gt=0, description="how long a claim lasts before a crashed worker's work comes back"
    )
    connect_timeout: float = Field(5.0, gt=0, description="seconds to open a connection")
    request_timeout: float = Field(15.0, gt=0, description="seconds for a whole attempt")
    retry_schedule: str = Field(
        ",".join(f"{int(d)}s" for d in DEFAULT_SCHEDULE),
        description="delays after the first attempt, e.g. 5s,5m,30m,2h,5h,10h,10h",
    )
    retry_jitter: float = Field(0.2, ge=0, lt=1, description="+/- fraction applied to each delay")
    max_retry_after: float = Field(3600, ge=0, description="cap on a receiver's Retry-After")
    disable_after: float = Field(
        5 * 86400, gt=0, description="seconds of failures with no success before disabling"
    )
    max_response_bytes: int = Field(20 * 1024, ge=0, description="response body kept per attempt")
    poll_interval: float = Field(
        1.0, gt=0, description="longest nap of an idle worker (wake-ups usually come sooner)"
    )
    shutdown_grace: float = Field(
        10.0, ge=0, description="seconds SIGTERM waits for in-flight attempts"
    )
    send_svix_headers: bool = Field(True, description="also send svix-id/-timestamp/-signature")
    user_agent: str = Field("hookline-webhooks/0.1", description="User-Agent of deliveries")

    http_client: Literal["pyreqwest", "aiohttp"] = Field(
        "pyreqwest",
        description="outbound HTTP client: pyreqwest (measured faster), or aiohttp (the fallback)",
    )

    proxy_url: SecretStr = Field(
        SecretStr(""),
        description="egress proxy for every outbound request, http://[user:pass@]host:port "
        "(HTTP CONNECT for https; needs the pyreqwest client)",
    )

    # Destinations (SSRF defence)
    ssrf_protection: bool = Field(
        True, description="refuse private, loopback, link-local, metadata... destinations"
    )
    allowed_networks: str = Field(
        "", description="CIDRs allowed despite the SSRF defence, e.g. 127.0.0.0/8 for local tests"
    )
    https_only: bool = Field(False, description="refuse http:// endpoint URLs")

    # Inbound
    trusted_proxies: str = Field(
        "",
        description="CIDRs of the proxies in front of hookline whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed (the client's address for sources' allowlists and the "
        "failed-authentication throttle); empty: the socket's peer is the client",
    )

    # Logging
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_json: bool = Field(True, description="one JSON object per log line")

    @field_validator("retry_schedule")
    @classmethod
    def _schedule_parses(cls, value: str) -> str:
        parse_schedule(value)
        return value

    @field_validator("admin_token")
    @classmethod
    def _admin_token_is_strong(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value() and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (try: openssl rand -hex 32)")
        return value

    @field_validator("sqlite_synchronous")
    @classmethod
    def _known_sync_mode(cls, value: str) -> str:
        if value.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError("must be OFF, NORMAL, FULL or EXTRA")
        return value.upper()

    @field_validator("allowed_networks")
    @classmethod
    def _networks_parse(cls, value: str) -> str:
        DestinationPolicy.from_strings(value.split(","))
        return value

    @field_validator("portal_frame_ancestors")
    @classmethod
    def _ancestors_parse(cls, value: str) -> str:
        portal_look.frame_ancestors(value)
        return value

    @field_validator("portal_features")
    @classmethod
    def _features_known(cls, value: str) -> str:
        portal_look.features(value)
        return value

    @field_validator("portal_name")
    @classmethod
    def _portal_name(cls, value: str) -> str:
        return portal_look.check_name(value)

    @field_validator("portal_logo_url")
    @classmethod
    def _portal_logo(cls, value: str) -> str:
        return portal_look.check_logo_url(value)

    @field_validator("portal_accent", "portal_accent_dark")
    @classmethod
    def _portal_colour(cls, value: str) -> str:
        return portal_look.check_colour(value)

    @property
    def portal_theme(self) -> portal_look.Theme:
        """The portal's theme as the server sets it (applications may override it)."""
        return portal_look.Theme(
            self.portal_name, self.portal_logo_url, self.portal_accent, self.portal_accent_dark
        )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, value: str) -> str:
        try:
            ingress.parse_networks([v for v in value.split(",") if v.strip()], field=())
        except HooklineError as error:
            raise ValueError(error.detail) from None
        return value

    @property
    def trusted_proxy_list(self) -> list[str]:
        """The proxies whose ``X-Forwarded-For`` and ``-Proto`` are believed, as CIDRs."""
        given = [v for v in self.trusted_proxies.split(",") if v.strip()]
        return list(ingress.parse_networks(given, ()))

    @field_validator("proxy_url")
    @classmethod
    def _proxy_parses(cls, value: SecretStr) -> SecretStr:
        try:
            parse_proxy_url(value.get_secret_value())
        except ConfigError as error:
            raise ValueError(str(error)) from None
        return value

    @model_validator(mode="after")
    def _proxy_needs_pyreqwest(self) -> Settings:
        # aiohttp does not resolve a proxied destination's name, so the SSRF defence could
        # not judge it: only the pyreqwest transport goes through the proxy.
        if self.proxy_url.get_secret_value() and self.http_client != "pyreqwest":
            raise ValueError("HOOKLINE_PROXY_URL needs HOOKLINE_HTTP_CLIENT=pyreqwest")
        return self

    @property
    def egress_proxy(self) -> EgressProxy | None:
        """The egress proxy outbound requests go through (None: direct)."""
        return parse_proxy_url(self.proxy_url.get_secret_value())

    @model_validator(mode="after")
    def _lease_outlasts_attempt(self) -> Settings:
        # A lease shorter than an attempt would hand a delivery to a second worker
        # while the first is still sending it.
        if self.lease_seconds < self.request_timeout + 5:
            raise ValueError(
                f"lease_seconds ({self.lease_seconds}) must exceed request_timeout "
                f"({self.request_timeout}) by at least 5 seconds"
            )
        return self

    @property
    def destination_policy(self) -> DestinationPolicy:
        """Where deliveries may go."""
        return DestinationPolicy.from_strings(
            self.allowed_networks.split(","),
            enabled=self.ssrf_protection,
            https_only=self.https_only,
        )

    @property
    def retry_policy(self) -> RetryPolicy:
        """The server-wide retry policy."""
        return RetryPolicy(
            delays=parse_schedule(self.retry_schedule),
            jitter=self.retry_jitter,
            max_retry_after=self.max_retry_after,
        )


def load_settings(
    overrides: Mapping[str, Any] | None = None, config_file: Path | None = None
) -> Settings:
    """Build the settings from the environment (and a file), raising ConfigError on bad values."""
    try:
        if config_file is not None:
            return Settings(_env_file=config_file, **dict(overrides or {}))
        return Settings(**dict(overrides or {}))
    except ValidationError as error:
        problems = "; ".join(
            f"HOOKLINE_{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in error.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from None
