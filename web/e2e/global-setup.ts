import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { log, web } from "./stack";

/** The gateway serves web/dist: build it when missing (tests/e2e/test_web.py builds it first). */
export default function globalSetup(): void {
  if (existsSync(join(web, "dist", "index.html"))) return;
  log("building the SPA (web/dist is missing)");
  // Vite by path, with this Node: no PATH needed.
  const built = spawnSync(process.execPath, [join(web, "node_modules", "vite", "bin", "vite.js"), "build", "--logLevel", "warn"], { cwd: web, stdio: "inherit" });
  if (built.status !== 0) throw new Error(`vite build exited with ${built.status}`);
}
