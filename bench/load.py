"""Load generators: ``wrk`` when it is on PATH, else a bounded async httpx client. Both keep a
fixed number of connections busy for a fixed time against 127.0.0.1 only, and stop by themselves.

The httpx fallback is Python: at high request rates it saturates a core of this machine itself,
so its figures for cheap requests are a lower bound on the server's.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

MAX_REQUESTS = 2_000_000  # per run, whatever the duration: every loop is bounded in count too
TIMEOUT = 30.0

_LUA = """
local file = assert(io.open([[%(body)s]], "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %%d %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency.max,
    e.status + e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass(frozen=True)
class LoadResult:
    concurrency: int
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    tool: str


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_load(
    url: str,
    body: dict[str, Any],
    api_key: str,
    *,
    concurrency: int,
    seconds: float,
    use_wrk: bool,
) -> LoadResult:
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"bench only loads 127.0.0.1, not {url}")
    if use_wrk:
        return _wrk(url, body, api_key, concurrency, seconds)
    return asyncio.run(_httpx(url, body, api_key, concurrency, seconds))


def _wrk(url: str, body: dict[str, Any], key: str, concurrency: int, seconds: float) -> LoadResult:
    wrk = shutil.which("wrk")
    assert wrk is not None
    with tempfile.TemporaryDirectory(prefix="footage-bench-") as scratch:
        body_file = Path(scratch, "body.json")
        body_file.write_text(json.dumps(body))
        script = Path(scratch, "post.lua")
        script.write_text(_LUA % {"body": body_file, "key": key})
        command = [
            wrk,
            "--threads=1",
            f"--connections={concurrency}",
            f"--duration={max(1, round(seconds))}s",
            f"--timeout={int(TIMEOUT)}s",
            f"--script={script}",
            url,
        ]
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell, local URL only
            command, capture_output=True, text=True, timeout=seconds + TIMEOUT + 30, check=True
        )
    line = next(x for x in done.stdout.splitlines() if x.startswith("BENCH "))
    requests, micros, p50, p99, worst, errors = (int(float(x)) for x in line.split()[1:])
    elapsed = micros / 1e6
    return LoadResult(
        concurrency,
        requests,
        round(elapsed, 2),
        round(requests / elapsed, 1),
        p50 / 1000,
        p99 / 1000,
        worst / 1000,
        errors,
        "wrk",
    )


async def _httpx(
    url: str, body: dict[str, Any], key: str, concurrency: int, seconds: float
) -> LoadResult:
    content = json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    latencies: list[float] = []
    errors = [0]
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=TIMEOUT) as client:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline and len(latencies) + errors[0] < MAX_REQUESTS:
                sent = time.perf_counter()
                try:
                    response = await client.post(url, content=content, headers=headers)
                except httpx.HTTPError:
                    errors[0] += 1
                    await asyncio.sleep(0.01)
                    continue
                latencies.append(time.perf_counter() - sent)
                if response.status_code != 200:
                    errors[0] += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()

    def at(share: float) -> float:
        if not latencies:
            return 0.0
        return round(latencies[min(len(latencies) - 1, int(share * len(latencies)))] * 1000, 2)

    return LoadResult(
        concurrency,
        len(latencies),
        round(elapsed, 2),
        round(len(latencies) / elapsed, 1),
        at(0.5),
        at(0.99),
        at(1.0),
        errors[0],
        "httpx",
    )
