"""A throwaway PostgreSQL cluster for the test suite.

Usage::

    bindir = find_pg_bindir()
    if bindir is not None:
        with PostgresCluster(bindir) as cluster:
            engine = create_async_engine(cluster.url)

The cluster lives in a fresh directory under /tmp, listens on 127.0.0.1 on a
free port, trusts every local connection and runs with durability switched
off: its data is meant to be thrown away.

initdb and postgres refuse to run as root. When this process is root (as in
CI), the server binaries are run as the ``postgres`` system user if it exists,
otherwise as a dedicated system user created on first use.

Only the standard library is used, so this module can be imported before any
of the project's dependencies are known to work.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

__all__ = [
    "BINDIR_ENV_VAR",
    "DEFAULT_DATABASE",
    "PostgresCluster",
    "PostgresClusterError",
    "find_pg_bindir",
]

BINDIR_ENV_VAR = "FOOTAGE_PG_BINDIR"
DEFAULT_DATABASE = "footage_test"
DEFAULT_SUPERUSER = "postgres"
REQUIRED_BINARIES = ("initdb", "pg_ctl", "postgres")

# OS user that runs the server when we are root and no `postgres` user exists.
FALLBACK_OS_USER = "footage-pg"

_HOST = "127.0.0.1"
_LOG_TAIL_CHARS = 4000
_PORT_ATTEMPTS = 3


class PostgresClusterError(RuntimeError):
    """The cluster could not be found, created, started or stopped."""


# --------------------------------------------------------------------------
# Locating the binaries
# --------------------------------------------------------------------------


def _has_binaries(directory: Path) -> bool:
    return all(os.access(directory / name, os.X_OK) for name in REQUIRED_BINARIES)


def _version_key(path: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/<version>/bin: "15" must sort above "9.6".
    return tuple(int(part) for part in path.parent.name.split("."))


def _debian_bindirs() -> list[Path]:
    candidates = [
        p
        for p in Path("/usr/lib/postgresql").glob("*/bin")
        if re.fullmatch(r"\d+(\.\d+)*", p.parent.name)
    ]
    return sorted(candidates, key=_version_key, reverse=True)


def _pg_config_bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    try:
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [pg_config, "--bindir"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    out = result.stdout.strip()
    return Path(out) if out else None


def find_pg_bindir() -> Path | None:
    """Return a directory holding ``initdb``, ``pg_ctl`` and ``postgres``.

    Looks, in order, at ``$FOOTAGE_PG_BINDIR``, ``pg_config --bindir``, the
    newest ``/usr/lib/postgresql/*/bin`` and then ``$PATH``. Returns None when
    none has all three. A ``$FOOTAGE_PG_BINDIR`` that is set but lacks them
    raises PostgresClusterError: an explicit setting should not be silently
    ignored.
    """
    explicit = os.environ.get(BINDIR_ENV_VAR, "").strip()
    if explicit:
        path = Path(explicit).expanduser()
        if _has_binaries(path):
            return path
        raise PostgresClusterError(
            f"${BINDIR_ENV_VAR}={explicit!r} does not contain executable "
            + ", ".join(REQUIRED_BINARIES)
        )

    candidates: list[Path] = []
    from_pg_config = _pg_config_bindir()
    if from_pg_config is not None:
        candidates.append(from_pg_config)
    candidates.extend(_debian_bindirs())
    initdb = shutil.which("initdb")
    if initdb is not None:
        # The symlink target's directory first: it also has pg_isready.
        candidates.append(Path(initdb).resolve().parent)
        candidates.append(Path(initdb).parent)

    for candidate in candidates:
        if _has_binaries(candidate):
            return candidate
    return None


# --------------------------------------------------------------------------
# Running commands as an unprivileged user
# --------------------------------------------------------------------------


def _server_os_user() -> pwd.struct_passwd | None:
    """The user to run server binaries as, or None to run them as ourselves."""
    if os.geteuid() != 0:
        return None
    for name in (DEFAULT_SUPERUSER, FALLBACK_OS_USER):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [
            useradd,
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            FALLBACK_OS_USER,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    try:
        # Check rather than trust the exit code: a concurrent test worker may
        # have created the same user first.
        return pwd.getpwnam(FALLBACK_OS_USER)
    except KeyError:
        raise PostgresClusterError(
            "running as root, no 'postgres' user exists and creating "
            f"{FALLBACK_OS_USER!r} failed (exit {result.returncode}):\n"
            f"{result.stderr.strip()}"
        ) from None


def _privilege_drop_prefix(user: pwd.struct_passwd | None) -> list[str]:
    if user is None:
        return []
    # setpriv execs in place (no PAM, no extra parent), so a timeout's kill
    # reaches the real process; runuser is the fallback.
    setpriv = shutil.which("setpriv")
    if setpriv is not None:
        return [
            setpriv,
            f"--reuid={user.pw_uid}",
            f"--regid={user.pw_gid}",
            "--init-groups",
            "--",
        ]
    runuser = shutil.which("runuser")
    if runuser is not None:
        return [runuser, "-u", user.pw_name, "--"]
    raise PostgresClusterError(
        "running as root but neither setpriv nor runuser is available to "
        "run PostgreSQL as an unprivileged user"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(text: str, limit: int = _LOG_TAIL_CHARS) -> str:
    return text if len(text) <= limit else "...\n" + text[-limit:]


def _pid_alive(pid: int) -> bool:
    """Whether pid is a live (not zombie) process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        # "pid (comm) S ...": a zombie has exited and only awaits reaping.
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


# --------------------------------------------------------------------------
# The cluster
# --------------------------------------------------------------------------


class PostgresCluster:
    """A private PostgreSQL server in a temporary directory.

    Use as a context manager; ``start()`` and ``stop()`` are also public for
    callers that cannot nest a ``with`` block. ``stop()`` is idempotent and
    also runs at interpreter exit as a safety net.
    """

    def __init__(
        self,
        bindir: Path | str,
        *,
        database: str = DEFAULT_DATABASE,
        superuser: str = DEFAULT_SUPERUSER,
        timeout: float = 60.0,
    ) -> None:
        self.bindir = Path(bindir)
        self.database = database
        self.user = superuser
        self.host = _HOST
        self.timeout = timeout
        self._port: int | None = None
        self._basedir: Path | None = None
        self._os_user: pwd.struct_passwd | None = None

    # -- public properties -------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise PostgresClusterError("the cluster is not running")
        return self._port

    @property
    def dsn(self) -> str:
        """libpq/asyncpg URL: ``postgresql://user@127.0.0.1:port/db``."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"

    @property
    def url(self) -> str:
        """SQLAlchemy URL for the asyncpg driver."""
        return f"postgresql+asyncpg://{self.user}@{self.host}:{self.port}/{self.database}"

    @property
    def basedir(self) -> Path:
        if self._basedir is None:
            raise PostgresClusterError("the cluster has not been created")
        return self._basedir

    @property
    def datadir(self) -> Path:
        return self.basedir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.basedir / "sock"

    @property
    def logfile(self) -> Path:
        return self.basedir / "postgres.log"

    # -- context manager ---------------------------------------------------

    def __enter__(self) -> PostgresCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        """Create, configure and start the cluster, then create the database."""
        if self._basedir is not None:
            raise PostgresClusterError("the cluster has already been started")
        missing = [n for n in REQUIRED_BINARIES if not (self.bindir / n).exists()]
        if missing:
            raise PostgresClusterError(
                f"{self.bindir} lacks PostgreSQL binaries: {', '.join(missing)}"
            )
        self._os_user = _server_os_user()
        # /tmp: always traversable by the server user, and short enough for
        # the unix socket path limit (~107 bytes).
        self._basedir = Path(tempfile.mkdtemp(prefix="footage-pg-", dir="/tmp"))
        atexit.register(self.stop)
        try:
            self._prepare_dirs()
            self._initdb()
            self._configure()
            self._create_database()
            self._start_server()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server (if running) and delete its files. Idempotent."""
        basedir = self._basedir
        if basedir is None:
            return
        try:
            self._stop_server()
        finally:
            self._basedir = None
            self._port = None
            atexit.unregister(self.stop)
            shutil.rmtree(basedir, ignore_errors=True)

    # -- internals ---------------------------------------------------------

    def _prepare_dirs(self) -> None:
        self.socket_dir.mkdir()
        user = self._os_user
        if user is not None:
            for path in (self.basedir, self.socket_dir):
                os.chown(path, user.pw_uid, user.pw_gid)
        os.chmod(self.basedir, 0o700)
        os.chmod(self.socket_dir, 0o700)

    def _env(self) -> dict[str, str]:
        # Stray PG* variables (PGDATA, PGPORT, PGHOST, ...) must not leak
        # into our private server.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        if self._os_user is not None:
            env["HOME"] = str(self.basedir)
            env["USER"] = env["LOGNAME"] = self._os_user.pw_name
        return env

    def _run(
        self,
        args: Sequence[str],
        *,
        what: str,
        stdin: str | None = None,
        timeout: float | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        cmd = [*_privilege_drop_prefix(self._os_user), *args]
        try:
            result = subprocess.run(  # noqa: S603 - argv built here, no shell
                cmd,
                input=stdin,
                stdin=None if stdin is not None else subprocess.DEVNULL,
                capture_output=True,
                text=True,
                env=self._env(),
                cwd=self.basedir,  # the server user may not be able to read ours
                timeout=timeout if timeout is not None else self.timeout,
            )
        except subprocess.TimeoutExpired as e:
            raise PostgresClusterError(
                f"{what} timed out after {e.timeout:g}s: {' '.join(cmd)}" + self._log_excerpt()
            ) from e
        if check and result.returncode != 0:
            raise self._failure(what, result)
        return result

    def _failure(self, what: str, result: subprocess.CompletedProcess[str]) -> PostgresClusterError:
        output = "\n".join(s for s in (result.stdout.strip(), result.stderr.strip()) if s)
        return PostgresClusterError(
            f"{what} failed (exit {result.returncode})"
            + (f":\n{_tail(output)}" if output else "")
            + self._log_excerpt()
        )

    def _read_log(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")
        except OSError:
            return ""

    def _log_excerpt(self) -> str:
        log = self._read_log().strip()
        return f"\n--- server log {self.logfile} ---\n{_tail(log)}" if log else ""

    def _bin(self, name: str) -> str:
        return str(self.bindir / name)

    def _initdb(self) -> None:
        self._run(
            [
                self._bin("initdb"),
                f"--pgdata={self.datadir}",
                f"--username={self.user}",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            what="initdb",
            timeout=max(self.timeout, 120.0),
        )

    def _configure(self) -> None:
        settings = {
            "listen_addresses": f"'{_HOST}'",
            "unix_socket_directories": f"'{self.socket_dir}'",
            # Throwaway data: trade durability for speed.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "logging_collector": "off",
        }
        lines = "".join(f"{k} = {v}\n" for k, v in settings.items())
        # Appending keeps the file's owner (the server user) unchanged.
        with open(self.datadir / "postgresql.conf", "a", encoding="utf-8") as f:
            f.write("\n# footage test cluster\n" + lines)

    def _create_database(self) -> None:
        # Single-user mode needs no client binaries and no running server.
        result = self._run(
            [self._bin("postgres"), "--single", "-D", str(self.datadir), "postgres"],
            what=f"creating database {self.database!r}",
            stdin=f'CREATE DATABASE "{self.database}";\n',
        )
        output = result.stdout + result.stderr
        if re.search(r"^(ERROR|FATAL|PANIC):", output, re.MULTILINE):
            raise self._failure(f"creating database {self.database!r}", result)

    def _start_server(self) -> None:
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            port = _free_port()
            log_start = len(self._read_log())
            result = self._run(
                [
                    self._bin("pg_ctl"),
                    "start",
                    "-D",
                    str(self.datadir),
                    "-l",
                    str(self.logfile),
                    "-o",
                    f"-p {port}",
                    "-w",
                    "-t",
                    str(int(self.timeout)),
                ],
                what="pg_ctl start",
                timeout=self.timeout + 30,
                check=False,
            )
            if result.returncode == 0:
                self._port = port
                self._wait_ready()
                return
            # A failed start may still have left a postmaster behind.
            self._stop_server()
            new_log = self._read_log()[log_start:]
            port_taken = "could not bind" in new_log or "already in use" in new_log
            if not (port_taken and attempt < _PORT_ATTEMPTS):
                raise self._failure("pg_ctl start", result)

    def _wait_ready(self) -> None:
        pg_isready = self.bindir / "pg_isready"
        if not pg_isready.exists():
            return  # pg_ctl -w already waited for "ready" in postmaster.pid
        deadline = time.monotonic() + self.timeout
        while True:
            result = self._run(
                [
                    str(pg_isready),
                    "-h",
                    self.host,
                    "-p",
                    str(self.port),
                    "-U",
                    self.user,
                    "-d",
                    self.database,
                ],
                what="pg_isready",
                check=False,
            )
            if result.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise self._failure("waiting for the server (pg_isready)", result)
            time.sleep(0.1)

    def _postmaster_pid(self) -> int | None:
        try:
            first = (self.datadir / "postmaster.pid").read_text().split("\n", 1)[0]
            return int(first.strip())
        except (OSError, ValueError):
            return None

    def _stop_server(self) -> None:
        if not (self.datadir / "postmaster.pid").exists():
            return
        pid = self._postmaster_pid()
        for mode in ("fast", "immediate"):
            result = self._run(
                [
                    self._bin("pg_ctl"),
                    "stop",
                    "-D",
                    str(self.datadir),
                    "-m",
                    mode,
                    "-w",
                    "-t",
                    "30",
                ],
                what=f"pg_ctl stop -m {mode}",
                timeout=60,
                check=False,
            )
            if result.returncode == 0 and (pid is None or not _pid_alive(pid)):
                return
        if pid is not None:
            self._kill_postmaster(pid)

    def _kill_postmaster(self, pid: int) -> None:
        # Last resort. Guard against a recycled pid before killing anything.
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return
        if b"postgres" not in cmdline:
            return
        # pg_ctl starts the postmaster in its own session, so its process
        # group also holds every backend.
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
