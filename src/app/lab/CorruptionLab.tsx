/** The lab's "Corruption exercise" tab. */
export function CorruptionLab() {
  return <p className="muted">Corruption exercise</p>;
}
