interface Props {
  label: string;
  /** In [0, 1]; null draws an indeterminate bar. */
  fraction: number | null;
}

export function ProgressBar({ label, fraction }: Props) {
  const pct = fraction === null ? null : Math.round(Math.min(1, Math.max(0, fraction)) * 100);
  return (
    <div
      className={`progress${pct === null ? ' indeterminate' : ''}`}
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={pct ?? undefined}
    >
      <div className="progress-fill" style={pct === null ? undefined : { width: `${pct}%` }} />
    </div>
  );
}

/** A labelled progress line for loading work. */
export function BusyLine({ label, fraction }: Props) {
  return (
    <div className="busy">
      <span className="busy-label">{label}</span>
      <ProgressBar label={label} fraction={fraction} />
    </div>
  );
}
