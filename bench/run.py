"""``make bench``: build (or reuse) the dataset, count statements, signatures and loop stalls
in-process, then load a real uvicorn server over HTTP and record the figures.

    python -m bench.run [--results N] [--database-url URL] [--duration S] [--warmup S]
                        [--only NAME ...] [--set FOOTAGE_NAME=VALUE ...] [--no-wrk]
                        [--no-markdown]

Writes ``bench/results/<timestamp>.json`` and the figures section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from app.settings import Settings
from bench import instructions
from bench.dataset import Dataset, ensure_dataset
from bench.inprocess import (
    Counts,
    SpreadSigning,
    check,
    measure,
    signature_cost_ms,
    spread_signing_ms,
)
from bench.load import run_load, wrk_available
from bench.report import rewrite_markdown, targets
from bench.scenarios import STORAGES, Scenario, deep_position, scenarios
from bench.server import Server, serve, server_environment

RESULTS_DIR = Path("bench/results")


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def _wait_for_fresh_window(window: int, needed: float) -> float:
    """Warm URL runs must not straddle a signing-window boundary (every cached URL would be
    signed again): wait for the next window when this one ends too soon. Returns the wait."""
    left = window - time.time() % window
    if needed >= window or left >= needed:
        return 0.0
    log(f"waiting {left:.0f} s for the next signing window")
    time.sleep(left + 0.5)
    return round(left + 0.5, 1)


def _measure_http(
    server: Server, scenario: Scenario, args: argparse.Namespace, window: int
) -> dict[str, Any]:
    url = f"{server.base}/graphql"
    headers = {"Authorization": f"Bearer {scenario.api_key}"}

    def one_request() -> httpx.Response:
        """Checks the answer; also primes the URL cache, and waits out a previous run's
        requests still in the server (the load tools close connections without waiting)."""
        response = httpx.post(url, json=scenario.body, headers=headers, timeout=60)
        check(scenario, response.status_code, response.content)
        return response

    try:
        response = one_request()
    except (RuntimeError, httpx.HTTPError) as error:
        log(f"{scenario.name}: not loaded: {error}")
        return {"error": f"{type(error).__name__}: {error}"[:300]}
    waited = 0.0
    if scenario.urls and not scenario.cold:
        needed = args.warmup + len(scenario.concurrency) * args.duration + 5
        waited = _wait_for_fresh_window(window, needed)
        one_request()
    load = functools.partial(run_load, url, scenario.body, scenario.api_key, use_wrk=args.wrk)
    if args.warmup:
        load(concurrency=16, seconds=args.warmup)
    loads: dict[str, dict[str, Any]] = {}
    for concurrency in scenario.concurrency:
        one_request()
        time.sleep(0.5)
        cpu = server.cpu_seconds()
        result = load(concurrency=concurrency, seconds=args.duration)
        after = server.cpu_seconds()
        per_request = None
        if cpu is not None and after is not None and result.requests:
            per_request = round((after - cpu) / result.requests * 1000, 2)
        loads[str(concurrency)] = {**dataclasses.asdict(result), "server_cpu_ms": per_request}
        log(
            f"{scenario.name} c={concurrency}: {result.rps:,.1f} req/s, p50 {result.p50_ms:.1f} "
            f"ms, p99 {result.p99_ms:.1f} ms, max {result.max_ms:.1f} ms, errors {result.errors}, "
            f"server CPU {per_request} ms/request"
        )
    return {
        "http_response_bytes": len(response.content),
        "window_wait_s": waited,
        "load": loads,
    }


def _spread_signing(
    scenario: Scenario,
    counts: dict[str, Counts | str],
    settings_for: Callable[[str], Settings],
) -> float | None:
    """For a cold URL scenario: the wall milliseconds its signatures take spread over every
    core (bench.inprocess.spread_signing_ms), measured just before and just after its HTTP
    runs, so the cold page is judged against the machine's speed at that moment: the
    one-thread cost measured at the start moved by 40% between runs on this shared machine."""
    found = counts.get(scenario.name)
    if not (scenario.cold and scenario.urls and isinstance(found, Counts) and found.signatures):
        return None
    cost = spread_signing_ms(settings_for(scenario.storage), found.signatures, os.cpu_count() or 1)
    log(f"{scenario.name}: {found.signatures} signatures spread over the cores: {cost} ms")
    return cost


# Pairs of (the signatures spread over every core, one cold request) a cold URL scenario is
# judged on (``_paired_cold``).
PAIRED_ROUNDS = 15


def _paired_cold(
    server: Server,
    scenario: Scenario,
    counts: dict[str, Counts | str],
    settings_for: Callable[[str], Settings],
) -> list[list[float]] | None:
    """For a cold URL scenario: PAIRED_ROUNDS pairs of its signatures' cost spread over every
    core (``SpreadSigning``, one round) and one cold request at c=1, one right after the other,
    so that each request is judged against the machine's speed of that moment: on this machine
    the spread cost measured just before and just after a 10 s run differed by a third."""
    found = counts.get(scenario.name)
    if not (scenario.cold and scenario.urls and isinstance(found, Counts) and found.signatures):
        return None
    url = f"{server.base}/graphql"
    headers = {"Authorization": f"Bearer {scenario.api_key}"}
    pairs: list[list[float]] = []
    settings = settings_for(scenario.storage)
    with (
        SpreadSigning(settings, found.signatures, os.cpu_count() or 1) as spread,
        httpx.Client(timeout=60) as client,
    ):
        check(scenario, *_timed_post(client, url, scenario, headers)[:2])  # connected, warm
        for _ in range(PAIRED_ROUNDS):
            cost = spread.round_ms()
            status, content, elapsed = _timed_post(client, url, scenario, headers)
            check(scenario, status, content)
            pairs.append([round(cost, 2), round(elapsed, 2)])
    costs = sorted(cost for cost, _ in pairs)
    colds = sorted(cold for _, cold in pairs)
    log(
        f"{scenario.name}: {len(pairs)} pairs, signatures spread median "
        f"{costs[len(costs) // 2]:.1f} ms, cold request median {colds[len(colds) // 2]:.1f} ms"
    )
    return pairs


def _timed_post(
    client: httpx.Client, url: str, scenario: Scenario, headers: dict[str, str]
) -> tuple[int, bytes, float]:
    started = time.perf_counter()
    response = client.post(url, json=scenario.body, headers=headers)
    return response.status_code, response.content, (time.perf_counter() - started) * 1000


def _count_instructions(
    chosen: list[Scenario], measured: dict[str, dict[str, Any]], args: argparse.Namespace
) -> None:
    """Instructions per request (bench.instructions) of the scenarios that have a CPU figure
    worth following, on SQLite, when valgrind is installed."""
    if args.database_url is not None:
        log("instruction counts: SQLite only, skipped")
        return
    if not instructions.available():
        log("instruction counts: valgrind not installed (apt-get install valgrind), skipped")
        return
    for scenario in chosen:
        if scenario.name not in instructions.COUNTED or "counts" not in measured[scenario.name]:
            continue
        try:
            report = instructions.count(scenario.name, 3, args.results, instructions.SLOWDOWN)
        except RuntimeError as error:
            log(f"{scenario.name}: instruction count failed: {error}")
            continue
        measured[scenario.name]["instructions"] = report
        log(f"{scenario.name}: {report['instructions_per_request']:,} instructions per request")


def _command(argv: list[str]) -> str:
    if os.environ.get("MAKELEVEL"):
        extra = os.environ.get("BENCH_ARGS", "").strip()
        return "make bench" + (f" BENCH_ARGS={shlex.quote(extra)}" if extra else "")
    return shlex.join(["python", "-m", "bench.run", *argv])


def _tool(use_wrk: bool) -> str:
    if not use_wrk:
        return "httpx (Python, async)"
    wrk = shutil.which("wrk") or "wrk"
    version = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [wrk, "-v"], capture_output=True, text=True, timeout=10, check=False
    ).stdout.split(" [")[0]
    return version or "wrk"


def _revision() -> str:
    """The commit measured, and whether the app's code differs from it."""
    git = shutil.which("git")
    if git is None:
        return "unknown"

    def run(*command: str) -> str:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [git, *command], capture_output=True, text=True, timeout=30, check=False
        )
        return done.stdout.strip()

    dirty = run("status", "--porcelain", "--", "app", "loaders", "resolvers", "pyproject.toml")
    return run("rev-parse", "--short", "HEAD") + (" with uncommitted app changes" if dirty else "")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--results", type=int, default=10_000, help="results in the dataset")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: SQLite)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per scenario")
    parser.add_argument("--only", nargs="+", default=None, help="scenario names to run")
    parser.add_argument("--no-wrk", dest="wrk", action="store_false", help="use the httpx client")
    parser.add_argument("--no-markdown", dest="markdown", action="store_false")
    parser.add_argument(
        "--no-instructions",
        dest="instructions",
        action="store_false",
        help="skip the instruction counts (callgrind; about 40 s a scenario)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FOOTAGE_NAME=VALUE",
        help="a server setting other than the defaults (recorded with the figures)",
    )
    args = parser.parse_args(argv)
    pairs = [item.partition("=") for item in args.set]
    if any(not name.startswith("FOOTAGE_") or not sep for name, sep, _ in pairs):
        parser.error("--set takes FOOTAGE_NAME=VALUE")
    args.set = {name: value for name, _, value in pairs}
    args.wrk = args.wrk and wrk_available()
    if not 1 <= args.duration <= 120 or not 0 <= args.warmup <= 60:
        parser.error("--duration must be 1 to 120 s and --warmup 0 to 60 s")
    return args


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    started = datetime.now(UTC)
    load_before = os.getloadavg()[0]
    clock = time.monotonic()
    dataset: Dataset = asyncio.run(ensure_dataset(args.results, args.database_url))
    log(f"dataset ready in {time.monotonic() - clock:.1f} s: {dataset.var_dir}")
    chosen = [s for s in scenarios(dataset) if args.only is None or s.name in args.only]

    def settings_for(storage: str) -> Settings:
        environ = server_environment(dataset, 8000, **{**STORAGES[storage], **args.set})
        return Settings.from_env(environ)

    settings = settings_for("local")
    costs = {
        storage: signature_cost_ms(settings_for(storage))
        for storage in dict.fromkeys(s.storage for s in chosen if s.urls)
    }
    log(f"signing cost, ms of CPU per URL: {costs}")
    counts = asyncio.run(measure(settings_for, chosen))
    measured: dict[str, dict[str, Any]] = {}
    for scenario in chosen:
        found = counts[scenario.name]
        log(f"{scenario.name}: {found}")
        measured[scenario.name] = {"title": scenario.title}
        if isinstance(found, str):
            measured[scenario.name]["error"] = found
        else:
            measured[scenario.name]["counts"] = dataclasses.asdict(found)
    if args.instructions:
        _count_instructions(chosen, measured, args)
    var_dir = Path(dataset.var_dir)
    for server_settings in dict.fromkeys(s.server for s in chosen if s.http):
        group = [s for s in chosen if s.http and s.server == server_settings]
        storage, cold, read_cache, page_cache = server_settings
        extra = {**group[0].environment, **args.set}
        name = (
            f"{storage}-{'cold' if cold else 'warm'}{'' if read_cache else '-uncached'}"
            f"{'' if page_cache else '-rebuilt'}"
        )
        log_file = var_dir / f"server-{name}.log"
        with serve(dataset, log_file, **extra) as server:
            for scenario in group:
                before = _spread_signing(scenario, counts, settings_for)
                measured[scenario.name].update(
                    _measure_http(server, scenario, args, settings.signing_window)
                )
                if before is not None:
                    after = _spread_signing(scenario, counts, settings_for)
                    measured[scenario.name]["spread_signing_ms"] = [before, after]
                    paired = _paired_cold(server, scenario, counts, settings_for)
                    if paired:
                        measured[scenario.name]["paired_cold_ms"] = paired

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    results_file = RESULTS_DIR / f"{started:%Y%m%dT%H%M%SZ}.json"
    run: dict[str, Any] = {
        "date": f"{started:%Y-%m-%d %H:%M} UTC",
        "command": _command(argv),
        "cores": os.cpu_count(),
        "platform": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(),
        "database": "PostgreSQL" if args.database_url else "SQLite",
        "results": dataset.results,
        "deep_position": deep_position(dataset),
        "code": _revision(),
        "settings": args.set,
        "signature_cost_ms": costs,
        "tool": _tool(args.wrk),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "duration": args.duration,
        "warmup": args.warmup,
        "results_file": str(results_file),
        "scenarios": measured,
    }
    run["targets"] = targets(run)
    results_file.write_text(json.dumps(run, indent=1) + "\n")
    if args.markdown:
        rewrite_markdown(run)
    for row in run["targets"]:
        verdict = {True: "met", False: "MISSED", None: "not measured"}[row["met"]]
        log(f"{verdict:>7}: {row['target']}: {row['measured']}")
    log(f"wrote {results_file}" + (" and BENCHMARKS.md" if args.markdown else ""))


if __name__ == "__main__":
    main()
