/**
 * Zip archives for exports and for loading them back. Writing goes through client-zip: stored entries,
 * streamed into a Blob (which the browser may keep on disk), with Zip64 records where an entry or the
 * archive passes 4 GiB. Reading takes stored and deflated entries (DecompressionStream), so adapters
 * zipped by other tools load too.
 */
import { makeZip } from 'client-zip';

const decoder = new TextDecoder();

/** A fixed modification time: archives of the same files are byte-identical. */
const MODIFIED = new Date('2020-01-01T00:00:00Z');

/** The bytes of a zip of `files` (name → content), entries stored uncompressed (safetensors barely compress). */
export function zipStream(files: ReadonlyMap<string, Uint8Array | string | Blob>): ReadableStream<Uint8Array> {
  return makeZip([...files].map(([name, input]) => ({ name, input, lastModified: MODIFIED })));
}

export function zipArchive(files: ReadonlyMap<string, Uint8Array | string | Blob>): Promise<Blob> {
  return new Response(zipStream(files)).blob();
}

async function inflateRaw(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as BlobPart]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The files of a zip archive (name → bytes); folders are skipped. `where` names the archive in errors. */
export async function unzipFiles(bytes: Uint8Array, where: string): Promise<Map<string, Uint8Array>> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let end = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 0xffff); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      end = i;
      break;
    }
  }
  if (end < 0) throw new Error(`${where} is not a zip archive (no end-of-central-directory record)`);
  const count = view.getUint16(end + 10, true);
  let p = view.getUint32(end + 16, true);
  const files = new Map<string, Uint8Array>();
  for (let i = 0; i < count; i++) {
    if (view.getUint32(p, true) !== 0x02014b50) throw new Error(`${where}: damaged central directory at byte ${p}`);
    const method = view.getUint16(p + 10, true);
    const compressedSize = view.getUint32(p + 20, true);
    const nameLength = view.getUint16(p + 28, true);
    const extraLength = view.getUint16(p + 30, true);
    const commentLength = view.getUint16(p + 32, true);
    const localOffset = view.getUint32(p + 42, true);
    const name = decoder.decode(bytes.subarray(p + 46, p + 46 + nameLength));
    p += 46 + nameLength + extraLength + commentLength;
    if (name.endsWith('/')) continue;
    if (view.getUint32(localOffset, true) !== 0x04034b50) throw new Error(`${where}: damaged entry "${name}"`);
    const dataStart = localOffset + 30 + view.getUint16(localOffset + 26, true) + view.getUint16(localOffset + 28, true);
    const raw = bytes.subarray(dataStart, dataStart + compressedSize);
    if (method === 0) files.set(name, raw);
    else if (method === 8) files.set(name, await inflateRaw(raw));
    else throw new Error(`${where}: entry "${name}" uses compression method ${method}; only stored and deflate are supported`);
  }
  return files;
}
