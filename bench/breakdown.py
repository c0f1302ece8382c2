"""Where the warm page's instructions go, by selection: the page built up one selection at a
time (``bench.scenarios.BREAKDOWN``), each step counted by callgrind as ``bench.instructions``
counts a scenario.

    python -m bench.breakdown [--requests N] [--results N]

A step's count less the step before's is what its selection costs in all: the loads it
makes, the objects built, their execution and their JSON. A profiler splits the same work by
function, across a few dozen functions none of which is more than a few per cent of the page;
this splits it by what a client asks for. Each step is first sent once without valgrind (an
answer with errors stops the run). Prints a Markdown table (about 40 s a step).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses

from app.settings import Settings
from bench.dataset import ensure_dataset
from bench.inprocess import harness
from bench.instructions import SLOWDOWN, available, count
from bench.scenarios import STORAGES, Scenario, breakdown_scenarios
from bench.server import server_environment


@dataclasses.dataclass(frozen=True)
class Step:
    label: str
    instructions: int
    response_bytes: int


async def _checked(results: int) -> list[tuple[Scenario, int]]:
    """Each step's scenario and response size, every answer checked."""
    dataset = await ensure_dataset(results, None)
    steps = breakdown_scenarios(dataset)
    settings = Settings.from_env(server_environment(dataset, 8000, **STORAGES["local"]))
    sizes = []
    async with harness(settings) as bench:
        for scenario in steps:
            answer = await bench.post(scenario)  # checked: no errors
            sizes.append((scenario, len(answer.content)))
    return sizes


def table(steps: list[Step]) -> str:
    """The steps as a Markdown table: each one's count, what it adds, and its share of the
    last step's (the whole page)."""
    whole = steps[-1].instructions
    lines = [
        "| step (adds to the one above) | instructions / request (millions) | added (millions) "
        "| share of the page | response bytes |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    before = 0
    for step in steps:
        added = step.instructions - before
        lines.append(
            f"| {step.label} | {step.instructions / 1e6:.2f} | {added / 1e6:+.2f} "
            f"| {added / whole:.1%} | {step.response_bytes:,} |"
        )
        before = step.instructions
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.breakdown", description=__doc__)
    parser.add_argument("--requests", type=int, default=3)
    parser.add_argument("--results", type=int, default=10_000)
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= 50:
        parser.error("--requests must be 1 to 50")
    if not available():
        parser.error("needs valgrind (apt-get install valgrind)")
    checked = asyncio.run(_checked(args.results))
    steps = []
    for scenario, size in checked:
        report = count(scenario.name, args.requests, args.results, SLOWDOWN)
        instructions = report["instructions_per_request"]
        assert isinstance(instructions, int)
        print(f"{scenario.name}: {instructions:,} ({scenario.title})", flush=True)
        steps.append(Step(scenario.title, instructions, size))
    print()
    print(table(steps))


if __name__ == "__main__":
    main()
