/**
 * The processes the browser tests run against: a `strikeboard dev` stack as its own process
 * group, and the local OAuth stand-in of Cognito's hosted UI (tests/e2e/oauth_standin.py).
 * Every tool is found by absolute path (the repository's scripts/uv): no PATH set by hand.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const web = join(root, "web");
// The repository's uv wrapper (it installs uv into .local/tools when the machine has none):
// a bare `uv` is not on PATH on a fresh machine or CI.
export const UV = join(root, "scripts", "uv");
export const STARTUP_S = Number(process.env.E2E_STARTUP_S ?? 180);

export const log = (...a: unknown[]): void => console.log(`[e2e ${new Date().toISOString().slice(11, 19)}]`, ...a);

function listenOn(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(null));
    s.listen(port, "127.0.0.1", () => {
      const { port: got } = s.address() as AddressInfo;
      s.close(() => resolve(got));
    });
  });
}

/**
 * A port free now, below the kernel's ephemeral range (as strikeboard.devservices.free_port):
 * a port the kernel hands out for `listen(0)` can become the source port of any outgoing
 * connection before the stack binds it, which a busy machine (parallel tests) does.
 */
export async function freePort(): Promise<number> {
  let floor = 32768;
  try {
    floor = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").split(/\s+/)[0]) || floor;
  } catch {
    // not Linux: the default floor
  }
  for (let i = 0; i < 100; i++) {
    const port = await listenOn(20000 + Math.floor(Math.random() * Math.max(1, floor - 20000)));
    if (port !== null) return port;
  }
  const port = await listenOn(0);
  if (port === null) throw new Error("no free port");
  return port;
}

/** The stack's own lines (not the children's access and JSON logs), for error messages. */
export function summary(output: string): string {
  return output
    .split("\n")
    .filter((l) => l.trim() && !/^(INFO|DEBUG|WARNING):|^\{/.test(l))
    .slice(-30)
    .map((l) => l.slice(0, 200))
    .join("\n");
}

/** Whether anything answers HTTP at `url` (any status). */
async function answers(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(5000) });
    return true;
  } catch {
    return false;
  }
}

/** Signals a process group, which may be gone already. */
function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** A running `strikeboard dev`: its process group, gateway URL and token. */
export class Stack {
  url = "";
  output = "";
  private proc: ChildProcess | null = null;

  /** `env`: extra variables for the stack (e.g. COGNITO_* for the sign-in test). */
  constructor(
    readonly port: number,
    public token: string,
    readonly env: Record<string, string> = {},
  ) {}

  async start(): Promise<string> {
    const argv = ["run", "--frozen", "strikeboard", "dev", "--speed", "10", "--local-dir", ".local/e2e", "--port", String(this.port)];
    log(`starting: ${UV} ${argv.join(" ")}`);
    this.output = "";
    const proc = spawn(UV, argv, {
      cwd: root,
      env: { ...process.env, ...this.env, DEV_TOKEN: this.token, PYTHONUNBUFFERED: "1" },
      detached: true, // its own process group, so the whole stack stops with it
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc = proc;
    const ended: { error: Error | null } = { error: null };
    proc.once("exit", (code) => (ended.error = new Error(`strikeboard dev exited with ${code}:\n${summary(this.output)}`)));
    proc.stdout!.on("data", (d: Buffer) => (this.output += d.toString()));
    proc.stderr!.on("data", (d: Buffer) => (this.output += d.toString()));
    const deadline = Date.now() + STARTUP_S * 1000;
    try {
      for (;;) {
        if (ended.error) throw ended.error;
        if (Date.now() > deadline) {
          throw new Error(`no gateway URL printed and answering within ${STARTUP_S} s (is the gateway part of strikeboard dev?); output:\n${summary(this.output)}`);
        }
        const url = this.printedUrl();
        // The gateway prints its URL as it starts, before it listens: wait until it answers.
        if (url && (await answers(url))) {
          this.url = url;
          break;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    } catch (err) {
      await this.stop(); // a stack that did not come up in time may still be starting
      throw err;
    }
    // A printed token (`#token=...` or a "dev token" line) wins over the one we set; other
    // "token" strings in the children's logs (Kite's access_token) do not count.
    const tok = /[?&#]token=([A-Za-z0-9._~-]{8,})/.exec(this.output) ?? /dev[ _-]?token\W+([A-Za-z0-9._~-]{8,})/i.exec(this.output);
    if (tok?.[1]) this.token = tok[1];
    log(`stack up at ${this.url}`);
    return this.url;
  }

  /** The gateway's URL from the output: a line naming it (not the simulator's or Kite's). */
  private printedUrl(): string | null {
    for (const line of this.output.split("\n")) {
      const url = /(https?:\/\/(?:127\.0\.0\.1|localhost|0\.0\.0\.0):\d+)/.exec(line);
      if (url?.[1] && /gateway|dashboard|open|web|spa|browser/i.test(line) && !/simulator|kite/i.test(line)) return url[1].replace("0.0.0.0", "127.0.0.1");
    }
    return null;
  }

  /** SIGINT to the group (the supervisor stops its children in order), SIGKILL after 40 s. */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc?.pid || proc.exitCode !== null || proc.signalCode !== null) return;
    const pid = proc.pid;
    const done = new Promise((r) => proc.once("exit", r));
    killGroup(pid, "SIGINT");
    const timer = setTimeout(() => killGroup(pid, "SIGKILL"), 40_000);
    await done;
    clearTimeout(timer);
  }
}

/** The OAuth stand-in (tests/e2e/oauth_standin.py) as a child process group. */
export class OAuthStandin {
  url = "";
  private proc: ChildProcess | null = null;

  constructor(
    readonly options: { clientId: string; accessTtlS: number; spaOrigin: string },
  ) {}

  /** Resolves with the base URL once it listens. */
  async start(): Promise<string> {
    const { clientId, accessTtlS, spaOrigin } = this.options;
    const argv = [
      "run", "--frozen", "python", join(root, "tests", "e2e", "oauth_standin.py"),
      "--port", "0", "--client-id", clientId, "--access-ttl", String(accessTtlS),
      "--redirect-uri", `${spaOrigin}/auth/callback`, "--logout-uri", `${spaOrigin}/`, "--group", "admin",
    ];
    const proc = spawn(UV, argv, { cwd: root, stdio: ["ignore", "pipe", "pipe"], detached: true });
    this.proc = proc;
    let output = "";
    let timer: NodeJS.Timeout | undefined;
    try {
      this.url = await new Promise<string>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`the OAuth stand-in did not start:\n${output}`)), 60_000);
        const onData = (d: Buffer): void => {
          output += d.toString();
          const m = /listening on (http:\/\/\S+)/.exec(output);
          if (m?.[1]) resolve(m[1]);
        };
        proc.stdout.on("data", onData);
        proc.stderr.on("data", onData);
        proc.once("exit", (code) => reject(new Error(`the OAuth stand-in exited with ${code}:\n${output}`)));
      });
    } catch (err) {
      this.stop();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    log(`OAuth stand-in at ${this.url}`);
    return this.url;
  }

  stop(): void {
    if (this.proc?.pid && this.proc.exitCode === null) killGroup(this.proc.pid, "SIGTERM");
  }

  /** The grants served so far (and sign-outs), from its `/_standin/log`. */
  async grants(): Promise<{ grant_type?: string; status?: number; logout?: boolean; at: number }[]> {
    const res = await fetch(`${this.url}/_standin/log`);
    if (!res.ok) throw new Error(`GET /_standin/log: ${res.status}`);
    return (await res.json()) as { grant_type?: string; status?: number; logout?: boolean; at: number }[];
  }
}
