/**
 * A minute in IST, typed "dd-mm-yyyy HH:MM" (24-hour), stepped a minute at a time with ↑/↓ or
 * the ‹ › buttons (Shift: an hour). Not the browser's picker, which follows the browser's
 * locale and zone (mm/dd/yyyy, AM/PM) and has no minute steps.
 */
import type { KeyboardEvent } from "react";
import { parseIstMinute, stepIstMinute } from "../minute";

interface MinuteInputProps {
  value: string;
  onChange: (text: string) => void;
  /** The latest minute allowed (ms): the market's now. */
  max: number;
  label: string;
}

export function MinuteInput({ value, onChange, max, label }: MinuteInputProps) {
  const iso = parseIstMinute(value);
  const late = iso !== null && Date.parse(iso) > max;
  const invalid = value !== "" && (iso === null || late);
  const step = (minutes: number) => onChange(stepIstMinute(value, minutes, max));
  const onKey = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key !== "ArrowUp" && e.key !== "ArrowDown") return;
    e.preventDefault();
    step((e.key === "ArrowUp" ? 1 : -1) * (e.shiftKey ? 60 : 1));
  };
  return (
    <span className="minute-input">
      <button type="button" className="step" aria-label="a minute earlier" title="A minute earlier (↓; Shift: an hour)" onClick={() => step(-1)} disabled={!iso}>
        ‹
      </button>
      <input
        type="text"
        inputMode="numeric"
        aria-label={label}
        aria-invalid={invalid}
        placeholder="dd-mm-yyyy hh:mm"
        title={late ? "That minute is still to come" : "IST, 24-hour: dd-mm-yyyy hh:mm; ↑/↓ steps a minute"}
        size={16}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        onKeyDown={onKey}
      />
      <button type="button" className="step" aria-label="a minute later" title="A minute later (↑; Shift: an hour)" onClick={() => step(1)} disabled={!iso}>
        ›
      </button>
      <span className="zone">IST</span>
    </span>
  );
}
