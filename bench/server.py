"""A real server for the load runs: ``python -m app serve`` in a subprocess, one worker, on
127.0.0.1 and a free port, with the benchmark's var dir. Stopped by its own pid."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.dataset import Dataset

START_TIMEOUT = 60.0
STOP_TIMEOUT = 90.0  # a profiled server writes its profile on the way out


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_environment(dataset: Dataset, port: int, **extra: str) -> dict[str, str]:
    """The process environment less the caller's FOOTAGE_* settings and Google credentials,
    plus the bench's. The per-key rate limit is off: one key sends every request of a run."""
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FOOTAGE_") and k != "GOOGLE_APPLICATION_CREDENTIALS"
    }
    environ.update(
        {
            "FOOTAGE_ENV": "production",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "FOOTAGE_VAR_DIR": dataset.var_dir,
            "FOOTAGE_DATABASE_URL": dataset.database_url,
            "FOOTAGE_WORKERS": "1",
            "FOOTAGE_RATE_LIMIT_PER_MINUTE": "0",
            **extra,
        }
    )
    return environ


@dataclass(frozen=True)
class Server:
    base: str
    pid: int

    def cpu_seconds(self) -> float | None:
        """User plus system CPU time the server has used (Linux; None elsewhere). Unlike wall
        time, it does not grow when other processes compete for the cores."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def serve(
    dataset: Dataset, log: Path, *, program: Sequence[str] = ("-m", "app"), **extra: str
) -> Iterator[Server]:
    """Yields the server once ``/healthz`` answers. ``program`` runs the app's command line
    (``bench.profile`` swaps in ``bench.profiled_server``)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603 - our interpreter, argv built here
            [sys.executable, *program, "serve", "--workers", "1"],
            env=server_environment(dataset, port, **extra),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_ready(process, base, log)
            yield Server(base, process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def _wait_ready(process: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited ({process.returncode}); see {log}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer within {START_TIMEOUT:.0f} s; see {log}")
