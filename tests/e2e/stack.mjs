/**
 * What the browser tests share: the repository's paths, Chromium's launch options, a check
 * recorder, free ports and a `strikeboard dev` stack run as its own process group.
 */
import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, "..", "..");
export const web = join(root, "web");
// playwright-core is a dependency of web/, not of this folder.
export const { chromium } = createRequire(join(web, "package.json"))("playwright-core");

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"];
// The repository's uv wrapper (it installs uv into .local/tools when the machine has none):
// a bare `uv` is not on PATH on a fresh machine or CI.
export const UV = join(root, "scripts", "uv");
const STARTUP_S = Number(process.env.E2E_STARTUP_S ?? 180);

export const log = (...a) => console.log(`[e2e ${new Date().toISOString().slice(11, 19)}]`, ...a);
export const results = [];
/** Run one check; a failure is recorded and the later checks still run (fatal: stop here). */
export async function check(name, fn, { fatal = false } = {}) {
  const t = Date.now();
  try {
    await fn();
    results.push([name, "ok", Date.now() - t]);
    log(`ok   ${name}`);
  } catch (err) {
    results.push([name, "FAIL", Date.now() - t]);
    log(`FAIL ${name}: ${err.message.split("\n")[0]}`);
    if (fatal) throw err;
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** The stack's own lines (not the children's access and JSON logs), for error messages. */
export function summary(output) {
  return output
    .split("\n")
    .filter((l) => l.trim() && !/^(INFO|DEBUG|WARNING):|^\{/.test(l))
    .slice(-30)
    .map((l) => l.slice(0, 200))
    .join("\n");
}

/** A running `strikeboard dev`: its process group, gateway URL and token. */
export class Stack {
  /** `env`: extra variables for the stack (e.g. COGNITO_* for the sign-in test). */
  constructor(port, token, env = {}) {
    this.port = port;
    this.token = token;
    this.env = env;
    this.proc = null;
    this.output = "";
  }

  static supportsPort() {
    const help = spawnSync(UV, ["run", "--frozen", "strikeboard", "dev", "--help"], { cwd: root, encoding: "utf8" });
    return /--port\b/.test(help.stdout ?? "");
  }

  async start() {
    const argv = ["run", "--frozen", "strikeboard", "dev", "--speed", "10", "--local-dir", ".local/e2e"];
    if (this.port) argv.push("--port", String(this.port));
    log(`starting: ${UV} ${argv.join(" ")}`);
    this.output = "";
    this.proc = spawn(UV, argv, {
      cwd: root,
      env: { ...process.env, ...this.env, DEV_TOKEN: this.token, PYTHONUNBUFFERED: "1" },
      detached: true, // its own process group, so the whole stack stops with it
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise((_, reject) =>
      this.proc.once("exit", (code) => reject(new Error(`strikeboard dev exited with ${code}:\n${summary(this.output)}`))),
    );
    exited.catch(() => {});
    this.proc.stdout.on("data", (d) => (this.output += d));
    this.proc.stderr.on("data", (d) => (this.output += d));
    const found = new Promise((resolve, reject) => {
      const deadline = setTimeout(
        () => reject(new Error(`no gateway URL printed within ${STARTUP_S} s (is the gateway part of strikeboard dev?); output:\n${summary(this.output)}`)),
        STARTUP_S * 1000,
      );
      const scan = setInterval(() => {
        for (const line of this.output.split("\n")) {
          const url = /(https?:\/\/(?:127\.0\.0\.1|localhost|0\.0\.0\.0):\d+)/.exec(line);
          if (url && /gateway|dashboard|open|web|spa|browser/i.test(line) && !/simulator|kite/i.test(line)) {
            // A printed token (`#token=...` or a "dev token" line) wins over the one we set;
            // other "token" strings in the children's logs (Kite's access_token) do not count.
            const tok =
              /[?&#]token=([A-Za-z0-9._~-]{8,})/.exec(line) ??
              /dev[ _-]?token\W+([A-Za-z0-9._~-]{8,})/i.exec(this.output);
            if (tok) this.token = tok[1];
            clearInterval(scan);
            clearTimeout(deadline);
            resolve(url[1].replace("0.0.0.0", "127.0.0.1"));
            return;
          }
        }
      }, 200);
    });
    this.url = await Promise.race([found, exited]);
    log(`stack up at ${this.url}`);
    return this.url;
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return;
    const pid = this.proc.pid;
    const done = new Promise((r) => this.proc.once("exit", r));
    process.kill(-pid, "SIGINT"); // the supervisor stops its children in order
    const timer = setTimeout(() => {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // already gone
      }
    }, 40_000);
    await done;
    clearTimeout(timer);
  }
}

