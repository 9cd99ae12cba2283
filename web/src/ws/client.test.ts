import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { makeStore, type AppStore } from "../store";
import { expirySelected } from "../store/chainSlice";
import { snapshot } from "../test/fixtures";
import type { MarketResponse, Snapshot } from "../types";
import { LiveClient, type SocketLike } from "./client";

/** A fake WebSocket at the network boundary: the test plays the server. */
class FakeSocket implements SocketLike {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: unknown[] = [];
  onopen: ((ev: Event) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  constructor(public url: string) {
    FakeSocket.all.push(this);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.drop();
  }
  open() {
    this.readyState = 1;
    this.onopen?.(new Event("open"));
  }
  drop() {
    this.readyState = 3;
    this.onclose?.({} as CloseEvent);
  }
  push(msg: unknown) {
    this.onmessage?.({ data: JSON.stringify(msg) } as MessageEvent);
  }
}

const EXPIRY = "2026-12-01";
const market: MarketResponse = { instruments: { "NIFTY 50": { ltp: 26000 } }, stale: false, age_s: 0, market_open: true, source: "live" };

function delta(seq: number, ltp: number) {
  return { type: "delta", expiry: EXPIRY, seq, base: seq - 1, set: { strikes: { "26000": { CE: { ltp } } } } };
}

let store: AppStore;
let fetchSnapshot: ReturnType<typeof vi.fn<(e: string) => Promise<Snapshot>>>;
let fetchMarket: ReturnType<typeof vi.fn<() => Promise<MarketResponse>>>;
let client: LiveClient;

const ltp = () => store.getState().chain.rows.entities["26000"]?.CE?.ltp;
const last = () => FakeSocket.all[FakeSocket.all.length - 1]!;

beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.all = [];
  store = makeStore();
  store.dispatch(expirySelected(EXPIRY));
  fetchSnapshot = vi.fn<(e: string) => Promise<Snapshot>>();
  fetchMarket = vi.fn<() => Promise<MarketResponse>>().mockResolvedValue(market);
  client = new LiveClient({
    url: () => "ws://test/ws?token=t",
    dispatch: store.dispatch,
    fetchSnapshot,
    fetchMarket,
    createSocket: (url) => new FakeSocket(url),
    backoffInitialMs: 100,
    backoffMaxMs: 1000,
    pollMs: 500,
    random: () => 1, // no jitter: delays are exactly the backoff
  });
  client.setExpiry(EXPIRY);
  client.start();
});

afterEach(() => {
  client.stop();
  vi.useRealTimers();
});

describe("LiveClient", () => {
  it("subscribes on open, applies the snapshot and in-order deltas", () => {
    last().open();
    expect(last().sent).toEqual([{ action: "subscribe", underlying: "NIFTY", expiry: EXPIRY }]);
    expect(store.getState().ui.connection).toBe("live");
    last().push({ type: "snapshot", expiry: EXPIRY, seq: 5, data: snapshot(5) });
    last().push(delta(6, 101));
    last().push(delta(7, 102));
    expect(ltp()).toBe(102);
    expect(client.lastSeq).toBe(7);
    expect(fetchSnapshot).not.toHaveBeenCalled();
  });

  it("re-fetches the snapshot on a seq gap and replays newer buffered deltas", async () => {
    last().open();
    last().push({ type: "snapshot", expiry: EXPIRY, seq: 5, data: snapshot(5) });
    let resolve!: (s: Snapshot) => void;
    fetchSnapshot.mockReturnValueOnce(new Promise((r) => (resolve = r)));
    last().push(delta(8, 108)); // 6 and 7 were lost
    expect(fetchSnapshot).toHaveBeenCalledWith(EXPIRY);
    last().push(delta(9, 109)); // buffered while re-fetching
    expect(ltp()).toBe(100);
    const fresh = snapshot(8);
    fresh.strikes["26000"]!.CE!.ltp = 108;
    resolve(fresh);
    await vi.waitFor(() => expect(client.lastSeq).toBe(9));
    expect(ltp()).toBe(109);
    expect(client.stats.gaps).toBe(1);
  });

  it("ignores duplicates and re-fetches on reset", async () => {
    last().open();
    last().push({ type: "snapshot", expiry: EXPIRY, seq: 5, data: snapshot(5) });
    last().push(delta(6, 106));
    last().push(delta(6, 999));
    expect(ltp()).toBe(106);
    fetchSnapshot.mockResolvedValueOnce(snapshot(20));
    last().push({ type: "reset", expiry: EXPIRY, seq: 20 });
    await vi.waitFor(() => expect(client.lastSeq).toBe(20));
  });

  it("loads over REST when the subscribe is answered with a reset, losing no delta", async () => {
    // A snapshot too large for the one message a subscribe's reply is: a reset with its seq.
    // Deltas after it were on their way before the reply and while the chain is fetched.
    let resolve!: (s: Snapshot) => void;
    fetchSnapshot.mockReturnValueOnce(new Promise((r) => (resolve = r)));
    last().open();
    last().push(delta(11, 111)); // published after the subscription, before the reply went
    last().push({ type: "reset", expiry: EXPIRY, seq: 10 });
    expect(fetchSnapshot).toHaveBeenCalledWith(EXPIRY);
    last().push(delta(12, 112)); // while the chain is fetched
    last().push(delta(13, 113));
    expect(client.lastSeq).toBeNull();
    resolve(snapshot(11)); // the REST chain is newer than the reset's seq: it holds delta 11
    await vi.waitFor(() => expect(client.lastSeq).toBe(13));
    expect(ltp()).toBe(113);
    expect(client.stats.gaps).toBe(0);
    expect(fetchSnapshot).toHaveBeenCalledTimes(1);
    last().push(delta(14, 114));
    expect(ltp()).toBe(114);
  });

  it("skips the empty frame API Gateway may send for a frame that needs no answer", () => {
    last().open();
    last().push({ type: "snapshot", expiry: EXPIRY, seq: 5, data: snapshot(5) });
    client.setExpiry("2026-12-08"); // an unsubscribe: its route response has no body
    last().onmessage?.({ data: "" } as MessageEvent);
    expect(store.getState().ui.toasts).toEqual([]);
    expect(store.getState().ui.connection).toBe("live");
    expect(last().readyState).toBe(1);
  });

  it("takes a push cycle's batch apart: market data and the delta from one message", () => {
    last().open();
    last().push({ type: "snapshot", expiry: EXPIRY, seq: 5, data: snapshot(5) });
    const ticks = { "NIFTY 50": { ltp: 26010 } };
    last().push({ type: "batch", messages: [{ type: "market", data: ticks }, delta(6, 106), delta(7, 107)] });
    expect(store.getState().market.instruments["NIFTY 50"]?.ltp).toBe(26010);
    expect(ltp()).toBe(107);
    expect(client.lastSeq).toBe(7);
    last().push({ type: "batch", messages: "garbage" });
    expect(client.stats.badMessages).toBe(1);
    // A batch split into parts, as a large cycle arrives.
    const text = JSON.stringify({ type: "batch", messages: [delta(8, 108)] });
    last().push({ type: "part", id: "b1", index: 0, count: 2, chunk: text.slice(0, 20) });
    last().push({ type: "part", id: "b1", index: 1, count: 2, chunk: text.slice(20) });
    expect(ltp()).toBe(108);
  });

  it("reassembles messages split into parts", () => {
    last().open();
    const text = JSON.stringify({ type: "snapshot", expiry: EXPIRY, seq: 3, data: snapshot(3) });
    const chunks = [text.slice(0, 100), text.slice(100, 300), text.slice(300)];
    // Out of order on purpose: the index decides the place.
    for (const i of [2, 0, 1]) last().push({ type: "part", id: "m1", index: i, count: 3, chunk: chunks[i] });
    expect(client.lastSeq).toBe(3);
    expect(store.getState().chain.rows.ids).toHaveLength(5);
  });

  it("reconnects with exponential backoff and polls REST while down", async () => {
    last().open();
    last().push({ type: "snapshot", expiry: EXPIRY, seq: 5, data: snapshot(5) });
    fetchSnapshot.mockResolvedValue(snapshot(30));
    last().drop();
    expect(store.getState().ui.connection).toBe("reconnecting");
    await vi.advanceTimersByTimeAsync(0); // the first poll's fetches resolve
    expect(store.getState().ui.connection).toBe("polling");
    expect(store.getState().chain.seq).toBe(30);
    expect(store.getState().market.instruments["NIFTY 50"]?.ltp).toBe(26000);

    // Each failed attempt doubles the delay: 100, 200, 400 ms.
    expect(FakeSocket.all).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(FakeSocket.all).toHaveLength(2);
    last().drop();
    await vi.advanceTimersByTimeAsync(199);
    expect(FakeSocket.all).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeSocket.all).toHaveLength(3);
    last().drop();
    await vi.advanceTimersByTimeAsync(400);
    expect(FakeSocket.all).toHaveLength(4);
    const polls = client.stats.polls;
    expect(polls).toBeGreaterThan(1);

    // Back up: live again, polling stops, the new socket subscribes.
    last().open();
    expect(store.getState().ui.connection).toBe("live");
    expect(last().sent).toEqual([{ action: "subscribe", underlying: "NIFTY", expiry: EXPIRY }]);
    await vi.advanceTimersByTimeAsync(2000);
    expect(client.stats.polls).toBe(polls);
  });

  it("falls back to REST when a subscription gets no snapshot", async () => {
    last().open();
    fetchSnapshot.mockResolvedValue(snapshot(12));
    last().push(delta(13, 113)); // buffered: no snapshot yet
    await vi.advanceTimersByTimeAsync(3000);
    await vi.waitFor(() => expect(client.lastSeq).toBe(13));
    expect(ltp()).toBe(113);
  });

  it("refreshes over REST while an open socket stays silent, and goes live on the next delta", async () => {
    last().open();
    last().push({ type: "snapshot", expiry: EXPIRY, seq: 5, data: snapshot(5) });
    fetchSnapshot.mockResolvedValue(snapshot(40));
    await vi.advanceTimersByTimeAsync(6000);
    expect(fetchSnapshot).toHaveBeenCalled();
    expect(store.getState().ui.connection).toBe("polling");
    expect(client.lastSeq).toBe(40);
    last().push(delta(41, 141));
    expect(store.getState().ui.connection).toBe("live");
    expect(ltp()).toBe(141);
  });

  it("switches expiry: unsubscribes the old one and subscribes the new one", () => {
    last().open();
    client.setExpiry("2026-12-08");
    expect(last().sent.slice(1)).toEqual([
      { action: "unsubscribe", underlying: "NIFTY", expiry: EXPIRY },
      { action: "subscribe", underlying: "NIFTY", expiry: "2026-12-08" },
    ]);
  });

  it("switches underlying on the same date and streams only that underlying's chain", () => {
    last().open();
    last().push({ type: "snapshot", expiry: EXPIRY, seq: 5, data: snapshot(5) });
    client.setExpiry(EXPIRY, "BANKNIFTY");
    expect(last().sent.slice(1)).toEqual([
      { action: "unsubscribe", underlying: "NIFTY", expiry: EXPIRY },
      { action: "subscribe", underlying: "BANKNIFTY", expiry: EXPIRY },
    ]);
    // NIFTY's stream of the same date, still in flight, is not BANKNIFTY's chain.
    last().push({ ...delta(6, 999), underlying: "NIFTY" });
    last().push({ type: "snapshot", underlying: "NIFTY", expiry: EXPIRY, seq: 6, data: snapshot(6) });
    expect(client.lastSeq).toBeNull();
    last().push({ type: "snapshot", underlying: "BANKNIFTY", expiry: EXPIRY, seq: 20, data: snapshot(20) });
    last().push({ ...delta(21, 321), underlying: "BANKNIFTY" });
    expect(client.lastSeq).toBe(21);
    expect(ltp()).toBe(321);
  });

  it("turns order updates into toasts and survives garbage", () => {
    last().open();
    last().onmessage?.({ data: "not json" } as MessageEvent);
    last().push({ type: "order", data: { transaction_type: "BUY", quantity: 65, tradingsymbol: "NIFTY26DEC26000CE", status: "COMPLETE", average_price: 110.5 } });
    expect(client.stats.badMessages).toBe(1);
    expect(store.getState().ui.toasts[0]?.text).toBe("BUY 65 NIFTY26DEC26000CE COMPLETE @ 110.5");
  });
});

describe("LiveClient with one-time tickets", () => {
  it("fetches a new ticket before every connect and backs off when none comes", async () => {
    client.stop(); // the suite's client (synchronous URL) is not used here
    let n = 0;
    let failNext = false;
    const url = vi.fn(async () => {
      if (failNext) {
        failNext = false;
        throw new Error("/api/ws/ticket: HTTP 503");
      }
      n += 1;
      return `ws://test/ws?ticket=t${n}`;
    });
    const ticketed = new LiveClient({
      url,
      dispatch: store.dispatch,
      fetchSnapshot,
      fetchMarket,
      createSocket: (u) => new FakeSocket(u),
      backoffInitialMs: 100,
      backoffMaxMs: 1000,
      pollMs: 500,
      random: () => 1,
    });
    const before = FakeSocket.all.length;
    ticketed.start();
    expect(FakeSocket.all.length).toBe(before); // no socket before its ticket arrived
    await vi.advanceTimersByTimeAsync(0);
    expect(last().url).toBe("ws://test/ws?ticket=t1");
    last().open();
    last().drop();
    await vi.advanceTimersByTimeAsync(100);
    expect(last().url).toBe("ws://test/ws?ticket=t2");
    failNext = true;
    last().drop();
    await vi.advanceTimersByTimeAsync(200); // the ticket request fails: no socket, back off
    expect(ticketed.stats.urlFailures).toBe(1);
    expect(last().url).toBe("ws://test/ws?ticket=t2");
    await vi.advanceTimersByTimeAsync(400);
    expect(last().url).toBe("ws://test/ws?ticket=t3");
    expect(url).toHaveBeenCalledTimes(4);
    expect(FakeSocket.all.slice(before).map((s) => s.url)).toEqual([
      "ws://test/ws?ticket=t1",
      "ws://test/ws?ticket=t2",
      "ws://test/ws?ticket=t3",
    ]);
    ticketed.stop();
  });

  it("drops a ticket that arrives after stop()", async () => {
    client.stop();
    let resolve: (u: string) => void = () => undefined;
    const ticketed = new LiveClient({
      url: () => new Promise<string>((r) => (resolve = r)),
      dispatch: store.dispatch,
      fetchSnapshot,
      fetchMarket,
      createSocket: (u) => new FakeSocket(u),
    });
    const before = FakeSocket.all.length;
    ticketed.start();
    ticketed.stop();
    resolve("ws://test/ws?ticket=late");
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeSocket.all.length).toBe(before);
  });
});
