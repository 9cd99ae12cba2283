import { act, renderHook } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { useThrottled } from "./hooks";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("useThrottled", () => {
  it("passes the latest value at most once per period, even under a steady stream", () => {
    const { result, rerender } = renderHook(({ v }) => useThrottled(v, 1000), { initialProps: { v: 0 } });
    act(() => vi.advanceTimersByTime(0));
    for (let v = 1; v <= 8; v += 1) {
      rerender({ v });
      act(() => vi.advanceTimersByTime(250));
    }
    // 2 s of changes every 250 ms: the value moved, but not to every intermediate one.
    expect(result.current).toBeGreaterThanOrEqual(4);
    act(() => vi.advanceTimersByTime(1000));
    expect(result.current).toBe(8);
  });
});
