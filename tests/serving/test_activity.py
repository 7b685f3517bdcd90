"""The idleness signal (`router.serving.activity`): in flight, quiet time, and its awaitables."""

from __future__ import annotations

import asyncio
import time

from router.serving.activity import Activity


async def test_idle_for_waits_out_requests_and_the_quiet_time() -> None:
    activity = Activity()
    activity.begin()
    waiter = asyncio.create_task(activity.idle_for(0.1))
    await asyncio.sleep(0.2)
    assert not waiter.done()  # a request in flight: never idle, however long
    activity.end()
    ended = time.monotonic()
    await asyncio.wait_for(waiter, 1)
    assert time.monotonic() - ended >= 0.09  # counted from the end of the last request
    assert activity.in_flight == 0 and activity.quiet_for() >= 0.09


async def test_a_new_request_restarts_the_quiet_time() -> None:
    activity = Activity()
    waiter = asyncio.create_task(activity.idle_for(0.15))
    await asyncio.sleep(0.1)
    activity.begin()
    activity.end()
    restarted = time.monotonic()
    await asyncio.wait_for(waiter, 1)
    assert time.monotonic() - restarted >= 0.14


async def test_arrival_fires_on_the_next_request_only() -> None:
    activity = Activity()
    activity.begin()  # before the wait: not the next one
    waiter = asyncio.create_task(activity.arrival())
    activity.end()
    await asyncio.sleep(0.05)
    assert not waiter.done()  # an end is not an arrival
    activity.begin()
    await asyncio.wait_for(waiter, 0.1)
    assert activity.arrivals == 2 and activity.in_flight == 1


async def test_waiters_cancelled_leave_nothing_behind() -> None:
    activity = Activity()
    waiter = asyncio.create_task(activity.arrival())
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    assert not activity._waiters
    activity.begin()  # nothing to wake, no error
