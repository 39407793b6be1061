"""The three proofs of a chaos run, from the receiver's log and the API's records.

1. **Nothing lost.** Every published message is stored once, and reached every
   endpoint it is routed to (and no other) with a 2xx at least once; or its
   delivery is dead-lettered and every one of its attempts is a request the
   receiver saw.
2. **The attempt log is true.** Every attempt pairs with one request the receiver
   logged: answered attempts by the sequence number the receiver put in its
   answer (same message, endpoint and status; success exactly for a 2xx),
   unanswered ones (status 0) with a request the receiver did not answer, in
   time. Every request the receiver saw has its attempt, unless its sender was
   killed before it could record it (a crash window); a 2xx lost that way must
   have been sent again.
3. **Duplicates only from crashes.** A message that got a 2xx more than once at
   an endpoint owes each earlier 2xx to a crash (its sender was killed with it in
   flight, unrecorded) or to a PostgreSQL outage (recorded after its lease had
   lapsed); their number is at most what was in flight at the crashes, itself
   bounded by worker concurrency x kills. No message is ever being delivered to
   one endpoint by two requests at once, unless the first one's sender is dead.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from chaos.evidence import AttemptSeen, Evidence, Kill, Request

#: Svix's delivery statuses, as the API lists them.
SUCCESS, PENDING, FAIL, SENDING = 0, 1, 2, 3
#: How early a request may seem to arrive before its attempt's send time (clock reads).
_SKEW = 0.25
_SHOWN = 8
#: How long after its sender's death a request may still be stamped as arriving.
_RECEIVER_LAG = 5.0

Pair = tuple[str, str]  # (message id, endpoint path)


@dataclass
class Verdict:
    """The proofs' outcome: figures for the report and every failure found."""

    messages: int = 0
    stored: int = 0
    deliveries: int = 0
    requests: int = 0
    attempts: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    delivered: int = 0
    dead_lettered: int = 0
    lost: int = 0
    mismatches: int = 0
    #: Messages that got a 2xx more than once at one endpoint, and the extra 2xx.
    duplicates: int = 0
    extra_deliveries: int = 0
    duplicates_from_crashes: int = 0
    duplicates_from_outages: int = 0
    unexplained_duplicates: int = 0
    concurrent: int = 0
    #: Unrecorded requests of each killed sender (the deliveries it had in flight).
    in_flight_at_kills: list[int] = field(default_factory=list)
    duplicate_bound: int = 0
    bound_formula: str = ""
    unattributed: int = 0
    #: Processes that failed by themselves (each also among ``failures``).
    process_problems: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether every property holds."""
        return not self.failures


class _Findings:
    """Failures by category, each category shown a few times and then counted."""

    def __init__(self) -> None:
        self.by_kind: dict[str, list[str]] = defaultdict(list)

    def add(self, kind: str, detail: str) -> None:
        self.by_kind[kind].append(detail)

    def count(self, *kinds: str) -> int:
        return sum(len(self.by_kind.get(k, ())) for k in kinds)

    def lines(self) -> list[str]:
        out = []
        for kind, details in self.by_kind.items():
            shown = "; ".join(details[:_SHOWN])
            more = f" (+{len(details) - _SHOWN} more)" if len(details) > _SHOWN else ""
            out.append(f"{kind} x{len(details)}: {shown}{more}")
        return out


def prove(ev: Evidence) -> Verdict:
    """Check the three properties; every failure lands in ``Verdict.failures``."""
    verdict = Verdict(
        messages=len(ev.published), requests=len(ev.requests), attempts=len(ev.attempts),
        answers=Counter(r.kind for r in ev.requests),
    )  # fmt: skip
    found = _Findings()
    _check_processes(ev, verdict, found)
    _check_messages(ev, verdict, found)
    requests = {r.seq: r for r in ev.requests}
    by_pair: dict[Pair, list[Request]] = defaultdict(list)
    for request in ev.requests:
        by_pair[(request.msg_id, request.path)].append(request)
    recorded = _pair_attempts(ev, requests, by_pair, found)
    excused = _crash_windows(ev, recorded, verdict, found)
    _check_deliveries(ev, by_pair, recorded, verdict, found)
    _check_duplicates(ev, by_pair, recorded, excused, verdict, found)
    verdict.lost = found.count("lost", "not stored", "not published")
    verdict.mismatches = found.count(
        "attempt without its request", "attempt and request differ", "request not in attempt log",
        "2xx lost in a crash and never sent again", "status disagrees with the receiver",
        "unexpected routing", "wrong payload",
    )  # fmt: skip
    verdict.failures = found.lines()
    return verdict


def _check_processes(ev: Evidence, verdict: Verdict, found: _Findings) -> None:
    verdict.process_problems = list(ev.process_problems)
    for problem in ev.process_problems:
        found.add("process", problem)
    if not ev.drained:
        found.add("not drained", ev.drain_detail)


def _check_messages(ev: Evidence, verdict: Verdict, found: _Findings) -> None:
    """Published once, stored once, routed where it should be, with its own payload."""
    for failure in ev.publish_failures:
        found.add("not published", failure)
    stored = Counter(m["eventId"] for m in ev.records.messages)
    verdict.stored = len(ev.records.messages)
    ours = {p.event_id for p in ev.published.values()}
    for event_id, count in stored.items():
        if count > 1:
            found.add("stored twice", f"{event_id} x{count}")
        if event_id not in ours:
            found.add("stored but never published", str(event_id))
    for published in ev.published.values():
        if published.event_id not in stored:
            found.add("not stored", published.event_id)
    numbers = {p.msg_id: p.n for p in ev.published.values()}
    for path, statuses in ev.records.deliveries.items():
        for msg_id in statuses:
            if path not in ev.routed.get(msg_id, frozenset()):
                found.add("unexpected routing", f"{msg_id} has a delivery to {path}")
    verdict.deliveries = sum(len(paths) for paths in ev.routed.values())
    for request in ev.requests:
        if request.path not in ev.routed.get(request.msg_id, frozenset()):
            found.add(
                "unexpected routing", f"request #{request.seq} {request.msg_id} {request.path}"
            )
        elif request.n is not None and request.n != numbers.get(request.msg_id):
            found.add("wrong payload", f"request #{request.seq} carried message {request.n}")


def _pair_attempts(
    ev: Evidence, requests: dict[int, Request], by_pair: dict[Pair, list[Request]],
    found: _Findings,
) -> dict[int, AttemptSeen]:  # fmt: skip
    """Pair every attempt with the request it was; returns the attempt by request seq."""
    recorded: dict[int, AttemptSeen] = {}
    unanswered: dict[Pair, list[AttemptSeen]] = defaultdict(list)
    for attempt in ev.attempts:
        if attempt.status_code == 0:
            unanswered[(attempt.msg_id, attempt.path)].append(attempt)
            continue
        request = requests.get(attempt.seq) if attempt.seq is not None else None
        if request is None:
            found.add(
                "attempt without its request",
                f"{attempt.id} ({attempt.msg_id} {attempt.path} {attempt.status_code}, "
                f"seq {attempt.seq})",
            )
            continue
        problem = _differs(attempt, request)
        if problem is None and request.seq in recorded:
            problem = f"request #{request.seq} is already {recorded[request.seq].id}"
        if problem is not None:
            found.add("attempt and request differ", f"{attempt.id}: {problem}")
            continue
        recorded[request.seq] = attempt
    window = ev.connect_timeout + ev.request_timeout + 1.0
    for pair, attempts in unanswered.items():
        candidates = [r for r in by_pair.get(pair, []) if r.seq not in recorded]
        for attempt in sorted(attempts, key=lambda a: a.at):
            near = [r for r in candidates if attempt.at - _SKEW <= r.arrived <= attempt.at + window]
            silent = [r for r in near if not r.written]
            if silent:
                recorded[silent[0].seq] = attempt
                candidates.remove(silent[0])
            elif near:
                found.add(
                    "status disagrees with the receiver",
                    f"{attempt.id} ({attempt.error_class}) shows no status; request "
                    f"#{near[0].seq} was answered {near[0].status} in full",
                )
                candidates.remove(near[0])
                recorded[near[0].seq] = attempt
            else:
                found.add(
                    "attempt without its request",
                    f"{attempt.id} ({pair[0]} {pair[1]}, {attempt.error_class}) at "
                    f"{attempt.at:.3f}",
                )
    return recorded


def _differs(attempt: AttemptSeen, request: Request) -> str | None:
    if (request.msg_id, request.path) != (attempt.msg_id, attempt.path):
        return f"request #{request.seq} was {request.msg_id} {request.path}"
    if request.status != attempt.status_code:
        return f"status {attempt.status_code}, the receiver answered {request.status}"
    if attempt.success != (200 <= attempt.status_code < 300):
        return f"success={attempt.success} for status {attempt.status_code}"
    return None


def _killed_sender(ev: Evidence, request: Request) -> Kill | None:
    """The kill that explains why ``request`` went unrecorded, if any.

    A request whose sender is known was sent before that process died, whatever
    the times say: the receiver stamps a request when its handler starts, which
    under load can be a little after the sender's death. A request whose sender
    is unknown (gone before it was looked up) is put down to a kill close in time.
    """
    for kill in ev.kills:
        if not kill.sends:
            continue
        if request.pid is not None:
            if request.pid == kill.pid and request.arrived <= kill.at + _RECEIVER_LAG:
                return kill
        elif request.arrived - _RECEIVER_LAG <= kill.at <= request.arrived + ev.request_timeout + 3:
            return kill
    return None


def _crash_windows(
    ev: Evidence, recorded: dict[int, AttemptSeen], verdict: Verdict, found: _Findings
) -> set[int]:
    """Requests without an attempt: excused if their sender died with them in flight."""
    excused: set[int] = set()
    in_flight: Counter[Kill] = Counter()
    for request in ev.requests:
        if request.seq in recorded:
            continue
        kill = _killed_sender(ev, request)
        if kill is None:
            found.add(
                "request not in attempt log",
                f"#{request.seq} {request.msg_id} {request.path} kind={request.kind} "
                f"status={request.status} written={request.written} pid={request.pid}",
            )
            continue
        excused.add(request.seq)
        in_flight[kill] += 1
        if request.pid is None:
            verdict.unattributed += 1
    verdict.in_flight_at_kills = [in_flight[k] for k in ev.kills if k.sends]
    return excused


def _check_deliveries(
    ev: Evidence, by_pair: dict[Pair, list[Request]], recorded: dict[int, AttemptSeen],
    verdict: Verdict, found: _Findings,
) -> None:  # fmt: skip
    """Proof 1, and that each 2xx lost in a crash was sent again."""
    for msg_id, paths in ev.routed.items():
        for path in sorted(paths):
            requests = by_pair.get((msg_id, path), [])
            status = ev.records.deliveries.get(path, {}).get(msg_id)
            got_2xx = [r for r in requests if _delivered(r, recorded)]
            for request in got_2xx:
                if request.seq not in recorded and not any(
                    later.arrived > request.arrived for later in requests
                ):
                    found.add(
                        "2xx lost in a crash and never sent again",
                        f"#{request.seq} {msg_id} {path}",
                    )
            if got_2xx:
                verdict.delivered += 1
                if status != SUCCESS:
                    verdict.notes.append(
                        f"{msg_id} {path}: delivered, but its delivery's status is {status}"
                    )
                continue
            if status == SUCCESS:
                found.add("lost", f"{msg_id} {path}: marked success, but no 2xx ever arrived")
            elif status == FAIL:
                attempts = [a for a in recorded.values() if (a.msg_id, a.path) == (msg_id, path)]
                verdict.dead_lettered += 1
                if len(attempts) < ev.max_attempts:
                    found.add(
                        "dead-lettered before its retries were spent",
                        f"{msg_id} {path}: {len(attempts)} of {ev.max_attempts} attempts",
                    )
                verdict.notes.append(
                    f"{msg_id} {path}: dead-lettered after {len(attempts)} attempts, "
                    f"all seen by the receiver"
                )
            else:
                found.add("lost", f"{msg_id} {path}: never got a 2xx (status {status})")


def _delivered(request: Request, recorded: dict[int, AttemptSeen]) -> bool:
    """A 2xx the receiver wrote, or one hookline read (so it was written)."""
    attempt = recorded.get(request.seq)
    return request.ok or (attempt is not None and attempt.success)


def _check_duplicates(
    ev: Evidence, by_pair: dict[Pair, list[Request]], recorded: dict[int, AttemptSeen],
    excused: set[int], verdict: Verdict, found: _Findings,
) -> None:  # fmt: skip
    """Proof 3: every duplicate 2xx comes from a crash or an outage, within the bound."""
    for pair, requests in by_pair.items():
        ordered = sorted(requests, key=lambda r: r.arrived)
        for earlier, later in itertools.pairwise(ordered):
            ended = earlier.ended if earlier.ended is not None else earlier.arrived
            if later.arrived < ended and earlier.seq not in excused:
                verdict.concurrent += 1
                found.add(
                    "delivered twice at once",
                    f"{pair[0]} {pair[1]}: #{earlier.seq} (pid {earlier.pid}) and "
                    f"#{later.seq} (pid {later.pid}) overlap",
                )
        twice = [r for r in ordered if _delivered(r, recorded)]
        if len(twice) < 2:
            continue
        verdict.duplicates += 1
        verdict.extra_deliveries += len(twice) - 1
        for request in twice[:-1]:
            if request.seq in excused:
                verdict.duplicates_from_crashes += 1
            elif _during_outage(ev, request):
                verdict.duplicates_from_outages += 1
            else:
                verdict.unexplained_duplicates += 1
                found.add(
                    "duplicate 2xx outside a crash window",
                    f"{pair[0]} {pair[1]}: #{request.seq} (pid {request.pid}, "
                    f"attempt {recorded[request.seq].id if request.seq in recorded else None}) "
                    f"then #{twice[-1].seq} (pid {twice[-1].pid})",
                )
    sender_kills = sum(1 for k in ev.kills if k.sends)
    verdict.duplicate_bound = ev.worker_concurrency * (
        sender_kills + ev.worker_processes * len(ev.outages)
    )
    verdict.bound_formula = f"{ev.worker_concurrency} x {sender_kills} kills of a sender"
    if ev.outages:
        verdict.bound_formula += (
            f" + {ev.worker_concurrency} x {ev.worker_processes} workers x {len(ev.outages)} outage"
        )
    in_flight = sum(verdict.in_flight_at_kills)
    if verdict.duplicates_from_crashes > in_flight:
        found.add(
            "more duplicates than in flight",
            f"{verdict.duplicates_from_crashes} from crashes, {in_flight} in flight",
        )
    if verdict.extra_deliveries > verdict.duplicate_bound:
        found.add(
            "duplicates over the bound",
            f"{verdict.extra_deliveries} extra 2xx > {verdict.duplicate_bound}",
        )


def _during_outage(ev: Evidence, request: Request) -> bool:
    """Whether a recorded 2xx could have lost its lease to a PostgreSQL outage."""
    ended = request.ended if request.ended is not None else request.arrived
    return any(
        outage.start - ev.lease_seconds - 1.0 <= ended <= outage.end + 1.0 for outage in ev.outages
    )
