"""Where a scenario's time goes, by pyinstrument.

    python -m bench.profile SCENARIO [--requests N] [--concurrency C] [--results N]
    python -m bench.profile SCENARIO --server [--seconds S] [--concurrency C]

In-process (the default): requests handed to the ASGI app ``bench.run`` counts with, profiled
in async mode. ``--server``: the
real ``python -m app serve`` run under pyinstrument while the load generator drives it for
``--seconds``; the only Python in the profile is the server's. Both print the call tree, self
time by function and self time by package.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import httpx
from pyinstrument import Profiler
from pyinstrument.frame import SELF_TIME_FRAME_IDENTIFIER as SELF_TIME_IDENTIFIER
from pyinstrument.frame import Frame
from pyinstrument.renderers import ConsoleRenderer
from pyinstrument.session import Session

from app.settings import Settings
from bench.dataset import Dataset, ensure_dataset
from bench.inprocess import check, harness
from bench.load import run_load, wrk_available
from bench.scenarios import STORAGES, Scenario, scenarios
from bench.server import serve, server_environment

FLAT_LINES = 45


async def in_process(dataset: Dataset, scenario: Scenario, requests: int, concurrency: int) -> str:
    settings = scenario.configure(
        Settings.from_env(server_environment(dataset, 8000, **STORAGES[scenario.storage]))
    )
    async with harness(settings) as bench:
        await bench.post(scenario)  # warm: caches, connection, API key
        rounds = max(1, requests // concurrency)
        profiler = Profiler(async_mode="enabled")
        with profiler:
            for _ in range(rounds):
                await asyncio.gather(*(bench.post(scenario) for _ in range(concurrency)))
    session = profiler.last_session
    assert session is not None
    return render(session, f"{session.duration / (rounds * concurrency) * 1000:.1f} ms per request")


def in_server(
    dataset: Dataset, scenario: Scenario, seconds: float, concurrency: int, extra: dict[str, str]
) -> str:
    var_dir = Path(dataset.var_dir)
    saved = var_dir / f"profile-{scenario.name}.pyisession"
    program = ["-m", "bench.profiled_server", str(saved)]
    extra = {**scenario.environment, **extra}
    with serve(dataset, var_dir / "server-profile.log", program=program, **extra) as server:
        url = f"{server.base}/graphql"
        headers = {"Authorization": f"Bearer {scenario.api_key}"}
        primed = httpx.post(url, json=scenario.body, headers=headers, timeout=60)
        check(scenario, primed.status_code, primed.content)
        result = run_load(
            url,
            scenario.body,
            scenario.api_key,
            concurrency=concurrency,
            seconds=seconds,
            use_wrk=wrk_available(),
        )
    return render(Session.load(str(saved)), f"{result.requests} requests, {result.rps} req/s")


def render(session: Session, note: str) -> str:
    tree = ConsoleRenderer(unicode=True, time="percent_of_total").render(session)
    flat = ConsoleRenderer(unicode=True, time="percent_of_total", flat=True).render(session)
    top = "\n".join(flat.splitlines()[:FLAT_LINES])
    shares = by_package(session.root_frame())
    total = sum(shares.values()) or 1.0
    ranked = sorted(shares.items(), key=lambda item: -item[1])
    packages = "\n".join(f"{share / total:6.1%}  {name}" for name, share in ranked[:30])
    return (
        f"{tree}\nSelf time by function (top {FLAT_LINES} lines):\n{top}\n\n"
        f"Self time by package ({note}; awaits excluded):\n{packages}\n"
    )


def _package(path: str | None) -> str:
    if not path:
        return "(unknown)"
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    here = str(Path.cwd()) + "/"
    if path.startswith(here):
        return path.removeprefix(here).split("/", 1)[0].removesuffix(".py")
    if "/lib/python3" in path:
        return "stdlib " + path.split("/lib/python3", 1)[1].split("/")[1].removesuffix(".py")
    return path


def by_package(root: Frame | None) -> dict[str, float]:
    """Self time per package (``[self]`` samples count for their frame, ``[await]`` does not)."""
    totals: dict[str, float] = {}
    stack = [root] if root is not None else []
    while stack:
        frame = stack.pop()
        children = frame.children
        stack.extend(c for c in children if not c.is_synthetic)
        if frame.is_synthetic:
            continue
        own = frame.time - sum(c.time for c in children if c.identifier != SELF_TIME_IDENTIFIER)
        name = _package(frame.file_path)
        totals[name] = totals.get(name, 0.0) + max(0.0, own)
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("scenario")
    parser.add_argument("--server", action="store_true", help="profile the real server")
    parser.add_argument("--requests", type=int, default=20, help="in-process requests")
    parser.add_argument("--seconds", type=float, default=10.0, help="server load duration")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--results", type=int, default=10_000)
    parser.add_argument("--set", action="append", default=[], metavar="FOOTAGE_NAME=VALUE")
    args = parser.parse_args()
    extra = dict(item.partition("=")[::2] for item in args.set)
    dataset = asyncio.run(ensure_dataset(args.results, None))
    scenario = next(s for s in scenarios(dataset) if s.name == args.scenario)
    if args.server:
        print(in_server(dataset, scenario, min(args.seconds, 120), args.concurrency, extra))
    else:
        print(asyncio.run(in_process(dataset, scenario, args.requests, args.concurrency)))


if __name__ == "__main__":
    main()
