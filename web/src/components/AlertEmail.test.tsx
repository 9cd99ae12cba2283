import { act, cleanup, fireEvent, render } from "@testing-library/react";
import { Provider } from "react-redux";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { AlertEmail } from "../alerts/types";
import { makeStore } from "../store";
import { AlertEmailSection } from "./AlertEmail";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

/** /api/alerts/email at the network boundary: the state as the test sets it (the server's feed moving it on), and what was sent. */
function serve(start: AlertEmail, put: (body: { address: string | null }) => [number, unknown]) {
  let current = start;
  const sent: { method: string; body: unknown }[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (req: Request) => {
      const body = req.method === "PUT" ? await req.clone().json() : null;
      sent.push({ method: req.method, body });
      const json = (data: unknown, status = 200) =>
        new Response(JSON.stringify(data), { status, headers: { "content-type": "application/json" } });
      if (req.method === "PUT") {
        const [status, answer] = put(body as { address: string | null });
        if (status < 300) current = answer as AlertEmail;
        return json(answer, status);
      }
      if (req.method === "DELETE") {
        current = { ...current, state: "none", address: null };
        return new Response(null, { status: 204 });
      }
      return json(current);
    }),
  );
  return { sent, set: (next: AlertEmail) => (current = next) };
}

function section(email = true) {
  return render(
    <Provider store={makeStore()}>
      <AlertEmailSection email={email} pollMs={20} />
    </Provider>,
  );
}

const NONE: AlertEmail = { state: "none", address: null, token_address: "ana@example.com" };

describe("the alerts panel's e-mail section", () => {
  it("is not there where the deployment e-mails no alerts", () => {
    const api = serve(NONE, () => [500, null]);
    expect(section(false).container.innerHTML).toBe("");
    expect(api.sent).toEqual([]);
  });

  it("subscribes the token's address, polls while the server subscribes and SNS waits for the link, then unsubscribes", async () => {
    const api = serve(NONE, (body) => [202, { state: "requested", address: body.address, token_address: "ana@example.com" }]);
    const view = section();
    const input = (await vi.waitFor(() => view.getByLabelText("e-mail address"))) as HTMLInputElement;
    await vi.waitFor(() => expect(input.value).toBe("ana@example.com"));
    act(() => void fireEvent.submit(input.closest("form")!));
    await vi.waitFor(() => expect(view.getByRole("status").textContent).toContain("Subscribing… (ana@example.com)"));
    expect(api.sent.filter((r) => r.method === "PUT").map((r) => r.body)).toEqual([{ address: "ana@example.com" }]);
    // The feed subscribed it: the section finds out by itself (polling), no click.
    api.set({ state: "pending", address: "a***@example.com", token_address: "ana@example.com" });
    await vi.waitFor(() => expect(view.getByRole("status").textContent).toContain("Check your inbox (a***@example.com) to confirm"));
    // Confirmed from the mail's link: polled again; then the polling stops.
    api.set({ state: "confirmed", address: "a***@example.com", token_address: "ana@example.com" });
    await vi.waitFor(() => expect(view.container.textContent).toContain("Alerts marked e-mail go to a***@example.com."));
    expect(view.queryByRole("status")).toBeNull();
    const gets = api.sent.filter((r) => r.method === "GET").length;
    await new Promise((resolve) => setTimeout(resolve, 100)); // five polling intervals
    expect(api.sent.filter((r) => r.method === "GET").length).toBe(gets);
    act(() => (view.getByText("Unsubscribe") as HTMLButtonElement).click());
    await vi.waitFor(() => expect(view.getByLabelText("e-mail address")).toBeTruthy());
    expect(api.sent.filter((r) => r.method === "DELETE")).toHaveLength(1);
  });

  it("says why SNS refused the address", async () => {
    serve({ ...NONE, problem: "SNS has this address subscribed with another filter (another account's, or an operator's)" }, () => [500, null]);
    const view = section();
    await vi.waitFor(() => expect(view.getByRole("alert").textContent).toContain("another filter"));
    expect(view.getByLabelText("e-mail address")).toBeTruthy();
  });

  it("sends the typed address and shows the API's reason when it refuses it", async () => {
    const api = serve({ ...NONE, token_address: null }, () => [422, { detail: "body: Value error, not an e-mail address (name@example.com)" }]);
    const view = section();
    const input = (await vi.waitFor(() => view.getByLabelText("e-mail address"))) as HTMLInputElement;
    await vi.waitFor(() => expect((view.getByText("Subscribe") as HTMLButtonElement).disabled).toBe(true)); // nothing typed
    act(() => void fireEvent.change(input, { target: { value: " desk@example" } }));
    act(() => void fireEvent.submit(input.closest("form")!));
    await vi.waitFor(() => expect(view.getByRole("alert").textContent).toContain("not an e-mail address"));
    expect(api.sent.filter((r) => r.method === "PUT").map((r) => r.body)).toEqual([{ address: "desk@example" }]);
  });
});
