"""The use cases: what hookline does, once, for every face that asks.

The management API's routes, the publish fast path, the dashboard and the portal
all call these functions. They take what they need as arguments (a storage, settings
values, the caller's ``Principal``, the time), return domain values (never HTTP
answers) and refuse bad input with ``HooklineError`` subclasses naming the field at
fault. Converting wire bodies and forms into their arguments, and their results into
answers or pages, is the faces' work. One module per resource:

- ``access``: what a route needs (``Need``) and whether a caller has it;
- ``applications``, ``endpoints``, ``event_types``, ``messages``: the resources;
- ``controls``: an endpoint's delivery controls, checked and built.

The layer sits below ``api`` and ``web`` (which do not import each other) and above
``storage`` (an import-linter contract in pyproject.toml).
"""
