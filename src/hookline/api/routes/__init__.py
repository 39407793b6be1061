"""The management API's routes, one module per resource."""
