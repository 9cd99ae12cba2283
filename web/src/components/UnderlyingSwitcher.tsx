/** The underlying on screen, chosen among those the deployment follows (GET /api/underlyings). */
import { useAppDispatch, useAppSelector } from "../hooks";
import { underlyingSelected } from "../store/uiSlice";
import type { UnderlyingInfo } from "../types";

/** Nothing when the deployment follows one underlying: the header stays as it was. */
export function UnderlyingSwitcher({ underlyings }: { underlyings: UnderlyingInfo[] }) {
  const dispatch = useAppDispatch();
  const current = useAppSelector((s) => s.ui.underlying);
  if (underlyings.length < 2) return null;
  // A linked underlying the deployment does not follow stays listed, so the select shows it.
  const names = underlyings.map((u) => u.name);
  if (!names.includes(current)) names.unshift(current);
  return (
    <select
      className="underlying"
      aria-label="underlying"
      title="Underlying"
      value={current}
      onChange={(e) => dispatch(underlyingSelected(e.target.value))}
    >
      {names.map((name) => (
        <option key={name} value={name}>
          {name}
        </option>
      ))}
    </select>
  );
}
