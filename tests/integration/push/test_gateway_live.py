"""The live path end to end on the local gateway: real browser-side WebSocket clients
(`websockets`), the WebSocket handlers invoked with API Gateway-shaped events (their replies
come back as route responses), the pusher posting to the gateway's @connections with its own
SigV4 HTTP client (boto3 for the Management API checks), real Redis, real simulator
snapshots."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import uvicorn
import websockets
from pydantic import SecretStr
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send
from websockets.asyncio.client import ClientConnection, connect

from lambdas import ws
from strikeboard.auth import Principal
from strikeboard.config import Settings
from strikeboard.devservices import free_port
from strikeboard.gateway import Gateway, build_app
from strikeboard.gateway.limits import uvicorn_limits
from strikeboard.push import messages
from strikeboard.push.httpposter import HttpPoster
from strikeboard.push.poster import ManagementApiPoster, PostResult
from strikeboard.push.registry import Registry
from strikeboard.push.service import Pusher
from strikeboard.store.auth_state import AuthState
from strikeboard.store.hot import HotStore
from strikeboard.store.snapshot import loads
from tests.support.sim_chain import SimChain

TOKEN = "integration-dev-token"
JSONDict = dict[str, Any]


async def placeholder_api(scope: Scope, receive: Receive, send: Send) -> None:
    """Stands in for lambdas.http_api:app in these tests only."""
    await JSONResponse({"path": scope["path"]})(scope, receive, send)


@dataclass
class Client:
    """A browser-like client: collects every message, reassembling parts; skips the empty
    frames of route responses without a body; on a ``reset``, re-fetches the snapshot as the
    SPA does over REST (`rest`, here straight from Redis) and files it as a ``snapshot``."""

    socket: ClientConnection
    rest: Callable[[str, str], JSONDict | None]
    received: list[JSONDict] = field(default_factory=list)
    frames: list[str] = field(default_factory=list)
    stray: list[str] = field(default_factory=list)  # frames that are no protocol message
    task: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        assembler = messages.Assembler()
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.socket:
                text = raw if isinstance(raw, str) else raw.decode()
                self.frames.append(text)
                if not text:
                    continue
                message = json.loads(text) if text.startswith("{") else None
                if not isinstance(message, dict) or (
                    message.get("type") not in messages.SERVER_MESSAGE_TYPES
                ):
                    self.stray.append(text[:200])
                    continue
                if message["type"] == "part":
                    message = assembler.feed(message)
                    if message is None:
                        continue
                for inner in messages.unbatch(message):
                    self.received.append(inner)
                    if inner["type"] == "reset":
                        document = self.rest(inner["underlying"], inner["expiry"])
                        if document is not None:
                            self.received.append(
                                {**loads(messages.snapshot_message(document)), "rest": True}
                            )

    async def send(self, **body: Any) -> None:
        await self.socket.send(json.dumps(body))

    def followers(self) -> dict[str, messages.Follower]:
        out: dict[str, messages.Follower] = {}
        for message in self.received:
            if message["type"] in ("snapshot", "delta", "reset"):
                out.setdefault(message["expiry"], messages.Follower()).handle(message)
        return out


@dataclass
class Live:
    url: str
    gateway: Gateway
    hot: HotStore
    registry: Registry
    pusher: Pusher
    chain: SimChain
    previous: dict[str, JSONDict] = field(default_factory=dict)
    clients: list[Client] = field(default_factory=list)

    async def client(self, principal: Principal | None = None) -> Client:
        # What the SPA does: a one-time ticket (POST /api/ws/ticket), then /ws?ticket=.
        ticket = AuthState.of(self.hot).issue_ticket(principal or Principal("dev", "dev"))
        socket = await connect(f"{self.url.replace('http', 'ws')}/ws?ticket={ticket}")
        client = Client(socket, self.hot.read_snapshot)
        client.task = asyncio.create_task(client._read())
        self.clients.append(client)
        return client

    def publish(self, documents: dict[str, JSONDict]) -> dict[str, int]:
        seqs = {}
        for expiry, document in documents.items():
            seqs[expiry] = self.hot.publish(document, self.previous.get(expiry))
            self.previous[expiry] = document
        return seqs


async def eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


@pytest_asyncio.fixture
async def live(redis_url: str, redis_prefix: str, tmp_path: Path) -> AsyncIterator[Live]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    hot = HotStore.from_url(redis_url, redis_prefix)
    registry = Registry.from_url(redis_url, redis_prefix, ttl_s=120)
    settings = Settings(dev_token=SecretStr(TOKEN), cognito_issuer="",
                        underlyings="NIFTY,BANKNIFTY")  # fmt: skip
    deps = ws.Deps(settings, registry, hot)
    gateway = Gateway(lambda event, _ctx: ws.handle(event, deps), http_app=placeholder_api,
                      static_dir=tmp_path / "dist", domain_name=f"127.0.0.1:{port}")  # fmt: skip
    server = uvicorn.Server(uvicorn.Config(build_app(gateway), host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False,
                                           **uvicorn_limits()))  # fmt: skip
    serving = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, 10)
    poster = HttpPoster.from_endpoint(url, 16)
    pusher = Pusher(redis_url, poster, prefix=redis_prefix, registry=registry, hot=hot,
                    market_hz=20)  # fmt: skip
    stop = asyncio.Event()
    pushing = asyncio.create_task(pusher.run(stop))
    await asyncio.wait_for(pusher.subscribed.wait(), 10)
    state = Live(url, gateway, hot, registry, pusher, SimChain(seed=9))
    yield state
    for client in state.clients:
        await client.socket.close()
        if client.task:
            await client.task
        assert client.stray == []  # every frame a client got was a protocol message (or empty)
    stop.set()
    await pushing
    await poster.aclose()
    server.should_exit = True
    await serving
    hot.close()
    registry.close()


@pytest.mark.asyncio
async def test_clients_rebuild_the_redis_snapshot_from_snapshot_and_deltas(live: Live) -> None:
    e0, e1 = live.chain.expiries[:2]
    live.publish(live.chain.snapshots())
    a, b, c = await live.client(), await live.client(), await live.client()
    await a.send(action="subscribe", expiry=e0)
    await b.send(action="subscribe", expiry=e1)
    await eventually(lambda: bool(a.received) and bool(b.received))
    assert a.received[0]["type"] == "snapshot" and a.received[0]["expiry"] == e0
    for _ in range(8):
        last = live.publish(live.chain.step(1))
        await asyncio.sleep(0.1)

    def done() -> bool:
        fa, fb = a.followers(), b.followers()
        return fa.get(e0, messages.Follower()).seq == last[e0] and (
            fb.get(e1, messages.Follower()).seq == last[e1]
        )

    await eventually(done)
    assert a.followers()[e0].document == live.hot.read_snapshot("NIFTY", e0)
    assert b.followers()[e1].document == live.hot.read_snapshot("NIFTY", e1)
    assert set(a.followers()) == {e0} and set(b.followers()) == {e1}
    assert not c.followers()
    deltas = [m for m in a.received if m["type"] == "delta"]
    assert deltas and all(m["expiry"] == e0 for m in deltas)

    # Market data and order updates reach every connection; ping answers pong.
    live.hot.write_market(live.chain.market())
    order = live.chain.order_update()
    live.hot.publish_order(order)
    await c.send(action="ping")
    for client in (a, b, c):
        await eventually(lambda client=client: {"type": "order", "data": order} in client.received)
        await eventually(lambda client=client: any(m["type"] == "market" for m in client.received))
    await eventually(lambda: {"type": "pong"} in c.received)

    # Unsubscribed: no more deltas for that client. The unsubscribe needs no answer: its
    # route response has no body (an empty frame, as API Gateway sends for one).
    frames = len(a.frames)
    await a.send(action="unsubscribe", expiry=e0)
    await eventually(lambda: live.registry.subscribers("NIFTY", e0) == [])
    await eventually(lambda: "" in a.frames[frames:])
    count = len([m for m in a.received if m["type"] == "delta"])
    last = live.publish(live.chain.step(1))
    await eventually(lambda: b.followers()[e1].seq == last[e1])
    await asyncio.sleep(0.2)
    assert len([m for m in a.received if m["type"] == "delta"]) == count


@pytest.mark.asyncio
async def test_a_banknifty_subscription_gets_banknifty_deltas_only(live: Live) -> None:
    """Two underlyings with the same expiry: each subscription follows its own stream."""
    e0 = live.chain.expiries[0]
    previous: dict[tuple[str, str], JSONDict] = {}

    def publish(document: JSONDict) -> int:
        key = (document["underlying"], document["expiry"])
        seq = live.hot.publish(document, previous.get(key))
        previous[key] = document
        return seq

    def bank(documents: dict[str, JSONDict]) -> JSONDict:
        # BANKNIFTY's stream: the simulated chain a minute ahead, under its own name.
        return {**copy.deepcopy(documents[e0]), "underlying": "BANKNIFTY"}

    publish(live.chain.snapshots()[e0])
    publish(bank(live.chain.step(60)))
    a, b = await live.client(), await live.client()
    await a.send(action="subscribe", underlying="BANKNIFTY", expiry=e0)
    await b.send(action="subscribe", underlying="NIFTY", expiry=e0)
    await eventually(lambda: bool(a.received) and bool(b.received))
    for _ in range(5):
        nifty_seq = publish(live.chain.step(1)[e0])
        bank_seq = publish(bank(live.chain.step(1)))
        await asyncio.sleep(0.1)
    await eventually(lambda: a.followers()[e0].seq == bank_seq
                     and b.followers()[e0].seq == nifty_seq)  # fmt: skip
    assert a.followers()[e0].document == live.hot.read_snapshot("BANKNIFTY", e0)
    assert b.followers()[e0].document == live.hot.read_snapshot("NIFTY", e0)
    for client, name in ((a, "BANKNIFTY"), (b, "NIFTY")):
        stream = [m for m in client.received if m["type"] in ("snapshot", "delta")]
        assert any(m["type"] == "delta" for m in stream)
        assert {m["underlying"] for m in stream} == {name}


@pytest.mark.asyncio
async def test_a_snapshot_over_the_limit_is_a_reset_then_rest_and_no_delta_is_lost(
    live: Live,
) -> None:
    """The subscribe's reply is one message (a route response): a snapshot too large for one
    is answered with a reset carrying its seq; the client fetches the chain over REST and
    applies the deltas after what it fetched, whichever arrives first."""
    e0 = live.chain.expiries[0]

    def wide(documents: dict[str, JSONDict]) -> dict[str, JSONDict]:
        """One document carrying every expiry's strikes (real rows, keys made unique):
        ~170 KB, more than one message holds."""
        out = copy.deepcopy(documents[e0])
        out["strikes"] = {f"{k}@{e}": row for e, d in documents.items() for k, row in
                          d["strikes"].items()}  # fmt: skip
        return {e0: out}

    seq = live.publish(wide(live.chain.snapshots()))[e0]
    assert not messages.fits(messages.snapshot_message(live.hot.read_snapshot("NIFTY", e0) or {}))
    client = await live.client()
    await client.send(action="subscribe", expiry=e0)
    # Deltas published right away race the reply and the REST fetch; none may be lost (they
    # change most rows: large too, the pusher posts them in parts).
    for _ in range(3):
        last = live.publish(wide(live.chain.step(1)))
    await eventually(lambda: e0 in client.followers() and client.followers()[e0].seq == last[e0])
    assert client.followers()[e0].document == live.hot.read_snapshot("NIFTY", e0)
    resets = [m for m in client.received if m["type"] == "reset"]
    assert resets[0]["expiry"] == e0 and seq <= resets[0]["seq"] <= last[e0]
    ws_snapshots = [m for m in client.received if m["type"] == "snapshot" and "rest" not in m]
    assert ws_snapshots == []  # only the REST fetch brought the whole chain
    assert max(len(f.encode()) for f in client.frames) <= messages.MAX_MESSAGE_BYTES


@pytest.mark.asyncio
async def test_refusals_gone_connections_and_the_management_api(live: Live) -> None:
    ws_url = f"{live.url.replace('http', 'ws')}/ws"
    # A token in the URL is refused even when valid; so is a ticket used once already.
    ticket = AuthState.of(live.hot).issue_ticket(Principal("dev", "dev"))
    await (await connect(f"{ws_url}?ticket={ticket}")).close()
    for query in (f"?token={TOKEN}", f"?ticket={ticket}", "?ticket=wrong", ""):
        with pytest.raises(websockets.InvalidStatus) as refused:
            await connect(f"{ws_url}{query}")
        assert refused.value.response.status_code == 401

    e0 = live.chain.expiries[0]
    live.publish(live.chain.snapshots())
    client = await live.client()
    await client.send(action="subscribe", expiry=e0)
    await eventually(lambda: bool(client.received))
    (cid,) = live.gateway.connections
    # A registered connection the gateway does not know (its browser vanished without a
    # $disconnect): the pusher's post gets 410 and drops it from the registry.
    phantom = "phantomXXXXXXXX="
    principal = live.registry.principal(cid)
    assert principal is not None
    live.registry.connect(phantom, principal)
    live.registry.subscribe(phantom, "NIFTY", e0)
    live.publish(live.chain.step(1))
    await eventually(lambda: phantom not in live.registry.connections())
    assert live.registry.subscribers("NIFTY", e0) == [cid]

    # The Management API as boto3 sees it: get_connection, post (413 over 128 KB), delete.
    # (boto3 is blocking and the gateway runs on this loop: call it from a thread.)
    api = ManagementApiPoster.from_endpoint(live.url)
    info = await asyncio.to_thread(api.client.get_connection, ConnectionId=cid)
    assert info["Identity"]["SourceIp"] == "127.0.0.1"
    too_big = b"x" * (messages.MAX_MESSAGE_BYTES + 1)
    assert await asyncio.to_thread(api.post, cid, too_big) is PostResult.FAILED
    assert "PayloadTooLarge" in (api.last_error or "")
    assert await asyncio.to_thread(api.post, phantom, b"{}") is PostResult.GONE
    # The pusher's own poster (SigV4 over keep-alive HTTP): the same answers.
    fast = HttpPoster.from_endpoint(live.url, 4)
    assert await fast.post(cid, b'{"type":"pong"}') is PostResult.OK
    await eventually(lambda: client.received[-1] == {"type": "pong"})
    assert await fast.post(cid, too_big) is PostResult.FAILED
    assert "PayloadTooLarge" in (fast.last_error or "")
    assert await fast.post(phantom, b"{}") is PostResult.GONE
    await fast.aclose()
    assert await asyncio.to_thread(api.delete, cid) is PostResult.OK
    await eventually(lambda: client.task is not None and client.task.done())
    await eventually(lambda: live.registry.connections() == [])  # $disconnect ran


@pytest.mark.asyncio
async def test_gateway_serves_api_and_spa(live: Live, tmp_path: Path) -> None:
    import httpx  # noqa: PLC0415

    async with httpx.AsyncClient(base_url=live.url) as http:
        assert (await http.get("/api/health")).json() == {"path": "/api/health"}
        health = (await http.get("/_gateway/health")).json()
        assert health["status"] == "ok" and health["connections"] == 0
        page = await http.get("/chain/2026-12-01")
        assert page.status_code == 503 and "not built" in page.text
        dist = tmp_path / "dist"
        (dist / "assets").mkdir(parents=True)
        (dist / "index.html").write_text("<html>spa</html>")
        (dist / "assets" / "app.js").write_text("console.log(1)")
        assert (await http.get("/")).text == "<html>spa</html>"
        assert (await http.get("/chain/2026-12-01")).text == "<html>spa</html>"
        assert (await http.get("/assets/app.js")).text == "console.log(1)"
        assert (await http.get("/assets/missing.js")).status_code == 404
        assert (await http.get("/../../etc/passwd")).status_code in (200, 404)
        assert "root:" not in (await http.get("/..%2f..%2fetc%2fpasswd")).text


@pytest.mark.asyncio
async def test_idle_sockets_are_closed_and_forgotten(live: Live) -> None:
    live.gateway.idle_timeout_s = 0.5  # API Gateway: 10 minutes
    client = await live.client()
    await eventually(lambda: len(live.registry.connections()) == 1)
    await eventually(lambda: client.task is not None and client.task.done())
    assert client.socket.close_code == 1001
    await eventually(lambda: live.registry.connections() == [])
    assert live.gateway.connections == {}


@pytest.mark.asyncio
async def test_hostile_frames_are_answered_and_a_flood_ends_with_the_client(live: Live) -> None:
    """Issue 13: a frame nested 1,000 deep or with a 10 kB name gets an error (not silence,
    not a 502) and the socket stays usable; 1,000 subscribes then a close leave nothing
    registered and the gateway idle, promptly."""
    client = await live.client()
    await client.socket.send('{"action": ' + "[" * 1000 + "]" * 1000 + "}")
    await client.send(action="subscribe", underlying="N" * 10_000, expiry="2026-12-01")
    await client.send(action="subscribe", underlying="N" * 3000, expiry="2026-12-01")
    await client.send(action="ping")
    await eventually(lambda: any(m["type"] == "pong" for m in client.received))
    errors = [m["message"] for m in client.received if m["type"] == "error"]
    assert len(errors) == 3
    assert "nested too deeply" in errors[0] and "too large" in errors[1]
    assert "'underlying' must be a name" in errors[2]
    (connection_id,) = live.registry.connections()

    started = time.monotonic()
    for day in range(1000):
        await client.send(action="subscribe", expiry=f"2027-01-{day % 28 + 1:02d}")
    await client.socket.close()
    await eventually(lambda: not live.gateway.connections, 60)
    await eventually(lambda: live.registry.connections() == [], 60)
    print(f"1,000 subscribes then close: gateway idle after {time.monotonic() - started:.2f} s")
    assert live.registry.subscriptions(connection_id) == []
    assert live.registry.subscribers("NIFTY", "2027-01-01") == []
    assert live.registry.principal(connection_id) is None
