import { describe, expect, it } from 'vitest';
import { zipArchive, unzipFiles } from '../../../src/worker/zip';

describe('zipArchive', () => {
  it('writes entries that read back whole, under their UTF-8 names, and the same files give the same bytes', async () => {
    const weights = new Uint8Array(100_000).map((_, i) => (i * 7919) % 251);
    const files = new Map<string, Uint8Array | string>([
      ['adapter_config.json', '{"r": 8}\n'],
      ['adapter_model.safetensors', weights],
      ['modèle/empty.txt', ''],
    ]);
    const archive = new Uint8Array(await (await zipArchive(files)).arrayBuffer());
    const back = await unzipFiles(archive, 'export.zip');
    expect([...back.keys()]).toEqual([...files.keys()]);
    expect(new TextDecoder().decode(back.get('adapter_config.json'))).toBe('{"r": 8}\n');
    expect(back.get('adapter_model.safetensors')).toEqual(weights);
    expect(back.get('modèle/empty.txt')).toEqual(new Uint8Array(0));
    const again = new Uint8Array(await (await zipArchive(files)).arrayBuffer());
    expect(again).toEqual(archive);
  });
});
