"""The in-process broker: registration at subscribe time, bounded queues, closing."""

from __future__ import annotations

import asyncio

from app.events import TOPIC_TEST, Change, ChangeStream, InProcessBroker

WAIT = 5.0


def change(number: int, *, workspace_id: int = 1, key: str = "ut_a") -> Change:
    return Change(workspace_id, TOPIC_TEST, key, "UPDATED", "UserTestResult", f"r{number}")


async def drain(stream: ChangeStream, count: int) -> list[Change]:
    async with asyncio.timeout(WAIT):
        return [await anext(stream) for _ in range(count)]


async def test_in_process_broker_delivers_what_is_published_after_subscribe() -> None:
    broker = InProcessBroker()
    stream = broker.subscribe(workspace_id=1, topic=TOPIC_TEST, key="ut_a")

    await broker.publish([change(1), change(2, workspace_id=2), change(3, key="ut_b"), change(4)])

    assert await drain(stream, 2) == [change(1), change(4)]


async def test_in_process_broker_forgets_a_closed_stream() -> None:
    broker = InProcessBroker()
    stream = broker.subscribe(workspace_id=1, topic=TOPIC_TEST, key="ut_a")

    await stream.aclose()
    await broker.publish([change(1)])

    assert broker.subscriber_count == 0
    assert [c async for c in stream] == []


async def test_closing_the_in_process_broker_ends_every_stream() -> None:
    broker = InProcessBroker()
    before = broker.subscribe(workspace_id=1, topic=TOPIC_TEST, key="ut_a")

    await broker.close()
    after = broker.subscribe(workspace_id=1, topic=TOPIC_TEST, key="ut_a")

    async with asyncio.timeout(WAIT):
        assert [c async for c in before] == []
        assert [c async for c in after] == []
