/**
 * Readable motion: a changed value flashes only its changed digits, at most once a second per
 * cell, and not at all when the preference is off.
 *
 * Flashes are DOM work outside React (a class on, then off in one batched sweep): a delta can
 * change a thousand cells, and re-rendering or animating them would restyle every frame. The
 * value's element holds a single string child, which React rewrites whole on its next update,
 * so splitting it here into "kept" text and a marked changed part never confuses React.
 */

/** How long a flash stays on (ms). */
export const FLASH_MS = 600;
/** A cell flashes at most once in this long (ms): a value ticking 4 times a second blinks once. */
export const FLASH_EVERY_MS = 1000;

const flashing = new Map<HTMLElement, number>();
const lastFlash = new WeakMap<HTMLElement, number>();
let sweep: ReturnType<typeof setTimeout> | null = null;
let enabled = true;

/**
 * `next` split into the text it shares with `prev` from the left and the changed rest
 * ("1,234.50" -> "1,236.00": ["1,23", "6.00"]). Values of another length change whole.
 */
export function changedDigits(prev: string, next: string): [string, string] {
  if (prev.length !== next.length) return ["", next];
  let i = 0;
  while (i < next.length && prev[i] === next[i]) i += 1;
  return [next.slice(0, i), next.slice(i)];
}

function sweepFlashes(): void {
  sweep = null;
  const now = performance.now();
  let next = Infinity;
  for (const [el, until] of flashing) {
    if (until <= now) {
      el.classList.remove("fu", "fd");
      flashing.delete(el);
    } else next = Math.min(next, until);
  }
  if (next < Infinity) sweep = setTimeout(sweepFlashes, next - now + 5);
}

/** The preference (prefs.flash): off also ends the flashes on screen. */
export function setFlashEnabled(on: boolean): void {
  enabled = on;
  if (on) return;
  for (const el of flashing.keys()) el.classList.remove("fu", "fd");
  flashing.clear();
}

/**
 * Flash the digits of `el` (showing `next`, formerly `prev`) that changed, green when `up`.
 * Returns whether it flashed: not when off, when nothing visible changed, or when this element
 * flashed less than `FLASH_EVERY_MS` ago.
 */
export function flashDigits(el: HTMLElement, prev: string, next: string, up: boolean, now = performance.now()): boolean {
  if (!enabled) return false;
  const last = lastFlash.get(el);
  if (last !== undefined && now - last < FLASH_EVERY_MS) return false;
  const [kept, changed] = changedDigits(prev, next);
  if (!changed) return false;
  lastFlash.set(el, now);
  const mark = document.createElement("b");
  mark.className = `fx ${up ? "fu" : "fd"}`;
  mark.textContent = changed;
  el.textContent = kept;
  el.append(mark);
  flashing.set(mark, now + FLASH_MS);
  sweep ??= setTimeout(sweepFlashes, FLASH_MS + 5);
  return true;
}
