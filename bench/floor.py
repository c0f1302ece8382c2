"""What a scenario's answer costs in the stack's own parts, without Footage's code, measured
beside the whole request through Footage: a reference for what Footage's own code adds.

    python -m bench.floor [SCENARIO] [--results N] [--rounds N]

One request of the scenario (``page_urls_warm`` by default) is made in-process, as
``bench.inprocess`` makes it, and its SQL statements (with their values) and its response are
kept. Then, in this process, the median CPU time (``time.process_time``: every thread) of
each of these, run in turn in each of ``--rounds`` rounds, so that a slow moment of this
shared machine weighs on all of them alike:

- the whole request through Footage, as ``bench.inprocess`` measures it;
- the same statements through ``sqlite3`` alone, in this thread;
- the same statements through the store's SQLAlchemy engine (``make_engine``: aiosqlite, one
  trip per statement), on a connection from its pool, rows only;
- graphql-core's own executor, with the checked-in schema.graphql and its default resolvers,
  answering the same document over the finished response (plain dicts): what executing that
  selection costs when every value is already there;
- orjson encoding the response.

Each part is what that library does for this answer when Footage adds nothing. They are a
reference, not a bound: Footage executes with its own shortcuts (``app.execution``), so its
whole request can cost less than graphql-core's stock executor alone (BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sqlite3
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from graphql import ExecutionResult, build_schema, execute, parse, validate
from sqlalchemy import event
from sqlalchemy.engine import make_url

from app.main import create_app
from app.settings import Settings
from app.store.engine import make_engine
from bench.dataset import ensure_dataset
from bench.scenarios import STORAGES, Scenario, scenarios
from bench.server import server_environment

SCHEMA = Path(__file__).resolve().parent.parent / "schema.graphql"


Part = Callable[[], Awaitable[object]]


async def _cpu_ms(parts: dict[str, Part], rounds: int) -> dict[str, float]:
    """Median CPU milliseconds of each part, run in turn within each round (so a slow moment
    of the machine weighs on every part alike), each after a full collection."""
    times: dict[str, list[float]] = {name: [] for name in parts}
    for run in parts.values():
        await run()  # first-use costs out of the figures
    for _ in range(rounds):
        for name, run in parts.items():
            gc.collect()
            started = time.process_time()
            await run()
            times[name].append(time.process_time() - started)
    return {name: round(statistics.median(spent) * 1000, 2) for name, spent in times.items()}


def _sync(run: Callable[[], object]) -> Part:
    async def part() -> object:
        return run()

    return part


def _graphql_core(scenario: Scenario, data: dict[str, Any]) -> Callable[[], object]:
    schema = build_schema(SCHEMA.read_text())
    document = parse(scenario.body["query"])
    problems = validate(schema, document)
    if problems:
        raise RuntimeError(f"{scenario.name}: {problems}")
    variables = scenario.body.get("variables")

    def run() -> None:
        result = execute(schema, document, root_value=data, variable_values=variables)
        assert isinstance(result, ExecutionResult)  # default resolvers over dicts: synchronous
        if result.errors or result.data != data:
            raise RuntimeError(f"graphql-core answered otherwise: {result.errors}")

    return run


async def floor(name: str, results: int, rounds: int) -> dict[str, object]:
    from bench.inprocess import Harness

    dataset = await ensure_dataset(results, None)
    scenario = {s.name: s for s in scenarios(dataset)}[name]
    settings = Settings.from_env(server_environment(dataset, 8000, **STORAGES[scenario.storage]))
    engine = make_engine(settings.database_url)
    reader = make_engine(settings.database_url)  # the bare reads' own pool
    seen: list[tuple[str, Any]] = []

    def keep(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, tuple(parameters)))

    event.listen(engine.sync_engine, "before_cursor_execute", keep)
    app = create_app(settings, engine=engine, tune_collector=True)
    path = make_url(settings.database_url).database
    assert path is not None
    connection = sqlite3.connect(path)
    try:
        async with app.router.lifespan_context(app):
            bench = Harness(app, [0])
            bench.app.state.services.pacer.budget *= 1000  # one step: no pauses measured
            for _ in range(3):
                await bench.post(scenario)
            seen.clear()
            answer = await bench.post(scenario)
            statements = list(seen)
            event.remove(engine.sync_engine, "before_cursor_execute", keep)
            data = orjson.loads(answer.content)["data"]

            async def sqlalchemy_reads() -> None:
                async with reader.connect() as bare:
                    for statement, parameters in statements:
                        (await bare.exec_driver_sql(statement, parameters)).all()

            figures = await _cpu_ms(
                {
                    "footage_request": lambda: bench.post(scenario),
                    "sqlite3_reads": _sync(
                        lambda: [connection.execute(s, p).fetchall() for s, p in statements]
                    ),
                    "sqlalchemy_reads": sqlalchemy_reads,
                    "graphql_core_execute": _sync(_graphql_core(scenario, data)),
                    "orjson_encode": _sync(lambda: orjson.dumps({"data": data})),
                },
                rounds,
            )
    finally:
        connection.close()
        await engine.dispose()
        await reader.dispose()
    return {"statements": len(statements), "response_bytes": len(answer.content), **figures}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    parser.add_argument("scenario", nargs="?", default="page_urls_warm")
    parser.add_argument("--results", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args(argv)
    figures = asyncio.run(floor(args.scenario, args.results, args.rounds))
    for key, value in figures.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
