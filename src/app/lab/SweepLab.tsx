/** The lab's "Sweep" tab. */
export function SweepLab() {
  return <p className="muted">Sweep</p>;
}
