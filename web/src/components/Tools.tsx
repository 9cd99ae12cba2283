/**
 * The trader tools' panel, over the charts' side: a strike's drill-down, OI of chosen strikes
 * through the day, and the volatility surface with the term structure. Each follows the view
 * (live, or the history minute) as the other charts do.
 */
import { useAppDispatch, useAppSelector } from "../hooks";
import { toolOpened, TOOLS, type Tool } from "../store/toolsSlice";
import { DrillDown } from "./DrillDown";
import { OiWatch } from "./OiWatch";
import { SurfaceView } from "./SurfaceView";
import "./Tools.css";

const NAMES: Record<Tool, string> = { strike: "Strike", oi: "OI by strike", surface: "Surface" };

export function Tools({ theme }: { theme: string }) {
  const dispatch = useAppDispatch();
  const open = useAppSelector((s) => s.tools.open);
  const strike = useAppSelector((s) => s.tools.strike);
  const selected = useAppSelector((s) => s.ui.selectedStrike);
  if (!open) {
    return (
      <button type="button" className="tools-tab" onClick={() => dispatch(toolOpened(strike !== null ? "strike" : "oi"))} aria-label="trader tools">
        Tools
      </button>
    );
  }
  return (
    <section className="tools panel" aria-label="trader tools">
      <header>
        <div className="switch" role="tablist" aria-label="tool">
          {TOOLS.map((t) => (
            <button key={t} type="button" role="tab" aria-selected={open === t} className={open === t ? "active" : ""} onClick={() => dispatch(toolOpened(t))}>
              {NAMES[t]}
            </button>
          ))}
        </div>
        <button type="button" className="icon" aria-label="close trader tools" onClick={() => dispatch(toolOpened(null))}>
          ×
        </button>
      </header>
      {open === "strike" ? (
        strike !== null ? (
          <DrillDown key={strike} strike={strike} theme={theme} />
        ) : (
          <p className="hint">
            Click a strike in the chain (or select one with ↑ ↓ and press Enter){selected !== null ? `; ${selected} is selected` : ""}.
          </p>
        )
      ) : null}
      {open === "oi" ? <OiWatch theme={theme} /> : null}
      {open === "surface" ? <SurfaceView theme={theme} /> : null}
    </section>
  );
}
