"""hookline's commands for people: ``send``, ``tail``, ``recover``, ``resend``, ``verify``,
``listen``.

They are clients, not servers: ``send``, ``tail``, ``recover`` and ``resend`` talk to a running
hookline over its HTTP API (``--url``, ``--token``); ``verify`` checks a signature
by hand; ``listen`` is a local receiver for trying webhooks out.

* ``commands``: the click commands, which ``hookline.cli`` registers. It imports
  only click, so ``hookline --help`` stays cheap; the rest loads when a command runs.
* ``_text``: the pure parts (times, headers, payloads, attempt lines, tail's
  de-duplication, why a signature does not verify), unit tested.
* ``_client``: the API client (httpx); ``_errors``: the one-line error it raises.
* ``_output``: rich consoles, tables and the JSON body view.
* ``_publish``, ``_tail``, ``_recover`` (recover and resend), ``_listen``: a command's work each.
"""

from __future__ import annotations
