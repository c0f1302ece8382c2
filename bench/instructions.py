"""Instructions per request, counted by valgrind's callgrind: a CPU figure that does not move
with the machine.

    python -m bench.instructions [SCENARIO ...] [--requests N] [--results N] [--slowdown X]

On this shared machine the same request's CPU time moves by 15-25% within the hour, more than
most changes worth measuring; the number of instructions a request executes stays within about
1% from run to run. Each scenario runs in a child process under ``valgrind --tool=callgrind``,
the app built as ``bench.inprocess`` builds it (the storage backend's signer and workers, the
collector tuned), with counting switched on (``callgrind_control``) only around ``--requests``
requests made after three untimed ones: the event loop's thread and the database thread are
counted; signing processes (an RSA key) are not. ``PYTHONHASHSEED`` is fixed, so hashing does
not move the count.

Under valgrind everything runs about 40 times slower, and the pacer (``app.pacing``) decides by
the clock: with its real budget it would cut a page into ten times as many steps as in the
server. The child multiplies the budget by ``--slowdown`` (40 by default) and reports the
pacer's releases per request beside the count, to compare with an unslowed run (``--no-valgrind``
prints that, without counting). Compare counts of two revisions, not with other machines.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from app.settings import Settings
from bench.dataset import ensure_dataset
from bench.inprocess import harness
from bench.scenarios import STORAGES, breakdown_scenarios, scenarios

DEFAULT_SCENARIOS = ("page_urls_warm", "page_no_urls", "typename")
# What ``make bench`` counts: the scenarios whose CPU matters and does not hang on signing
# processes (which callgrind does not follow).
COUNTED = (
    "typename",
    "specific_result",
    "page_urls_warm",
    "page_urls_uncached",
    "page_urls_rebuilt",
    "page_no_urls",
    "page_deep_no_urls",
    "page1_urls",
)
SLOWDOWN = 40.0
WINDOW_MARGIN = 120.0  # seconds: more than the counted requests take under valgrind
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def _control(flag: str) -> None:
    """Counting on or off in this process, when it runs under callgrind."""
    subprocess.run(  # noqa: S603 - fixed argv
        ["callgrind_control", "-i", flag, str(os.getpid())],  # noqa: S607 - valgrind's tool
        check=True,
        capture_output=True,
    )


async def _child(name: str, requests: int, results: int, slowdown: float, counted: bool) -> None:
    dataset = await ensure_dataset(results, None)
    scenario = {s.name: s for s in (*scenarios(dataset), *breakdown_scenarios(dataset))}[name]
    from bench.server import server_environment

    settings = Settings.from_env(server_environment(dataset, 8000, **STORAGES[scenario.storage]))
    settings = scenario.configure(settings)
    async with harness(settings) as bench:
        pacer = bench.app.state.services.pacer
        pacer.budget *= slowdown
        for _ in range(3):  # caches, connection, API key, first-use costs
            await bench.post(scenario)
        # The counted requests must not straddle a signing-window boundary (every cached URL
        # would be signed again): under valgrind a page takes seconds.
        window = bench.app.state.services.minter.window
        left = window - time.time() % window
        if left < WINDOW_MARGIN:
            await asyncio.sleep(left + 0.5)  # sleeping executes nothing
            await bench.post(scenario)
        gc.collect()
        released = pacer.released
        signed = bench.signatures
        if counted:
            _control("on")
        for _ in range(requests):
            await bench.post(scenario)
        if counted:
            _control("off")
        steps = (pacer.released - released) / requests
        signed = bench.signatures - signed
    print(json.dumps({"scenario": name, "paced_steps_per_request": steps, "signed": signed}))


def available() -> bool:
    return shutil.which("valgrind") is not None and shutil.which("callgrind_control") is not None


def count(name: str, requests: int, results: int, slowdown: float) -> dict[str, object]:
    """Run one scenario under callgrind; its instructions per request and pacer steps."""
    with tempfile.TemporaryDirectory(prefix="footage-callgrind-") as scratch:
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={Path(scratch) / 'callgrind.out'}",
            sys.executable,
            "-m",
            "bench.instructions",
            "--child",
            name,
            f"--requests={requests}",
            f"--results={results}",
            f"--slowdown={slowdown}",
        ]
        environment = {**os.environ, "PYTHONHASHSEED": "0"}
        done = subprocess.run(  # noqa: S603 - fixed argv
            command, capture_output=True, text=True, env=environment, check=False
        )
    found = _COLLECTED.search(done.stderr)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or found is None or not lines:
        raise RuntimeError(f"{name}: callgrind run failed:\n{done.stderr[-2000:]}")
    report: dict[str, object] = json.loads(lines[-1])
    report["instructions_per_request"] = int(found.group(1)) // requests
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("scenarios", nargs="*", default=list(DEFAULT_SCENARIOS))
    parser.add_argument("--requests", type=int, default=3)
    parser.add_argument("--results", type=int, default=10_000)
    parser.add_argument("--slowdown", type=float, default=SLOWDOWN)
    parser.add_argument("--no-valgrind", action="store_true", help="pacer steps only")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= 50:
        parser.error("--requests must be 1 to 50")
    if args.child or args.no_valgrind:
        for name in args.scenarios:
            slowdown = args.slowdown if args.child else 1.0
            asyncio.run(_child(name, args.requests, args.results, slowdown, args.child))
        return
    if not available():
        parser.error("needs valgrind (apt-get install valgrind)")
    asyncio.run(ensure_dataset(args.results, None))  # built outside valgrind
    for name in args.scenarios:
        report = count(name, args.requests, args.results, args.slowdown)
        signed = f", {report['signed']} URLs signed while counting" if report["signed"] else ""
        print(
            f"{name}: {report['instructions_per_request']:,} instructions per request, "
            f"{report['paced_steps_per_request']:.1f} paced steps per request{signed}",
            flush=True,
        )


if __name__ == "__main__":
    main()
