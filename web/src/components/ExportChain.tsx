/**
 * The header's CSV button: the chain on screen (expiry, minute in history mode, IV convention)
 * from GET /api/export/chain.csv, saved as a file. Fetched with the session's token (a plain
 * link would carry none), then handed to the browser as a download.
 */
import { useState } from "react";
import { authFetch } from "../auth";
import { atParam } from "../store/view";
import { useAppDispatch, useAppSelector } from "../hooks";
import { toastAdded } from "../store/uiSlice";
import "./Export.css";

export function exportChainPath(q: { expiry: string; underlying: string; at: string | null; convention: string }): string {
  const params = new URLSearchParams({ expiry: q.expiry, underlying: q.underlying, convention: q.convention });
  const at = q.at ? atParam(q.at) : null;
  if (at) params.set("at", at);
  return `/api/export/chain.csv?${params.toString()}`;
}

function fileName(res: Response, fallback: string): string {
  const m = /filename="([^"]+)"/.exec(res.headers.get("content-disposition") ?? "");
  return m?.[1] ?? fallback;
}

export function ExportChain() {
  const dispatch = useAppDispatch();
  const expiry = useAppSelector((s) => s.chain.expiry);
  const underlying = useAppSelector((s) => s.ui.underlying);
  const at = useAppSelector((s) => s.ui.at);
  const convention = useAppSelector((s) => s.prefs.convention);
  const [busy, setBusy] = useState(false);
  const download = async () => {
    if (!expiry) return;
    setBusy(true);
    try {
      const res = await authFetch(exportChainPath({ expiry, underlying, at, convention }));
      if (!res.ok) {
        const body = (await res.json().catch(() => ({}))) as { detail?: unknown };
        throw new Error(typeof body.detail === "string" ? body.detail : `HTTP ${res.status}`);
      }
      const url = URL.createObjectURL(await res.blob());
      const a = document.createElement("a");
      a.href = url;
      a.download = fileName(res, `${underlying}-${expiry}.csv`);
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      dispatch(toastAdded({ kind: "error", text: `CSV export failed: ${(err as Error).message}` }));
    } finally {
      setBusy(false);
    }
  };
  return (
    <button
      className="icon export-csv"
      onClick={() => void download()}
      disabled={!expiry || busy}
      title="Download the chain on screen as CSV"
      aria-label="download chain CSV"
    >
      CSV
    </button>
  );
}
