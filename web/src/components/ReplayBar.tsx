/**
 * History mode's replay controls, under the banners: a minute back, play or pause, a minute
 * forward, the speed (1x: an archived minute per real minute, 60x: one a second) and the minute
 * on screen. The timer is the store's (store/replaySlice.ts); here are only its buttons.
 */
import { istDay, istTime } from "../clock";
import { useAppDispatch, useAppSelector, useMarketNow } from "../hooks";
import { replayPaused, replayPlayed, replaySpeedChanged, shiftMinute, SPEEDS, type ReplayStop } from "../store/replaySlice";
import { viewApplied } from "../store/view";
import "./Replay.css";

const STOPPED: Record<ReplayStop, string> = {
  "session-end": "Stopped at the session's end (15:30 IST).",
  "last-minute": "Stopped at the last archived minute.",
};

// Drawn, not characters: the media-control glyphs are missing from many fonts.
function Icon({ d }: { d: string }) {
  return (
    <svg viewBox="0 0 16 16" width="12" height="12" aria-hidden="true">
      <path d={d} fill="currentColor" stroke="currentColor" strokeWidth="1.5" strokeLinejoin="round" />
    </svg>
  );
}

export function ReplayBar() {
  const at = useAppSelector((s) => s.ui.at);
  if (!at) return null;
  return <ReplayControls at={at} />;
}

function ReplayControls({ at }: { at: string }) {
  const dispatch = useAppDispatch();
  const { playing, speed, stopped } = useAppSelector((s) => s.replay);
  const now = useMarketNow(10_000);
  const later = shiftMinute(at, 1);
  // A step replaces the address's minute, as the timer's steps do: no history entry a minute.
  const go = (minute: string) => dispatch(viewApplied({ at: minute }));
  return (
    <div className="replay" role="group" aria-label="replay" data-playing={playing ? "1" : "0"}>
      <span className="replay-label">Replay</span>
      <button type="button" onClick={() => go(shiftMinute(at, -1))} aria-label="a minute back" title="A minute back (,)">
        <Icon d="M4 3v10M13 3 6 8l7 5z" />
      </button>
      <button
        type="button"
        className="replay-play"
        onClick={() => dispatch(playing ? replayPaused() : replayPlayed())}
        aria-label={playing ? "pause" : "play"}
        aria-pressed={playing}
        title={playing ? "Pause the replay (Space)" : "Play this day from this minute (Space)"}
      >
        <Icon d={playing ? "M4 3h3v10H4zM9 3h3v10H9z" : "M4 2.5v11L13 8z"} />
      </button>
      <button type="button" onClick={() => go(later)} disabled={Date.parse(later) > now} aria-label="a minute forward" title="A minute forward (.)">
        <Icon d="M12 3v10M3 3l7 5-7 5z" />
      </button>
      <span className="replay-speeds" role="group" aria-label="replay speed">
        {SPEEDS.map((x) => (
          <button
            key={x}
            type="button"
            aria-pressed={speed === x}
            onClick={() => dispatch(replaySpeedChanged(x))}
            title={x === 1 ? "A minute per minute" : x === 60 ? "A minute per second" : `${x} minutes per minute`}
          >
            {x}x
          </button>
        ))}
      </span>
      <output className="replay-minute" data-at={at} aria-live="off">
        {istDay(at)} {istTime(at)} IST
      </output>
      {stopped && !playing ? (
        <span className="replay-stopped" role="status" data-stopped={stopped}>
          {STOPPED[stopped]}
        </span>
      ) : null}
    </div>
  );
}
