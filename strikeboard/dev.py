"""`strikeboard dev`: the whole local system in one command.

Redis and PostgreSQL (from REDIS_URL / DATABASE_URL, or private ones under .local/dev), the
Kite-compatible simulator, and the other processes of the stack, each a child process with the
settings it needs in its environment. A child that exits is restarted with backoff (1 s doubling
to 30 s, as ECS restarts a task; logged on stderr). Runs until interrupted (Ctrl-C or SIGTERM),
then stops everything it started.

The stack runs on the simulator's market clock: once the simulator answers, its clock is read
and handed to the feed, the gateway (API) and the pusher as MARKET_CLOCK (docs/market.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from strikeboard import devservices
from strikeboard.config import get_settings
from strikeboard.market import clock
from strikeboard.market.calendar import IST, Phase, phase, session_view

DEFAULT_LOCAL_DIR = Path(".local/dev")
DEV_UNDERLYINGS = "NIFTY,BANKNIFTY,SENSEX"
"""The local stack's UNDERLYINGS unless the environment sets it: several chains to switch
between (the cloud's default stays NIFTY, config.Settings.underlyings)."""
GATEWAY_SERVES = ["--http-app", "lambdas.http_api:app", "--ws-handler", "lambdas.ws:handler"]
"""What the local gateway serves: the Lambdas' own HTTP app and WebSocket handler, named on its
command line (this process composes the stack; the library imports no `lambdas` module)."""


@dataclass
class Child:
    name: str
    argv: list[str]
    ready_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    after_ready: Callable[[], None] | None = None


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {proc.returncode}")
        with contextlib.suppress(OSError):
            urllib.request.urlopen(url, timeout=2).close()
            return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


RESTART_MIN_S = 1.0
RESTART_MAX_S = 30.0
HEALTHY_AFTER_S = 60.0
"""A child that ran this long before it exited starts over at RESTART_MIN_S."""


@dataclass
class Backoff:
    """Restart delays as ECS's: 1 s doubling to 30 s, back to 1 s after a healthy minute."""

    delay: float = RESTART_MIN_S

    def after_exit(self, ran_for: float) -> float:
        """The wait before restarting a child that exited after ``ran_for`` seconds."""
        if ran_for >= HEALTHY_AFTER_S:
            self.delay = RESTART_MIN_S
        wait = self.delay
        self.delay = min(self.delay * 2, RESTART_MAX_S)
        return wait


def _log(message: str) -> None:
    print(f"strikeboard dev: {message}", file=sys.stderr, flush=True)


@dataclass
class Running:
    """One supervised child: its current process and restart state."""

    child: Child
    proc: subprocess.Popen[bytes]
    started: float
    backoff: Backoff = field(default_factory=Backoff)
    restart_at: float | None = None
    restarts: int = 0


class Supervisor:
    """The children of `strikeboard dev`, each restarted with backoff when it exits (as ECS
    restarts a stopped task), until the stack is stopped."""

    def __init__(self, base_env: dict[str, str], clock: Callable[[], float] = time.monotonic):
        self.base_env = base_env
        self.clock = clock
        self.running: list[Running] = []

    def spawn(self, child: Child) -> subprocess.Popen[bytes]:
        # Own sessions: a Ctrl-C reaches only this supervisor, which stops them in order.
        proc = subprocess.Popen(
            child.argv, env={**self.base_env, **child.env}, start_new_session=True
        )
        _log(f"{child.name} started (pid {proc.pid})")
        return proc

    def start(self, child: Child) -> None:
        proc = self.spawn(child)
        self.running.append(Running(child, proc, self.clock()))
        if child.ready_url:
            _wait_http(child.ready_url, proc)
        if child.after_ready is not None:
            child.after_ready()

    def tick(self) -> None:
        """Notice exited children and restart those whose delay has passed."""
        now = self.clock()
        for r in self.running:
            if r.restart_at is None:
                code = r.proc.poll()
                if code is None:
                    continue
                wait = r.backoff.after_exit(now - r.started)
                r.restart_at = now + wait
                _log(f"{r.child.name} (pid {r.proc.pid}) exited with {code}; "
                     f"restarting in {wait:g} s")  # fmt: skip
            elif now >= r.restart_at:
                r.proc, r.started, r.restart_at = self.spawn(r.child), now, None
                r.restarts += 1

    def stop(self) -> None:
        # Last started, first stopped, one at a time: the feed flushes while Kite and the
        # stores it writes to are still up.
        for r in reversed(self.running):
            proc = r.proc
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextlib.contextmanager
def run_children(children: list[Child], base_env: dict[str, str]) -> Iterator[Supervisor]:
    supervisor = Supervisor(base_env)
    try:
        for child in children:
            supervisor.start(child)
        yield supervisor
    finally:
        supervisor.stop()


def plan(args: argparse.Namespace, sim_port: int) -> list[Child]:
    """The child processes of the local stack, in start order."""
    sim_root = f"http://127.0.0.1:{sim_port}"
    sim = Child(
        "simulator",
        [sys.executable, "-m", "strikeboard", "sim", "--port", str(sim_port),
         "--speed", str(args.speed), "--seed", str(args.seed),
         # The Kite login button's round trip: the simulator's login page sends the browser
         # back to the gateway's callback, as Kite does to the registered redirect URL.
         "--redirect-url", f"http://127.0.0.1:{args.port}/api/auth/kite/callback"],
        ready_url=f"{sim_root}/_sim/state",
    )  # fmt: skip
    if args.at is not None or args.speed == 1:
        # Else (another speed, no --at) the simulator replays its trading day from 09:15.
        _start_at(sim, sim_root, args.at or datetime.now(IST), args.speed)
    feed = Child(
        "feed",
        [sys.executable, "-m", "feed_container"],
        env={"SPOOL_DIR": str(args.local_dir / "spool")},
    )
    gateway = Child(
        "gateway",
        [sys.executable, "-m", "strikeboard.gateway", *GATEWAY_SERVES, "--port", str(args.port)],
        ready_url=f"http://127.0.0.1:{args.port}/_gateway/health",
    )
    if (static_dir := getattr(args, "static_dir", None)) is not None:
        gateway.argv += ["--static-dir", str(static_dir)]
    pusher = Child(
        "pusher",
        [sys.executable, "-m", "strikeboard.push"],
        env={"PUSH_ENDPOINT_URL": f"http://127.0.0.1:{args.port}"},
    )
    rest = [feed, gateway, pusher]
    set_clock = sim.after_ready

    def after_ready() -> None:
        if set_clock is not None:
            set_clock()
        _share_the_clock(sim_root, rest)

    sim.after_ready = after_ready
    return [sim, *rest]


def _post(url: str, body: dict[str, str]) -> None:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    urllib.request.urlopen(request, timeout=120).close()


def _start_at(sim: Child, sim_root: str, at: datetime, speed: float) -> None:
    """The simulated market at ``at`` (``--at``, default the wall clock) when the stack is up:
    in market hours the simulator starts there; else at the last session's close (on a
    weekend, Friday's), then jumps across the night or weekend to ``at``."""
    at = at.astimezone(IST)
    started = time.monotonic()
    if phase(at) == Phase.OPEN:
        sim.argv += ["--date", at.date().isoformat(), "--start", at.strftime("%H:%M:%S")]
        return
    sim.argv += ["--date", session_view(at).last_session.isoformat(), "--start", "15:31"]

    def jump() -> None:
        # ``at`` plus the market time gone by since (at `speed`). The token issued at that
        # close died at 06:00 since: the day's login is done here, as a trader would.
        elapsed = (time.monotonic() - started) * speed
        _post(f"{sim_root}/_sim/clock", {"at": (at + timedelta(seconds=elapsed)).isoformat()})
        _post(f"{sim_root}/_sim/token", {"access_token": "sim_access_token"})

    sim.after_ready = jump


def _share_the_clock(sim_root: str, children: list[Child]) -> None:
    """Give ``children`` the simulator's market clock (MARKET_CLOCK anchored to its answer,
    MARKET_CLOCK_SPEED its speed), so the feed, the API and the pusher agree with the market
    they watch: live in its market hours, closed outside them, whatever the wall clock says."""
    before = time.time()
    with urllib.request.urlopen(f"{sim_root}/_sim/state", timeout=30) as response:
        state = json.loads(response.read())
    wall = (before + time.time()) / 2
    env = {"MARKET_CLOCK": clock.anchor(datetime.fromisoformat(state["clock"]), wall),
           "MARKET_CLOCK_SPEED": repr(float(state["speed"]))}  # fmt: skip
    for child in children:
        child.env.update(env)


def dev_token(local_dir: Path) -> str:
    """The local bearer token: DEV_TOKEN, else one made once and kept under .local/dev, so a
    browser that stored it stays signed in across restarts."""
    if token := os.environ.get("DEV_TOKEN"):
        return token
    path = local_dir / "dev-token"
    if not path.exists():
        local_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def stack_env(found: devservices.Services, sim_port: int, token: str) -> dict[str, str]:
    """The environment every child of the local stack starts with (this process's, plus the
    stores, the simulator's URLs and credentials, the dev token, and DEV_UNDERLYINGS unless
    UNDERLYINGS is set); `plan` adds each
    child's own."""
    return {
        "UNDERLYINGS": DEV_UNDERLYINGS,
        **os.environ,
        "REDIS_URL": found.redis_url,
        "DATABASE_URL": found.database_url,
        "KITE_API_URL": f"http://127.0.0.1:{sim_port}",
        "KITE_TICKER_URL": f"ws://127.0.0.1:{sim_port}/ws",
        "DEV_TOKEN": token,
        # The simulator's credentials (its defaults): the feed, and the API's Kite login.
        "KITE_API_KEY": "sim_api_key",
        "KITE_ACCESS_TOKEN": "sim_access_token",
        "KITE_API_SECRET": "sim_api_secret",
    }


def run(args: argparse.Namespace) -> int:
    stop = False

    def on_signal(signum: int, _frame: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)  # also when started with SIGINT ignored (nohup, &)
    sim_port = args.sim_port or devservices.free_port()
    token = dev_token(args.local_dir)
    get_settings()  # a bad variable stops here, before anything starts
    with devservices.services(args.local_dir) as found:
        env = stack_env(found, sim_port, token)
        children = plan(args, sim_port)
        with run_children(children, env) as supervisor:
            print("Strikeboard local stack is up:", flush=True)
            print(f"  Redis       {found.redis_url}")
            print(f"  PostgreSQL  {found.database_url}")
            print(f"  Simulator   Kite REST {env['KITE_API_URL']}  ticker {env['KITE_TICKER_URL']}")
            print(f"  Feed        python -m feed_container, UNDERLYINGS={env['UNDERLYINGS']}")
            print(f"  Dashboard   http://127.0.0.1:{args.port}/#token={token}")
            print(f"  API         http://127.0.0.1:{args.port}/api/docs  (Bearer {token})")
            print(f"  Dev token   {token}")
            anchor = children[-1].env["MARKET_CLOCK"]
            market = clock.parse(anchor, float(children[-1].env["MARKET_CLOCK_SPEED"]))
            now = market.now()
            print(f"  Market      {now:%a %Y-%m-%d %H:%M:%S} IST, {session_view(now).state}, "
                  f"x{market.speed:g}  (MARKET_CLOCK={anchor})")  # fmt: skip
            print("Press Ctrl-C to stop.", flush=True)
            # Only Ctrl-C or SIGTERM stops the stack: a child that exits is restarted.
            while not stop:
                supervisor.tick()
                time.sleep(0.5)
    print("Stopped.")
    return 0


def market_time(text: str) -> datetime:
    """``--at``: an ISO datetime; naive means IST."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO datetime, e.g. 2026-11-25T10:00"
        ) from None
    return value.replace(tzinfo=IST) if value.tzinfo is None else value.astimezone(IST)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "dev",
        help="run the whole local system (services, simulator, feed, gateway)",
        description=run.__doc__ or __doc__,
    )
    parser.add_argument("--port", type=int, default=8000, help="gateway port (default 8000)")
    parser.add_argument("--sim-port", type=int, default=0, help="simulator port (default: free)")
    parser.add_argument(
        "--speed", type=float, default=1.0, help="simulated market clock speed (1 = real time)"
    )
    parser.add_argument(
        "--at",
        type=market_time,
        default=None,
        help="the market's time when the stack is up, ISO (naive = IST), e.g. "
        "2026-11-25T10:00; default: now at --speed 1, else the simulator's replay of its "
        "trading day from 09:15",
    )
    parser.add_argument("--seed", type=int, default=7, help="simulator random seed")
    parser.add_argument(
        "--local-dir",
        type=Path,
        default=DEFAULT_LOCAL_DIR,
        help="where private Redis/PostgreSQL keep their data (default: .local/dev)",
    )
    parser.add_argument(
        "--static-dir",
        type=Path,
        default=None,
        help="the built SPA the gateway serves (default web/dist)",
    )
    parser.set_defaults(run=run)
