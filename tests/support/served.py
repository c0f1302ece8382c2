"""Footage's own command line as child processes, for the tests that go through real processes:
``python -m app COMMAND`` run to completion, and ``python -m app serve`` started on a free local
port, ready once ``/healthz`` answers, and stopped (terminated, killed if it lingers).

Every process gets the caller's environment without its Footage settings (``environment``): a
developer's or CI's ``FOOTAGE_DATABASE_URL`` must not point these processes at another
database."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMAND_TIMEOUT = 60
READY_DEADLINE = 20.0
STOP_GRACE = 10
DEMO_KEY_LINE = re.compile(r"^footage: demo API key: (ftg_\S+)$", re.MULTILINE)


def environment(var_dir: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without its Footage settings (nor HOST and PORT), plus
    ``FOOTAGE_VAR_DIR`` and ``extra``."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("FOOTAGE_") and name not in ("HOST", "PORT")
    }
    return {**inherited, "FOOTAGE_VAR_DIR": str(var_dir), **extra}


def footage(var_dir: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m app ARGS`` to completion (killed after COMMAND_TIMEOUT)."""
    return subprocess.run(  # noqa: S603 - our own interpreter and fixed arguments
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env=environment(var_dir, **extra_env),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


def succeeded(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (result.args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def demo_key_of(output: str) -> str:
    match = DEMO_KEY_LINE.search(output)
    assert match is not None, output
    return match.group(1)


def log_tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:] if log.exists() else "(no log)"


def start_server(var_dir: Path, log: Path, **extra_env: str) -> tuple[subprocess.Popen[bytes], str]:
    """``python -m app serve`` on 127.0.0.1 and a free port, its output in ``log``; the process
    and its base URL, not yet waited for (``wait_until_ready``)."""
    port = free_port()
    env = environment(var_dir, HOST="127.0.0.1", PORT=str(port), **extra_env)
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return process, f"http://127.0.0.1:{port}"


def wait_until_ready(
    process: subprocess.Popen[bytes],
    base_url: str,
    log: Path,
    deadline: float = READY_DEADLINE,
) -> None:
    """Until ``/healthz`` answers; a test failure, with the log's end, if the server exits or
    is not ready within ``deadline`` seconds."""
    until = time.monotonic() + deadline
    while time.monotonic() < until:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{log_tail(log)}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.1)
    pytest.fail(f"server not ready within {deadline} s:\n{log_tail(log)}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_GRACE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def serving(var_dir: Path, log: Path, **extra_env: str) -> Iterator[str]:
    """A ready ``python -m app serve`` for the block (its base URL), stopped however the block
    ends."""
    process, base_url = start_server(var_dir, log, **extra_env)
    try:
        wait_until_ready(process, base_url, log)
        yield base_url
    finally:
        stop(process)
