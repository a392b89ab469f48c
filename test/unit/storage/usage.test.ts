import { afterEach, describe, expect, it, vi } from 'vitest';
import { requestPersistentStorage, storageUsage } from '../../../src/storage';

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('storageUsage', () => {
  it('reports navigator.storage.estimate', async () => {
    vi.stubGlobal('navigator', { storage: { estimate: async () => ({ usage: 1234, quota: 10_000 }) } });
    expect(await storageUsage()).toEqual({ usage: 1234, quota: 10_000 });
  });

  it('is null where the browser cannot say', async () => {
    vi.stubGlobal('navigator', undefined);
    expect(await storageUsage()).toBeNull();
    vi.stubGlobal('navigator', {});
    expect(await storageUsage()).toBeNull();
    vi.stubGlobal('navigator', { storage: { estimate: async () => ({}) } });
    expect(await storageUsage()).toBeNull();
  });
});

describe('requestPersistentStorage', () => {
  it('asks only when not already persisted, and reports the answer', async () => {
    const persist = vi.fn(async () => true);
    vi.stubGlobal('navigator', { storage: { persisted: async () => false, persist } });
    expect(await requestPersistentStorage()).toBe(true);
    expect(persist).toHaveBeenCalledOnce();
    vi.stubGlobal('navigator', { storage: { persisted: async () => true, persist } });
    expect(await requestPersistentStorage()).toBe(true);
    expect(persist).toHaveBeenCalledOnce();
    vi.stubGlobal('navigator', {});
    expect(await requestPersistentStorage()).toBe(false);
  });
});
