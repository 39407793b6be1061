"""The delivery engine: claim due deliveries, send them signed, record the outcome."""
