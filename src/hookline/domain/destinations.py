"""Destinations: endpoints that are not an HTTP URL (a broker, a database, a poller).

A destination is an endpoint with a kind and its configuration, in the shape of the
svix SDK's ``DestinationIn`` (``{"type": "rabbitMq", "config": {...}}``): the
configuration's secrets (passwords, tokens, credentials inside URIs) are sealed at
rest like endpoint secrets and unsealed into ``Destination.config`` when a delivery is
claimed. The worker hands a delivery whose endpoint has a destination to the delivery
channel registered under its ``kind`` (``delivery/channels.py``); everything else about
the delivery (retries, attempts, the circuit, rate limits, filters, transformations,
batching) is the same as for HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Kinds hookline delivers to, by the svix SDK's type names (and hookline's own).
RABBITMQ = "rabbitMq"
POSTGRES = "postgres"
POLLING = "pollingEndpoint"
FIFO = "fifoEndpoint"
REDIS = "redis"
NATS = "nats"
MQTT = "mqtt"


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a delivery goes when it is not an HTTP POST: its kind and configuration.

    ``config`` holds the unsealed configuration as the API took it (camelCase keys, e.g.
    ``{"uri": "amqp://...", "routingKey": "invoices", "mandatory": true}``).
    """

    kind: str
    config: Mapping[str, Any] = field(default_factory=dict)
