/** The lab's "Make pairs" tab. */
export function MakePairsLab() {
  return <p className="muted">Make pairs</p>;
}
