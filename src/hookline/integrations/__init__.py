"""Webhook verification inside an existing web app: FastAPI, Flask and Django helpers.

Import the helper for your framework from its module (``hookline.integrations.fastapi``,
``.flask``, ``.django``); nothing here imports a framework, so hookline needs neither
Flask nor Django unless you use their helper. Each helper verifies the raw request
body with a :class:`~hookline.domain.verifiers.Verifier`, answers 401
``{"detail": "invalid signature"}`` on failure, and, given a
:class:`~hookline.domain.dedup.Deduplicator`, answers a repeated event id with 200
without calling the view.
"""
