"""Fan-out matching and identifiers (pure logic)."""

from __future__ import annotations

import os
import threading

from hypothesis import given
from hypothesis import strategies as st

from hookline.domain import ids
from hookline.domain.models import Endpoint
from hookline.domain.routing import route


def endpoint(name: str, **fields: object) -> Endpoint:
    return Endpoint(id=name, app_id="app", url="https://example.com", secret="s", **fields)  # type: ignore[arg-type]


def test_route_applies_type_filter_and_channels() -> None:
    """An endpoint gets a message when its type filter and channels both allow it."""
    every = endpoint("every")
    typed = endpoint("typed", filter_types=("a.b",))
    eu = endpoint("eu", channels=("eu",))
    both = endpoint("both", filter_types=("a.b",), channels=("eu", "us"))
    endpoints = [every, typed, eu, both]
    assert [e.id for e in route(endpoints, "a.b", None)] == ["every", "typed"]
    assert [e.id for e in route(endpoints, "a.b", ["us"])] == ["every", "typed", "both"]
    assert [e.id for e in route(endpoints, "x.y", ["eu"])] == ["every", "eu"]


def test_disabled_endpoint_still_matches() -> None:
    """A disabled endpoint matches so its delivery is recorded (held), not dropped."""
    assert route([endpoint("off", disabled=True)], "a", None)[0].id == "off"


def test_empty_filter_means_every_type() -> None:
    """An empty event-type list is no filter at all."""
    assert route([endpoint("e", filter_types=())], "any.type", None)


def test_ids_sort_by_time_and_carry_prefix() -> None:
    """Ids carry their prefix and sort in creation order."""
    first = ids.new_id(ids.MESSAGE, 1_800_000_000)
    later = ids.new_id(ids.MESSAGE, 1_800_000_001)
    assert first.startswith("msg_")
    assert len(first) == len("msg_") + 27
    assert first < later
    assert ids.looks_like_id(first, ids.MESSAGE)
    assert not ids.looks_like_id("my-uid", ids.MESSAGE)


def test_ids_within_one_second_sort_in_creation_order() -> None:
    """Ids made a millisecond apart sort in the order they were made."""
    made = [ids.new_id(ids.ATTEMPT, 1_800_000_000 + i / 1000) for i in range(50)]
    assert sorted(made) == made


@given(st.integers(min_value=0, max_value=2**160 - 1))
def test_base62_is_the_plain_base62_numeral_in_27_digits(number: int) -> None:
    """An id body is the number in base62, zero-padded to 27 digits (two digits per step
    is only a faster way to the same text)."""
    digits = []
    rest = number
    while rest:
        rest, digit = divmod(rest, 62)
        digits.append(ids._ALPHABET[digit])
    assert ids._base62(number) == "".join(reversed(digits)).rjust(27, "0")


def test_pooled_random_bytes_do_not_repeat_across_refills_threads_or_forks() -> None:
    """Pooled random bytes: fresh on each call, in each thread and in a forked child."""
    drawn = [ids.pooled_random(13) for _ in range(2000)]  # several refills of the pool
    assert all(len(chunk) == 13 for chunk in drawn)
    assert len(set(drawn)) == len(drawn)
    assert len(ids.pooled_random(10_000)) == 10_000  # larger than a pool

    in_thread: list[bytes] = []
    worker = threading.Thread(
        target=lambda: in_thread.extend(ids.pooled_random(13) for _ in range(50))
    )
    worker.start()
    worker.join()
    assert not set(in_thread) & set(drawn)

    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child writes what it draws next, and nothing else
        os.write(write, ids.pooled_random(13))
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    from_child = os.read(read, 13)
    os.close(read)
    assert len(from_child) == 13
    assert from_child != ids.pooled_random(13)


def test_a_floor_id_past_the_last_id_time_is_the_highest_bound() -> None:
    """floor_id takes any far-future bound (year 9999) as the last second ids can name."""
    far = ids.floor_id(ids.MESSAGE, 253_402_300_799.0)
    assert far == ids.floor_id(ids.MESSAGE, ids.LAST_ID_TIME)
    assert far > ids.new_id(ids.MESSAGE, 2_000_000_000.0)
