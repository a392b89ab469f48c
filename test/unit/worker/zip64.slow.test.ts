import { openAsBlob, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { zipStream } from '../../../src/worker/zip';

// An export past 4 GiB (a merged model of a 1B model in float32 is about 5 GB) needs Zip64 records.
// The entry is a sparse file, so the test holds neither it nor the archive in memory or on disk.

const SIZE = 2 ** 32 + 123_456;
const dir = mkdtempSync(join(tmpdir(), 'zip64-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The CRC-32 of n zero bytes. */
function zerosCrc(n: number): number {
  const chunk = new Uint8Array(64 << 20);
  let crc = 0;
  for (let left = n; left > 0; left -= chunk.length) crc = crc32(chunk.subarray(0, Math.min(left, chunk.length)), crc);
  return crc;
}

describe('zipStream past 4 GiB', () => {
  it('writes Zip64 records: the entry keeps its 64-bit size, offset and CRC, and the archive ends with a Zip64 directory', async () => {
    const big = join(dir, 'model.safetensors');
    writeFileSync(big, '');
    truncateSync(big, SIZE);
    const files = new Map<string, Blob | string>([
      ['config.json', '{}\n'],
      ['model.safetensors', await openAsBlob(big)],
      ['tokenizer.json', '{"after": "the big entry"}'],
    ]);
    let total = 0;
    let tail = new Uint8Array(0);
    const reader = zipStream(files).getReader();
    for (let next = await reader.read(); !next.done; next = await reader.read()) {
      const chunk = next.value;
      total += chunk.length;
      const joined = new Uint8Array(tail.length + chunk.length);
      joined.set(tail);
      joined.set(chunk, tail.length);
      tail = joined.subarray(Math.max(0, joined.length - 4096));
    }
    expect(total).toBeGreaterThan(SIZE);
    const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
    const find = (signature: number) => {
      for (let i = tail.length - 4; i >= 0; i--) if (view.getUint32(i, true) === signature) return i;
      return -1;
    };
    // End of central directory → Zip64 locator → Zip64 end record, which places the central directory.
    const eocd = find(0x06054b50);
    const locator = find(0x07064b50);
    expect(eocd).toBeGreaterThan(locator);
    expect(locator).toBeGreaterThan(0);
    const record64At = Number(view.getBigUint64(locator + 8, true)) - (total - tail.length);
    expect(view.getUint32(record64At, true)).toBe(0x06064b50);
    expect(Number(view.getBigUint64(record64At + 32, true))).toBe(3); // entries
    const directorySize = Number(view.getBigUint64(record64At + 40, true));
    const directoryAt = Number(view.getBigUint64(record64At + 48, true)) - (total - tail.length);
    expect(directoryAt + directorySize).toBe(record64At);

    // The central directory's entries, with the big one's sizes in its Zip64 extra field.
    const decoder = new TextDecoder();
    const entries = new Map<string, { crc: number; size: number }>();
    for (let p = directoryAt; p < directoryAt + directorySize;) {
      expect(view.getUint32(p, true)).toBe(0x02014b50);
      const nameLength = view.getUint16(p + 28, true);
      const extraLength = view.getUint16(p + 30, true);
      const commentLength = view.getUint16(p + 32, true);
      const name = decoder.decode(tail.subarray(p + 46, p + 46 + nameLength));
      let size = view.getUint32(p + 24, true);
      for (let e = p + 46 + nameLength; e < p + 46 + nameLength + extraLength; e += 4 + view.getUint16(e + 2, true)) {
        if (view.getUint16(e, true) === 0x0001 && size === 0xffffffff) size = Number(view.getBigUint64(e + 4, true));
      }
      entries.set(name, { crc: view.getUint32(p + 16, true), size });
      p += 46 + nameLength + extraLength + commentLength;
    }
    expect([...entries.keys()]).toEqual([...files.keys()]);
    expect(entries.get('model.safetensors')).toEqual({ crc: zerosCrc(SIZE), size: SIZE });
    expect(entries.get('tokenizer.json')!.crc).toBe(crc32('{"after": "the big entry"}'));
  }, 600_000);
});
