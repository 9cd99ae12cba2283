/** One figure of the chain header: a small label over its value. */
export interface StatProps {
  label: string;
  value: string;
  title?: string;
  wide?: boolean;
  /** The header's days to expiry (the e2e test compares it with the tab's). */
  dte?: boolean;
}

export function Stat({ label, value, title, wide, dte }: StatProps) {
  return (
    <div className={wide ? "stat wide" : "stat"} title={title} {...(dte ? { "data-dte": value } : {})}>
      <span>{label}</span>
      <b>{value}</b>
    </div>
  );
}
