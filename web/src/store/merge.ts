/**
 * The delta merge rules of strikeboard/store/snapshot.py, in TypeScript (pure).
 *
 * `unset` paths are removed first, then `set` is merged recursively: a plain object in `set`
 * whose old value is a plain object is merged into it, anything else replaces it.
 */
import type { JsonObject, Path } from "../types";

export function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Merge `set` into `target` in place (works on Immer drafts too). */
export function mergeInto(target: JsonObject, set: JsonObject): void {
  for (const [key, value] of Object.entries(set)) {
    const before = target[key];
    if (isPlainObject(value) && isPlainObject(before)) {
      mergeInto(before, value);
    } else {
      target[key] = structuredCloneJson(value);
    }
  }
}

/** Remove one path from `target` in place; a missing path is not an error. */
export function unsetPath(target: JsonObject, path: Path): void {
  let node: unknown = target;
  for (let i = 0; i < path.length - 1; i += 1) {
    if (!isPlainObject(node)) return;
    node = node[path[i]!];
  }
  const last = path[path.length - 1];
  // Removing a key named by the delta is the point of `unset`.
  // eslint-disable-next-line @typescript-eslint/no-dynamic-delete
  if (isPlainObject(node) && last !== undefined) delete node[last];
}

/** A new document: `doc` with the delta applied (the inputs are not modified). */
export function applyDelta<T extends JsonObject>(doc: T, set?: JsonObject, unset?: Path[]): T {
  const out = structuredCloneJson(doc);
  for (const path of unset ?? []) unsetPath(out, path);
  if (set) mergeInto(out, set);
  return out;
}

function structuredCloneJson<T>(value: T): T {
  if (value === null || typeof value !== "object") return value;
  return JSON.parse(JSON.stringify(value)) as T;
}

/** `base` with `set` merged, as a new object sharing every untouched branch (immutable). */
export function mergedCopy(base: JsonObject, set: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [key, value] of Object.entries(set)) {
    const before = base[key];
    out[key] = isPlainObject(value) && isPlainObject(before) ? mergedCopy(before, value) : value;
  }
  return out;
}

/** `base` without `path`, copying only the objects along the path (immutable). */
export function withoutPath(base: JsonObject, path: Path): JsonObject {
  const [head, ...rest] = path;
  if (head === undefined || !(head in base)) return base;
  const out: JsonObject = { ...base };
  if (rest.length === 0) {
    // eslint-disable-next-line @typescript-eslint/no-dynamic-delete
    delete out[head];
    return out;
  }
  const child = base[head];
  if (!isPlainObject(child)) return base;
  out[head] = withoutPath(child, rest);
  return out;
}
