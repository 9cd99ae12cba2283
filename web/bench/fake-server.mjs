/**
 * A stand-in gateway for the browser benchmark: serves web/dist, a minimal /api, and a /ws
 * that streams a synthetic chain of N strikes with deltas at a fixed rate (the wire format of
 * docs/api.md), and POST /api/strategy/payoff from a Black-76 bench double (payoff-double.mjs).
 * Synthetic and labelled as such: it measures the browser, not the market.
 */
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { WebSocketServer } from "ws";
import { payoffDouble } from "./payoff-double.mjs";

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png" };

/** A deterministic pseudo-random generator (mulberry32), so runs are comparable. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const round = (v, d) => Math.round(v * 10 ** d) / 10 ** d;

export class SyntheticChain {
  constructor({ strikes = 200, step = 50, spot = 26000, expiry = "2026-12-01", seed = 7 } = {}) {
    this.random = rng(seed);
    this.expiry = expiry;
    this.spot = spot;
    this.seq = 1;
    const first = Math.round(spot / step) * step - (strikes / 2) * step;
    this.strikes = Array.from({ length: strikes }, (_, i) => first + i * step);
    this.rows = {};
    for (const k of this.strikes) {
      this.rows[String(k)] = { strike: k, iv: 0.12, gex: 0, CE: this.leg(k, true), PE: this.leg(k, false) };
    }
  }

  leg(k, call) {
    const intrinsic = Math.max(0, call ? this.spot - k : k - this.spot);
    const ltp = round(intrinsic + 120 * Math.exp(-Math.abs(this.spot - k) / 600) + 0.05, 2);
    const oi = Math.round(1e5 + this.random() * 5e6 * Math.exp(-Math.abs(this.spot - k) / 1500));
    return {
      ltp, close: ltp, change: 0, change_pct: 0, bid: round(ltp - 0.05, 2), ask: round(ltp + 0.05, 2),
      bid_qty: 650, ask_qty: 975, volume: Math.round(oi * 2), oi, oi_change: 0, iv: 0.12,
      delta: call ? 0.5 : -0.5, gamma: 0.0004, theta: -5, vega: 12, buildup: "none",
    };
  }

  snapshot() {
    return {
      underlying: "NIFTY", expiry: this.expiry, seq: this.seq, ts: Date.now() / 1000, spot: this.spot,
      future: round(this.spot + 40, 2), forward: round(this.spot + 35, 2), atm_strike: this.atm(),
      days_to_expiry: 6, lot_size: 65,
      aggregates: { pcr_oi: 0.9, max_pain: this.atm(), atm_iv: 0.12, atm_straddle: 240, expected_move: 300 },
      strikes: this.rows,
    };
  }

  atm() {
    return this.strikes.reduce((b, k) => (Math.abs(k - this.spot) < Math.abs(b - this.spot) ? k : b));
  }

  /** One cycle: spot moves, a third of the legs change price, IV, Greeks, OI and volume. */
  delta() {
    const base = this.seq;
    this.seq += 1;
    this.spot = round(this.spot + (this.random() - 0.5) * 6, 2);
    const strikes = {};
    for (const k of this.strikes) {
      const row = this.rows[String(k)];
      for (const side of ["CE", "PE"]) {
        // The ATM call always changes: the benchmark probes that cell.
        if (!(k === this.atm() && side === "CE") && this.random() > 1 / 3) continue;
        const leg = row[side];
        const ltp = Math.max(0.05, round(leg.ltp + (this.random() - 0.5) * 2, 2));
        const change = {
          ltp, change: round(ltp - leg.close, 2), bid: round(ltp - 0.05, 2), ask: round(ltp + 0.05, 2),
          iv: round(leg.iv + (this.random() - 0.5) * 0.002, 4), delta: round(leg.delta + (this.random() - 0.5) * 0.01, 4),
          volume: leg.volume + Math.round(this.random() * 500), oi: leg.oi + Math.round((this.random() - 0.4) * 650),
        };
        change.oi_change = change.oi - (leg.oi - leg.oi_change);
        Object.assign(leg, change);
        (strikes[String(k)] ??= {})[side] = change;
      }
    }
    return {
      type: "delta", underlying: "NIFTY", expiry: this.expiry, seq: this.seq, base,
      set: { ts: Date.now() / 1000, spot: this.spot, atm_strike: this.atm(), strikes },
    };
  }
}

/** Start the server; returns {url, close, stats}. */
export async function startFakeGateway({ dist, extra = {}, strikes = 200, hz = 4, port = 0 }) {
  const chain = new SyntheticChain({ strikes });
  const stats = { deltas: 0, bytes: 0, payoffs: 0, payoffBytes: 0 };
  const api = {
    "/api/ws/ticket": () => ({ ticket: `bench-${Math.random().toString(36).slice(2)}`, expires_in: 30 }),
    "/api/health": () => ({ status: "ok", feed: { connected: true, token: "ok", last_tick_age_s: 0.1, ticks_per_s: 9000 }, market_open: true, now: new Date().toISOString() }),
    "/api/market": () => ({ instruments: { "NIFTY 50": { ltp: chain.spot, close: 26000, change: round(chain.spot - 26000, 2), change_pct: 0.1 }, "INDIA VIX": { ltp: 12.3, close: 12.5, change: -0.2, change_pct: -1.6 } }, stale: false, age_s: 0.2, market_open: true }),
    "/api/expiries": () => [{ expiry: chain.expiry, days_to_expiry: 6, kind: "weekly", lot_size: 65 }],
    "/api/preferences": () => ({ columns: ["oi", "oi_change", "volume", "iv", "change", "ltp", "bid", "ask"], strikes: 100, theme: "dark", default_expiry: null, convention: "forward", iv_leg: "otm" }),
    "/api/analytics/intraday": () => [],
  };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, "http://x");
    let body;
    if (url.pathname === "/api/strategy/payoff" && req.method === "POST") {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      let request = null;
      try {
        request = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        // answered below as a request without legs
      }
      const answer = payoffDouble(request, chain);
      const text = JSON.stringify(answer.body);
      stats.payoffs += 1;
      stats.payoffBytes += text.length;
      res.writeHead(answer.status, { "content-type": "application/json" }).end(text);
      return;
    }
    if (url.pathname.startsWith("/api/chain/")) body = { ...chain.snapshot(), source: "live", stale: false, age_s: 0.1 };
    else if (api[url.pathname]) body = api[url.pathname]();
    if (body !== undefined) {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
      return;
    }
    if (url.pathname.startsWith("/api/")) {
      res.writeHead(404, { "content-type": "application/json" }).end('{"detail":"not in the fake gateway"}');
      return;
    }
    const rel = extra[url.pathname] ?? (url.pathname === "/" ? "index.html" : url.pathname.slice(1));
    const file = rel.startsWith("/") ? rel : normalize(join(dist, rel));
    try {
      const data = await readFile(file);
      res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" }).end(data);
    } catch {
      res.writeHead(404).end("not found");
    }
  });
  const wss = new WebSocketServer({ server, path: "/ws" });
  const sockets = new Set();
  wss.on("connection", (ws) => {
    sockets.add(ws);
    ws.on("close", () => sockets.delete(ws));
    ws.on("message", (raw) => {
      const msg = JSON.parse(String(raw));
      if (msg.action === "subscribe") {
        ws.subscribed = true;
        ws.send(JSON.stringify({ type: "snapshot", expiry: chain.expiry, seq: chain.seq, data: chain.snapshot() }));
      } else if (msg.action === "ping") ws.send('{"type":"pong"}');
    });
  });
  const timer = setInterval(() => {
    const text = JSON.stringify(chain.delta());
    stats.deltas += 1;
    stats.bytes += text.length;
    for (const ws of sockets) if (ws.subscribed) ws.send(text);
  }, 1000 / hz);
  await new Promise((r) => server.listen(port, "127.0.0.1", r));
  const { port: bound } = server.address();
  return {
    url: `http://127.0.0.1:${bound}`,
    stats,
    chain,
    close: async () => {
      clearInterval(timer);
      for (const ws of sockets) ws.terminate();
      wss.close();
      await new Promise((r) => server.close(r));
    },
  };
}
