/**
 * Release ranges of the libraries an option belongs to, as "major.minor" strings ("0.28", "1.9"), or a
 * bare major ("4") for a whole release line. `since` is the first release that has the option, `until`
 * the last; both are inclusive and either may be absent (no lower or upper bound).
 */
export interface VersionRange {
  since?: string;
  until?: string;
}

function parts(version: string): number[] {
  const nums = version.split('.').map(Number);
  if (nums.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new Error(`version must look like "major[.minor[.patch]]", got "${version}"`);
  }
  return nums;
}

/**
 * Negative, zero or positive as a is older than, in the same release line as, or newer than b. Compares
 * major.minor; a bare major is the whole line ("4" matches "4.57").
 */
export function compareVersions(a: string, b: string): number {
  const [pa, pb] = [parts(a), parts(b)];
  return pa[0] - pb[0] || (pa.length > 1 && pb.length > 1 ? pa[1] - pb[1] : 0);
}

/** True when `version` lies in the range. */
export function inVersionRange(range: VersionRange, version: string): boolean {
  if (range.since !== undefined && compareVersions(version, range.since) < 0) return false;
  if (range.until !== undefined && compareVersions(version, range.until) > 0) return false;
  return true;
}

/** The release line after `until`, where an option stopped existing: "0.28" → "0.29". */
export function firstReleaseWithout(until: string): string {
  const [major, minor] = parts(until);
  return minor === undefined ? `${major + 1}` : `${major}.${minor + 1}`;
}
