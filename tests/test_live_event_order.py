"""Events reach a websocket client once each and in id order even when transactions commit out of id
order, as they do on PostgreSQL under concurrent writers (an id is taken at insert, seen at commit):
the stream waits at a missing id, then delivers it and what followed; an id that never commits (a
rolled-back transaction) is given up after GAP_WAIT_S. Both paths: tailing the table (embedded
default) and pushes through the Redis channel layer.

The test database is SQLite, whose writers commit in id order; the tests write events with the ids
that concurrent PostgreSQL transactions would have taken, and treat the database as PostgreSQL does
(`SERIALIZED_WRITERS` emptied): a missing id may yet commit."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from channels.db import database_sync_to_async
from test_live_websocket import REDIS, _production_layers, _redis_up, communicator, own_loop, receive

from evolution import broadcast
from evolution.live import consumers
from evolution.live.sequence import advance
from evolution.models import Event
from evolution.services.events import record_event

pytest_plugins = ["web_fixtures"]


# ---- the rule, on its own -------------------------------------------------------------------------

def test_the_cursor_moves_over_contiguous_ids_only():
    assert advance(4, [], 100.0, 10) == (4, None)
    assert advance(4, [(5, 99.0)], 100.0, 10) == (5, None)
    assert advance(4, [(5, 99.0), (6, 99.0), (7, 99.5)], 100.0, 10) == (7, None)
    assert advance(4, [(5, 99.0), (7, 99.0), (8, 99.5)], 100.0, 10) == (5, 6)


def test_a_gap_is_waited_for_until_the_event_after_it_is_old():
    assert advance(5, [(7, 95.0)], 104.9, 10) == (5, 6)
    assert advance(5, [(7, 95.0), (8, 96.0)], 105.0, 10) == (8, None)  # waited long enough: skipped
    assert advance(5, [(6, 101.0), (7, 95.0)], 101.0, 10) == (7, None)  # filled in time


def test_an_old_gap_costs_no_wait_and_a_later_one_still_holds():
    # History with a hole (a rolled-back transaction long ago), then a fresh hole.
    assert advance(0, [(3, 10.0), (4, 11.0), (6, 99.0)], 100.0, 10) == (4, 5)


def test_ids_at_or_below_the_cursor_are_ignored():
    assert advance(7, [(3, 0.0), (7, 0.0), (8, 99.0)], 100.0, 10) == (8, None)


# ---- through the real consumer --------------------------------------------------------------------

def _next_id() -> int:
    last = Event.objects.order_by("-id").values_list("id", flat=True).first()
    return int(last or 0) + 1


@database_sync_to_async
def write(event_id: int, kind: str) -> Event:
    """An event with the id a concurrent transaction took, committed now, then broadcast as record_event does."""
    event = Event.objects.create(id=event_id, kind=kind, payload={})
    broadcast.broadcast(event)
    return event


async def _out_of_order_commit_is_delivered_in_order() -> None:
    first = await database_sync_to_async(_next_id)()
    comm = communicator(f"?after={first - 1}")
    assert (await comm.connect())[0]
    await write(first + 1, "test.later")  # committed first, took the higher id
    assert await comm.receive_nothing(timeout=1.5)  # held: id `first` may still commit
    await write(first, "test.earlier")
    got = [await receive(comm), await receive(comm)]
    assert [e["id"] for e in got] == [first, first + 1]
    await write(first + 2, "test.next")
    assert (await receive(comm))["id"] == first + 2
    assert await comm.receive_nothing(timeout=0.7)
    await comm.disconnect()


async def _a_gap_that_never_fills_is_skipped() -> None:
    first = await database_sync_to_async(_next_id)()
    comm = communicator(f"?after={first - 1}")
    assert (await comm.connect())[0]
    await write(first + 1, "test.after-rollback")  # id `first` belonged to a rolled-back transaction
    got = await receive(comm, timeout=consumers.GAP_WAIT_S + 3)
    assert got["id"] == first + 1
    await write(first + 2, "test.next")
    assert (await receive(comm))["id"] == first + 2
    await comm.disconnect()


@pytest.fixture
def ids_commit_out_of_order(monkeypatch):
    monkeypatch.setattr(consumers, "SERIALIZED_WRITERS", set())


@pytest.mark.django_db(transaction=True)
def test_tailing_delivers_out_of_order_commits_in_id_order(ids_commit_out_of_order):
    own_loop(_out_of_order_commit_is_delivered_in_order)()


@pytest.mark.django_db(transaction=True)
def test_tailing_skips_a_gap_after_waiting(ids_commit_out_of_order, monkeypatch):
    monkeypatch.setattr(consumers, "GAP_WAIT_S", 2.0)
    own_loop(_a_gap_that_never_fills_is_skipped)()


@pytest.mark.django_db(transaction=True)
def test_on_sqlite_a_missing_id_is_never_waited_for():
    async def body():
        first = await database_sync_to_async(_next_id)()
        comm = communicator(f"?after={first - 1}")
        assert (await comm.connect())[0]
        await write(first + 1, "test.after-a-hole")
        assert (await receive(comm, timeout=2))["id"] == first + 1
        await comm.disconnect()

    own_loop(body)()


def _use_redis(settings) -> None:
    if not _redis_up():
        pytest.skip(f"Redis is not reachable at {REDIS}")
    layers = _production_layers(REDIS)
    layers["default"]["CONFIG"]["prefix"] = f"genesys-test-{uuid.uuid4().hex[:8]}"
    settings.REDIS_URL = REDIS
    settings.CHANNEL_LAYERS = layers


@pytest.mark.django_db(transaction=True)
def test_pushes_deliver_out_of_order_commits_in_id_order(settings, ids_commit_out_of_order):
    _use_redis(settings)
    own_loop(_out_of_order_commit_is_delivered_in_order)()


@pytest.mark.django_db(transaction=True)
def test_pushes_skip_a_gap_after_waiting(settings, ids_commit_out_of_order, monkeypatch):
    _use_redis(settings)
    monkeypatch.setattr(consumers, "GAP_WAIT_S", 2.0)
    own_loop(_a_gap_that_never_fills_is_skipped)()


# ---- the embedded default: one poll per process, not per client ----------------------------------

@pytest.mark.django_db(transaction=True)
def test_many_clients_share_one_poll_of_the_events_table():
    async def body():
        from evolution.live.watermark import watermark

        clients = [communicator() for _ in range(20)]
        for comm in clients:
            assert (await comm.connect())[0]
        shared = watermark()
        polls_before = shared.polls
        await asyncio.sleep(2.0)
        # Twenty clients each polling twice a second would be 80 polls; one shared poll is about 4.
        assert shared.polls - polls_before <= 6
        event = await database_sync_to_async(record_event)("test.fan-out", {})
        for comm in clients:
            assert (await receive(comm))["id"] == event.id
        for comm in clients:
            await comm.disconnect()
        assert shared.members == 0

    own_loop(body)()
