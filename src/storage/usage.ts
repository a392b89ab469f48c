/** How much of this origin's storage quota is used, and keeping it from eviction. */

/** Bytes used and allowed, or null where the browser does not say (navigator.storage.estimate). */
export async function storageUsage(): Promise<{ usage: number; quota: number } | null> {
  const storage = typeof navigator === 'undefined' ? undefined : navigator.storage;
  if (typeof storage?.estimate !== 'function') return null;
  const { usage, quota } = await storage.estimate();
  if (usage === undefined || quota === undefined) return null;
  return { usage, quota };
}

/**
 * Asks the browser not to evict this origin's data under storage pressure (best-effort storage is
 * the default). Page only: Workers have no navigator.storage.persist. Resolves whether it is granted.
 */
export async function requestPersistentStorage(): Promise<boolean> {
  const storage = typeof navigator === 'undefined' ? undefined : navigator.storage;
  if (typeof storage?.persist !== 'function') return false;
  return storage.persisted().then((already) => already || storage.persist());
}
