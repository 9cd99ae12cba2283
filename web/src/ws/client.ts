/**
 * The one live-data client: a WebSocket that dispatches snapshot and delta actions.
 *
 * - seq gaps: a delta whose `base` is not the last applied seq triggers a REST re-fetch of the
 *   snapshot; deltas arriving meanwhile are buffered and those newer than it are replayed.
 * - reconnect with exponential backoff and jitter;
 * - REST polling of the chain and market while the socket is down;
 * - messages split into `part`s are reassembled; a `batch` (one push cycle: market data and the
 *   delta in one message) is handled message by message, in one task, so React renders once;
 * - each connect asks `url()` anew: in the app it fetches a one-time ticket (POST /api/ws/ticket),
 *   so a reconnect never reuses a spent one and no token appears in the URL.
 * Everything external (socket class, fetches, timers' clock) is injected for tests.
 */
import { notifyAlert } from "../alerts/notify";
import type { FiredAlert } from "../alerts/types";
import { alertReceived } from "../store/alertsSlice";
import { deltaReceived, snapshotReceived } from "../store/chainSlice";
import { marketReceived } from "../store/marketSlice";
import { connectionChanged, toastAdded, type Connection } from "../store/uiSlice";
import type { DeltaMessage, MarketResponse, ServerMessage, Snapshot } from "../types";
import type { UnknownAction } from "@reduxjs/toolkit";

export interface SocketLike {
  readyState: number;
  onopen: ((ev: Event) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  onerror: ((ev: Event) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type SocketFactory = (url: string) => SocketLike;

export interface LiveClientOptions {
  /** The socket URL for one attempt (a Promise when a ticket must be fetched first). */
  url: () => string | Promise<string>;
  dispatch: (action: UnknownAction) => unknown;
  fetchSnapshot: (expiry: string) => Promise<Snapshot>;
  fetchMarket: () => Promise<MarketResponse>;
  createSocket?: SocketFactory;
  /** Backoff: initial and maximum delay between reconnect attempts (ms). */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** REST polling period while the socket is down (ms). */
  pollMs?: number;
  /** Keep-alive ping period (ms); API Gateway drops idle sockets after 10 minutes. */
  pingMs?: number;
  /** Open socket but no data for this long (ms): refresh over REST and show "polling". */
  silenceMs?: number;
  /** Fetch the snapshot over REST when a subscribe got no snapshot within this (ms). */
  snapshotTimeoutMs?: number;
  random?: () => number;
  /** The IV convention fetched snapshots use (the reducer keeps its Greeks when "nse"). */
  convention?: () => "forward" | "nse";
  /** Shows a fired alert outside the page (a browser notification when allowed). */
  notify?: (alert: FiredAlert) => void;
}

const OPEN = 1;

export class LiveClient {
  private readonly o: Required<LiveClientOptions>;
  private socket: SocketLike | null = null;
  private attempt = 0;
  private stopped = true;
  private expiry: string | null = null;
  private underlying = "NIFTY";
  private seq: number | null = null;
  private resyncing = false;
  private buffer: DeltaMessage[] = [];
  private parts = new Map<string, string[]>();
  /** Alert ids already shown: a push may come twice (delivery is at least once). */
  private alertIds = new Set<number>();
  private status: Connection | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private pollTimer: ReturnType<typeof setInterval> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private snapshotTimer: ReturnType<typeof setTimeout> | null = null;
  private silenceTimer: ReturnType<typeof setInterval> | null = null;
  /** When the socket last brought chain data (Date.now()). */
  private lastDataAt = 0;
  /** A URL (ticket) being fetched: no second connect meanwhile. */
  private opening = false;
  /** Bumped by stop(): a URL that arrives after it is dropped. */
  private generation = 0;
  /** Counters for diagnostics and tests. */
  readonly stats = { gaps: 0, resyncs: 0, reconnects: 0, polls: 0, badMessages: 0, urlFailures: 0 };

  constructor(options: LiveClientOptions) {
    this.o = {
      createSocket: (url) => new WebSocket(url) as unknown as SocketLike,
      backoffInitialMs: 500,
      backoffMaxMs: 15_000,
      pollMs: 2_000,
      pingMs: 60_000,
      snapshotTimeoutMs: 3_000,
      silenceMs: 5_000,
      random: Math.random,
      convention: () => "forward",
      notify: (alert) => void notifyAlert(alert),
      ...options,
    };
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.generation += 1;
    this.opening = false;
    this.clearTimers();
    this.stopPolling();
    const s = this.socket;
    this.socket = null;
    if (s) {
      s.onclose = null;
      s.close(1000, "client stopped");
    }
  }

  /** The expiry (of `underlying`) whose chain is streamed (null: none, e.g. while time travelling). */
  setExpiry(expiry: string | null, underlying = "NIFTY"): void {
    if (expiry === this.expiry && underlying === this.underlying) return;
    const old = this.expiry;
    const oldUnderlying = this.underlying;
    this.expiry = expiry;
    this.underlying = underlying;
    this.seq = null;
    this.buffer = [];
    this.resyncing = false;
    if (this.isOpen()) {
      if (old) this.send({ action: "unsubscribe", underlying: oldUnderlying, expiry: old });
      if (expiry) this.subscribe();
    } else if (this.pollTimer && expiry) {
      void this.pollOnce();
    }
  }

  /** Re-fetch the current expiry's snapshot over REST (e.g. after a convention switch). */
  refresh(): void {
    if (this.expiry) void this.resync();
  }

  get lastSeq(): number | null {
    return this.seq;
  }

  private isOpen(): boolean {
    return this.socket !== null && this.socket.readyState === OPEN;
  }

  private setStatus(status: Connection): void {
    if (status === this.status) return;
    this.status = status;
    this.o.dispatch(connectionChanged(status));
  }

  private connect(): void {
    if (this.stopped || this.opening) return;
    this.setStatus(this.attempt === 0 && this.status === null ? "connecting" : "reconnecting");
    let url: string | Promise<string>;
    try {
      url = this.o.url();
    } catch {
      this.scheduleReconnect();
      return;
    }
    if (typeof url === "string") {
      this.open(url);
      return;
    }
    const generation = this.generation;
    this.opening = true;
    url.then(
      (u) => {
        if (generation !== this.generation) return;
        this.opening = false;
        this.open(u);
      },
      () => {
        // No ticket (API down, session ended): back off as for a failed connect.
        if (generation !== this.generation) return;
        this.opening = false;
        this.stats.urlFailures += 1;
        this.scheduleReconnect();
      },
    );
  }

  private open(url: string): void {
    if (this.stopped) return;
    let socket: SocketLike;
    try {
      socket = this.o.createSocket(url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      if (socket !== this.socket) return;
      this.attempt = 0;
      this.stopPolling();
      this.setStatus("live");
      if (this.expiry) this.subscribe();
      this.pingTimer = setInterval(() => this.send({ action: "ping" }), this.o.pingMs);
      this.lastDataAt = Date.now();
      this.silenceTimer = setInterval(() => this.checkSilence(), this.o.silenceMs / 2);
    };
    socket.onmessage = (ev) => {
      if (socket === this.socket) this.onText(String(ev.data));
    };
    socket.onerror = () => {
      // A close event follows; reconnecting is handled there.
    };
    socket.onclose = () => {
      if (socket !== this.socket) return;
      this.socket = null;
      if (this.pingTimer) clearInterval(this.pingTimer);
      if (this.silenceTimer) clearInterval(this.silenceTimer);
      this.pingTimer = this.silenceTimer = null;
      this.scheduleReconnect();
    };
  }

  /**
   * A socket that stays open but brings no data (the pusher down, a lost subscription) must
   * not freeze the page: refresh over REST meanwhile and say so ("polling").
   */
  private checkSilence(): void {
    if (!this.isOpen() || !this.expiry || this.resyncing) return;
    if (Date.now() - this.lastDataAt < this.o.silenceMs) return;
    this.setStatus("polling");
    void this.resync();
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    this.setStatus(this.pollTimer && this.status === "polling" ? "polling" : "reconnecting");
    this.startPolling();
    const base = Math.min(this.o.backoffMaxMs, this.o.backoffInitialMs * 2 ** this.attempt);
    const delay = base * (0.5 + this.o.random() / 2);
    this.attempt += 1;
    this.stats.reconnects += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  private subscribe(): void {
    if (!this.expiry) return;
    this.seq = null;
    this.buffer = [];
    this.send({ action: "subscribe", underlying: this.underlying, expiry: this.expiry });
    if (this.snapshotTimer) clearTimeout(this.snapshotTimer);
    const expiry = this.expiry;
    this.snapshotTimer = setTimeout(() => {
      this.snapshotTimer = null;
      if (this.expiry === expiry && this.seq === null && !this.resyncing) void this.resync();
    }, this.o.snapshotTimeoutMs);
  }

  private send(msg: object): void {
    if (this.isOpen()) this.socket!.send(JSON.stringify(msg));
  }

  private onText(text: string): void {
    let msg: ServerMessage;
    try {
      msg = JSON.parse(text) as ServerMessage;
    } catch {
      this.stats.badMessages += 1;
      return;
    }
    this.onMessage(msg);
  }

  /** Handle one parsed server message (public for tests and the benchmark harness). */
  onMessage(msg: ServerMessage): void {
    switch (msg.type) {
      case "part":
        return this.onPart(msg);
      case "batch":
        if (!Array.isArray(msg.messages)) {
          this.stats.badMessages += 1;
          return;
        }
        for (const inner of msg.messages) if (inner?.type !== "batch") this.onMessage(inner);
        return;
      case "snapshot":
        if (!this.streamed(msg)) return;
        this.markLive();
        this.applySnapshot({ ...msg.data, seq: msg.seq }, "ws");
        return;
      case "delta":
        return this.onDelta(msg);
      case "reset":
        if (this.streamed(msg)) void this.resync();
        return;
      case "market":
        this.o.dispatch(marketReceived({ instruments: msg.data }));
        return;
      case "order":
        this.o.dispatch(toastAdded({ kind: "order", text: describeOrder(msg.data) }));
        return;
      case "alert":
        return this.onAlert(msg.data);
      case "error":
        this.o.dispatch(toastAdded({ kind: "error", text: msg.message }));
        return;
      default:
        return;
    }
  }

  private onAlert(alert: FiredAlert): void {
    if (!alert || typeof alert.id !== "number" || this.alertIds.has(alert.id)) return;
    this.alertIds.add(alert.id);
    if (this.alertIds.size > 500) this.alertIds.delete(this.alertIds.values().next().value!);
    this.o.dispatch(alertReceived(alert));
    this.o.dispatch(toastAdded({ kind: "info", text: `Alert: ${alert.text}${alert.note ? ` (${alert.note})` : ""}` }));
    this.o.notify(alert);
  }

  private onPart(msg: Extract<ServerMessage, { type: "part" }>): void {
    if (!(msg.count > 0 && msg.index >= 0 && msg.index < msg.count) || msg.count > 10_000) {
      this.stats.badMessages += 1;
      return;
    }
    let chunks = this.parts.get(msg.id);
    if (!chunks) {
      chunks = new Array<string>(msg.count);
      this.parts.set(msg.id, chunks);
      // Bounded: an id whose parts never complete is forgotten after 50 newer ones.
      if (this.parts.size > 50) this.parts.delete(this.parts.keys().next().value!);
    }
    chunks[msg.index] = msg.chunk;
    for (let i = 0; i < msg.count; i += 1) if (chunks[i] === undefined) return;
    this.parts.delete(msg.id);
    this.onText(chunks.join(""));
  }

  /** Whether a message is of the streamed chain (a server of NIFTY alone names no underlying). */
  private streamed(msg: { underlying?: string; expiry: string }): boolean {
    return msg.expiry === this.expiry && (msg.underlying ?? "NIFTY") === this.underlying;
  }

  private onDelta(msg: DeltaMessage): void {
    if (!this.streamed(msg)) return;
    this.lastDataAt = Date.now();
    if (this.resyncing || this.seq === null) {
      this.buffer.push(msg);
      return;
    }
    if (msg.seq <= this.seq) return; // already applied (replayed after a resync)
    if (msg.base !== this.seq) {
      this.stats.gaps += 1;
      this.buffer.push(msg);
      void this.resync();
      return;
    }
    this.markLive();
    this.o.dispatch(deltaReceived({ ...msg, receivedAt: Date.now() }));
    this.seq = msg.seq;
  }

  private markLive(): void {
    this.lastDataAt = Date.now();
    if (this.isOpen()) this.setStatus("live");
  }

  private applySnapshot(snapshot: Snapshot, source: "ws" | "rest"): void {
    if (this.snapshotTimer) clearTimeout(this.snapshotTimer);
    this.snapshotTimer = null;
    this.o.dispatch(
      snapshotReceived({ snapshot, source, convention: this.o.convention(), receivedAt: Date.now() }),
    );
    this.seq = typeof snapshot.seq === "number" ? snapshot.seq : null;
    this.flushBuffer();
  }

  private flushBuffer(): void {
    const pending = this.buffer.sort((a, b) => a.seq - b.seq);
    this.buffer = [];
    for (let i = 0; i < pending.length; i += 1) {
      const d = pending[i]!;
      if (this.seq === null || d.seq <= this.seq) continue;
      if (d.base !== this.seq) {
        // Still a hole after the snapshot: fetch again, keeping what is newer.
        this.buffer = pending.slice(i);
        this.stats.gaps += 1;
        void this.resync();
        return;
      }
      this.o.dispatch(deltaReceived({ ...d, receivedAt: Date.now() }));
      this.seq = d.seq;
    }
  }

  private async resync(): Promise<void> {
    const expiry = this.expiry;
    if (!expiry || this.resyncing) return;
    this.resyncing = true;
    this.stats.resyncs += 1;
    try {
      const snap = await this.o.fetchSnapshot(expiry);
      if (this.expiry !== expiry) return;
      this.resyncing = false;
      this.applySnapshot(snap, "rest");
    } catch {
      if (this.expiry !== expiry) return;
      this.resyncing = false;
      // Try again shortly; deltas keep buffering meanwhile (bounded below).
      if (this.buffer.length > 1000) this.buffer = this.buffer.slice(-1000);
      this.reconnectTimer ??= setTimeout(() => {
        this.reconnectTimer = null;
        if (this.isOpen()) void this.resync();
        else if (!this.stopped && !this.socket) this.connect();
      }, this.o.pollMs);
    }
  }

  private startPolling(): void {
    if (this.pollTimer || this.stopped) return;
    this.pollTimer = setInterval(() => void this.pollOnce(), this.o.pollMs);
    void this.pollOnce();
  }

  private stopPolling(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
  }

  private async pollOnce(): Promise<void> {
    if (this.isOpen()) return;
    const expiry = this.expiry;
    try {
      const [snap, market] = await Promise.all([
        expiry ? this.o.fetchSnapshot(expiry) : Promise.resolve(null),
        this.o.fetchMarket(),
      ]);
      if (this.isOpen() || this.stopped) return;
      this.stats.polls += 1;
      this.o.dispatch(
        marketReceived({
          instruments: market.instruments,
          marketOpen: market.market_open,
          stale: market.stale,
        }),
      );
      if (snap && this.expiry === expiry) {
        this.o.dispatch(
          snapshotReceived({
            snapshot: snap,
            source: "rest",
            convention: this.o.convention(),
            receivedAt: Date.now(),
          }),
        );
        this.seq = typeof snap.seq === "number" ? snap.seq : null;
      }
      this.setStatus("polling");
    } catch {
      // The API is down too: stay "reconnecting"; the next poll or reconnect will tell.
    }
  }

  private clearTimers(): void {
    for (const t of [this.reconnectTimer, this.snapshotTimer]) if (t) clearTimeout(t);
    for (const t of [this.pingTimer, this.silenceTimer]) if (t) clearInterval(t);
    this.reconnectTimer = this.snapshotTimer = this.pingTimer = this.silenceTimer = null;
  }
}

/** A one-line description of a Kite order update for a toast. */
export function describeOrder(o: Record<string, unknown>): string {
  const s = (k: string) => (o[k] === undefined || o[k] === null ? "" : String(o[k]));
  const qty = s("filled_quantity") || s("quantity");
  const price = s("average_price") || s("price");
  const parts = [s("transaction_type"), qty, s("tradingsymbol"), s("status")].filter(Boolean);
  return `${parts.join(" ")}${price && price !== "0" ? ` @ ${price}` : ""}` || "Order update";
}
