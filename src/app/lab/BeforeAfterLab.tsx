/** The lab's "Before / after" tab. */
export function BeforeAfterLab() {
  return <p className="muted">Before / after</p>;
}
