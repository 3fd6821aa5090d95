"""The event stream at /ws/events/ through the real ASGI application (routing, session auth, origin
check) with Channels' WebsocketCommunicator: replay after a client's last id, then new events, by
tailing the events table (the embedded default) and pushed through Redis (production).

Each test body runs on an event loop of its own in a thread of its own: when the browser tests run in
the same session, Playwright keeps an event loop running in the main thread until the session ends."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import subprocess
import sys
import threading
import uuid

import pytest
import redis
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from evolution.models import Event
from evolution.services.events import record_event
from genesys_site.asgi import application

pytest_plugins = ["web_fixtures"]
pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://testserver")
REDIS = "redis://127.0.0.1:6379/14"


def own_loop(test):
    """An async test as a plain one (fixtures and all) that runs the body with asyncio.run in a new thread."""

    @functools.wraps(test)
    def run(*args, **kwargs):
        outcome: dict = {}

        def target():
            try:
                asyncio.run(test(*args, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
                outcome["error"] = exc

        thread = threading.Thread(target=target, name=test.__name__)
        thread.start()
        thread.join(120)
        if thread.is_alive():
            pytest.fail(f"{test.__name__} did not finish in 120 s")
        if "error" in outcome:
            raise outcome["error"]

    return run


def communicator(query: str = "", cookie: str = "") -> WebsocketCommunicator:
    headers = [ORIGIN] + ([(b"cookie", cookie.encode())] if cookie else [])
    return WebsocketCommunicator(application, f"/ws/events/{query}", headers=headers)


record = database_sync_to_async(record_event)


async def receive(comm: WebsocketCommunicator, timeout: float = 5) -> dict:
    return await comm.receive_json_from(timeout=timeout)


@own_loop
async def test_a_client_gets_the_events_after_its_last_id_then_new_ones():
    first = await record("test.one", {"n": 1})
    second = await record("test.two", {"n": 2})
    third = await record("test.three", {"n": 3})
    comm = communicator(f"?after={first.id}")
    connected, _ = await comm.connect()
    assert connected
    replayed = [await receive(comm), await receive(comm)]
    assert [e["id"] for e in replayed] == [second.id, third.id]
    assert replayed[0]["kind"] == "test.two" and replayed[0]["payload"] == {"n": 2}
    assert set(replayed[0]) == {"id", "kind", "design", "payload", "created_at"}
    # Recorded after the client connected: the consumer's tail of the events table delivers it.
    fourth = await record("verification.done", {"fitness": 0.031})
    live = await receive(comm)
    assert live["id"] == fourth.id and live["payload"]["fitness"] == 0.031
    assert await comm.receive_nothing(timeout=0.7)  # each event once
    await comm.disconnect()


@own_loop
async def test_without_after_a_client_starts_from_now():
    await record("test.old", {})
    comm = communicator()
    assert (await comm.connect())[0]
    assert await comm.receive_nothing(timeout=0.7)
    new = await record("test.new", {})
    assert (await receive(comm))["id"] == new.id
    await comm.disconnect()


@own_loop
async def test_a_design_stream_carries_only_that_designs_events(seeds):
    gpt, other = seeds[0], seeds[1]
    start = await database_sync_to_async(lambda: Event.objects.order_by("-id").first().id)()
    comm = communicator(f"?after={start}&design={gpt.id}")
    assert (await comm.connect())[0]
    await record("verification.progress", {"step": 1}, design=other)
    mine = await record("verification.progress", {"step": 2}, design=gpt)
    got = await receive(comm)
    assert got["id"] == mine.id and got["design"] == gpt.id
    assert await comm.receive_nothing(timeout=0.7)
    await comm.disconnect()


@own_loop
async def test_a_reconnecting_client_replays_what_it_missed():
    comm = communicator()
    assert (await comm.connect())[0]
    seen = await record("test.seen", {})
    assert (await receive(comm))["id"] == seen.id
    await comm.disconnect()
    missed = [await record("test.missed", {"i": i}) for i in range(3)]
    again = communicator(f"?after={seen.id}")
    assert (await again.connect())[0]
    assert [(await receive(again))["id"] for _ in missed] == [e.id for e in missed]
    await again.disconnect()


@own_loop
async def test_a_private_site_refuses_anonymous_clients_and_accepts_users(settings, researcher):
    settings.GENESYS_PRIVATE = True
    comm = communicator("?after=0")
    connected, code = await comm.connect()
    assert not connected and code == 4401
    client = Client()
    await database_sync_to_async(client.force_login)(researcher)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    comm = communicator("?after=0", cookie=cookie)
    assert (await comm.connect())[0]
    await comm.disconnect()


@own_loop
async def test_a_foreign_origin_is_refused():
    comm = WebsocketCommunicator(application, "/ws/events/", headers=[(b"origin", b"http://evil.example")])
    connected, _ = await comm.connect()
    assert not connected


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS, socket_connect_timeout=2).ping())
    except Exception:  # noqa: BLE001
        return False


def _production_layers(redis_url: str) -> dict:
    """CHANNEL_LAYERS as genesys_site.settings builds it when REDIS_URL is set (read in a fresh process)."""
    code = "import json, django; django.setup(); from django.conf import settings; print(json.dumps(settings.CHANNEL_LAYERS))"
    env = {**os.environ, "REDIS_URL": redis_url, "DJANGO_SETTINGS_MODULE": "genesys_site.settings"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@own_loop
async def test_events_are_pushed_through_the_redis_channel_layer(settings):
    if not _redis_up():
        pytest.skip(f"Redis is not reachable at {REDIS}")
    layers = _production_layers(REDIS)
    assert layers["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    layers["default"]["CONFIG"]["prefix"] = f"genesys-test-{uuid.uuid4().hex[:8]}"  # apart from other runs
    settings.REDIS_URL = REDIS
    settings.CHANNEL_LAYERS = layers
    from evolution.live.push import layer_is_shared

    assert layer_is_shared()
    comm = communicator()
    assert (await comm.connect())[0]
    # A row written without the broadcast is not heard of: on this path nothing tails the table.
    silent = await database_sync_to_async(Event.objects.create)(kind="test.unannounced", payload={})
    # Idle for longer than a blocking read of the layer (5 s): the consumer must stay subscribed. Then
    # an event arrives by record_event -> broadcast -> push_event -> Redis group_send, and the consumer
    # fills the gap it reveals from the table before passing it on.
    assert await comm.receive_nothing(timeout=7)
    event = await record("verification.done", {"fitness": 0.042})
    try:
        got = [await receive(comm), await receive(comm)]
    except redis.exceptions.TimeoutError:
        pytest.fail("the Redis channel layer dropped an idle consumer after ~5 s: redis-py 8 defaults socket_timeout "
                    "to 5 s, shorter than channels_redis's blocking BZPOPMIN; give the CHANNEL_LAYERS host a longer "
                    "socket_timeout in genesys_site/settings.py")
    assert [e["id"] for e in got] == [silent.id, event.id] and got[1]["payload"]["fitness"] == 0.042
    await comm.disconnect()
