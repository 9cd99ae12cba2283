"""Private Redis and PostgreSQL for `make dev` and the tests, when none are configured.

REDIS_URL and DATABASE_URL win when set. Otherwise a redis-server and a PostgreSQL cluster are
started on free loopback ports with their data under `.local/`, installing the Debian packages
first when the binaries are missing (this needs root, as on CI), and stopped on exit.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis


class ServiceError(RuntimeError):
    """A local service could not be installed or started."""


@dataclass(frozen=True)
class Services:
    redis_url: str
    database_url: str


def _ephemeral_floor() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def free_port() -> int:
    """A port free now, below the kernel's ephemeral range: a port the kernel handed out
    (bind to 0) can be taken as the source port of any outgoing connection before the
    process it is meant for binds it, which a busy machine (parallel tests) does."""
    floor = _ephemeral_floor()
    for _ in range(100):
        port = random.randrange(20000, max(floor, 20001))
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:  # everything below the range taken: the kernel's choice
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _apt_install(*packages: str) -> None:
    if os.geteuid() != 0:
        raise ServiceError(
            f"{', '.join(packages)} not installed and not running as root: install them, "
            "or set REDIS_URL / DATABASE_URL to running servers"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True, env=env)


def _redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found is None:
        _apt_install("redis-server")
        found = shutil.which("redis-server")
    if found is None:
        raise ServiceError("redis-server not found after installing it")
    return found


def _postgres_bin_dir() -> Path:
    def find() -> Path | None:
        versions = Path("/usr/lib/postgresql").glob("*/bin/initdb")
        newest = sorted(versions, key=lambda p: int(p.parts[4]) if p.parts[4].isdigit() else 0)
        if newest:
            return newest[-1].parent
        initdb = shutil.which("initdb")
        return Path(initdb).parent if initdb else None

    found = find()
    if found is None:
        _apt_install("postgresql")
        found = find()
    if found is None:
        raise ServiceError("initdb not found after installing postgresql")
    return found


def _wait(check: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            check()
            return
        except Exception as exc:  # retried until the deadline
            last = exc
            time.sleep(0.1)
    raise ServiceError(f"{what} did not come up within {timeout:.0f} s: {last}")


@contextlib.contextmanager
def private_redis(root: Path) -> Iterator[str]:
    """A throw-away redis-server (no persistence) on a free port."""
    root = root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    proc = subprocess.Popen(
        [_redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(root), "--logfile", str(root / "redis.log")],
        stdout=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C must not kill it before its users have stopped
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"

    def ping() -> None:
        if proc.poll() is not None:
            raise ServiceError(f"redis-server exited; see {root / 'redis.log'}")
        redis.Redis.from_url(url).ping()

    try:
        _wait(ping, "redis-server")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class PostgresCluster:
    """A private PostgreSQL cluster: initdb once under `root`, then start and stop at will.

    As root, PostgreSQL runs as the `postgres` system user (it refuses to run as root).
    Stopping and starting it again is what the outage tests do.
    """

    def __init__(self, root: Path, *, durable: bool = True) -> None:
        self.durable = durable
        root = root.resolve()
        self.root = root
        self.bin = _postgres_bin_dir()
        self.port = free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", "postgres", "--"]
        root.mkdir(parents=True, exist_ok=True)
        if self._as:
            shutil.chown(root, "postgres")
            traverse = subprocess.run([*self._as, "test", "-x", str(root)], check=False)
            if traverse.returncode != 0:
                # The checkout lies under a directory the postgres user cannot enter (/root).
                root = Path(tempfile.mkdtemp(prefix="strikeboard-pg-"))
                shutil.chown(root, "postgres")
                self.root = root
        self.data = self.root / "data"
        if not (self.data / "PG_VERSION").exists():
            shutil.rmtree(self.data, ignore_errors=True)
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                      "-E", "UTF8", "--no-sync")  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        cmd = [*self._as, str(self.bin / tool), *args]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ServiceError(f"{tool} failed: {result.stderr.strip() or result.stdout.strip()}")

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if not self.durable:
            # Throw-away test clusters: crash safety buys nothing there and costs seconds.
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.root / "pg.log"),
                  "-w", "-t", "60", "start")  # fmt: skip
        _wait(lambda: psycopg.connect(self.url, connect_timeout=2).close(), "PostgreSQL")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


@contextlib.contextmanager
def private_postgres(root: Path, *, durable: bool = True) -> Iterator[PostgresCluster]:
    cluster = PostgresCluster(root, durable=durable)
    cluster.start()
    try:
        yield cluster
    finally:
        with contextlib.suppress(ServiceError):
            cluster.stop()


@contextlib.contextmanager
def services(local_dir: Path, *, durable: bool = True) -> Iterator[Services]:
    """REDIS_URL and DATABASE_URL from the environment, or private servers under `local_dir`.

    `durable=False` turns off fsync in a private PostgreSQL (for throw-away test clusters).
    """
    with contextlib.ExitStack() as stack:
        redis_url = os.environ.get("REDIS_URL") or stack.enter_context(
            private_redis(local_dir / "redis")
        )
        database_url = os.environ.get("DATABASE_URL") or (
            stack.enter_context(private_postgres(local_dir / "pg", durable=durable)).url
        )
        yield Services(redis_url=redis_url, database_url=database_url)
