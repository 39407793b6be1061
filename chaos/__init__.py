"""The fault harness: ``python -m chaos`` proves that hookline loses nothing under faults.

A run starts a chaos receiver (its own process, answering at random with 2xx, 5xx,
429, hangs, resets and slow bodies, and logging every request it sees, fsync'd),
starts hookline on a fresh database (``hookline serve`` on SQLite; two ``hookline
api`` and two ``hookline worker`` processes on PostgreSQL), publishes messages
through the API while ``kill -9``-ing hookline processes at random moments (and,
if asked, restarting PostgreSQL), lets the system drain, then checks from the
receiver's own log and from the API that:

1. every message reached every endpoint it was routed to with a 2xx (or was
   dead-lettered after attempts that the receiver all saw): nothing is lost;
2. the attempt log matches what the receiver saw, request for request;
3. duplicates happened only around crashes, and no more than were in flight.

See docs/reliability.md. Nothing here is part of hookline itself.
"""
