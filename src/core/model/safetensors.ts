/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header naming each tensor's
 * dtype, shape and byte range, then the raw little-endian data. Tensors are read as float32 (F16 and
 * BF16 widened, F64 narrowed); files are written the way the Python library writes them.
 */
import { confinedPath, filePath, readJsonFile, readRange } from './sources';
import type { FileSource, HostTensor, SafetensorsDtype } from './types';

const utf8Encoder = new TextEncoder();

// Typed-array views read and write in host byte order; safetensors data is little-endian.
if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  throw new Error('safetensors: big-endian hosts are not supported');
}

// ---------------------------------------------------------------------------------------------
// 16-bit float encodings (bits are numbers in 0..0xffff).

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

function float32Bits(value: number): number {
  scratchF32[0] = value;
  return scratchU32[0];
}

/** IEEE 754 binary16 bits → value, including subnormals, ±inf and NaN. */
export function float16ToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Shifts right by `shift` bits, rounding the dropped bits to nearest, ties to even. */
function shiftRoundingToEven(value: number, shift: number): number {
  const kept = value >>> shift;
  const dropped = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return dropped > half || (dropped === half && (kept & 1) === 1) ? kept + 1 : kept;
}

/** value (first rounded to float32) → binary16 bits, nearest-even; overflow gives ±inf, NaN a quiet NaN. */
export function float32ToFloat16(value: number): number {
  const bits = float32Bits(value);
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | (mantissa === 0 ? 0x7c00 : 0x7e00);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    // Below 2^-25 everything rounds to zero (2^-25 itself ties to the even zero).
    if (halfExponent < -10) return sign;
    // Subnormal: count units of 2^-24. A carry out lands on 0x0400, the smallest normal, as it should.
    return sign | shiftRoundingToEven(mantissa | 0x800000, 14 - halfExponent);
  }
  // A carry from the mantissa into the exponent is the correct rounding, up to 0x7c00 = inf.
  return sign | shiftRoundingToEven((halfExponent << 23) | mantissa, 13);
}

/** bfloat16 bits → value: they are the high half of a float32. */
export function bfloat16ToFloat32(bits: number): number {
  scratchU32[0] = (bits & 0xffff) << 16;
  return scratchF32[0];
}

/** value (first rounded to float32) → bfloat16 bits, nearest-even; NaN stays a quiet NaN. */
export function float32ToBfloat16(value: number): number {
  const bits = float32Bits(value);
  if ((bits & 0x7fffffff) > 0x7f800000) return (bits >>> 16) | 0x0040;
  return shiftRoundingToEven(bits, 16);
}

let float16Table: Float32Array | null = null;

/** Every binary16 value by bit pattern: decoding a tensor becomes one lookup per element. */
function float16Values(): Float32Array {
  if (float16Table === null) {
    float16Table = new Float32Array(0x10000);
    for (let bits = 0; bits < 0x10000; bits++) float16Table[bits] = float16ToFloat32(bits);
  }
  return float16Table;
}

// ---------------------------------------------------------------------------------------------
// Reading.

/** Dtypes read into float32, with their byte sizes. F64 is narrowed (rounded to nearest float32). */
const READABLE_DTYPES = { F32: 4, F16: 2, BF16: 2, F64: 8 } as const;
type ReadableDtype = keyof typeof READABLE_DTYPES;

function isReadableDtype(dtype: string): dtype is ReadableDtype {
  return Object.hasOwn(READABLE_DTYPES, dtype);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * The buffer and offset of `byteLength` bytes at `start` such that a typed array with elements of
 * `alignment` bytes can view them: the file's own buffer when aligned, a copy otherwise.
 */
function alignedBytes(bytes: Uint8Array, start: number, byteLength: number, alignment: number) {
  const offset = bytes.byteOffset + start;
  if (offset % alignment === 0) return { buffer: bytes.buffer, offset };
  return { buffer: bytes.slice(start, start + byteLength).buffer, offset: 0 };
}

/** F32 data stays a view of the file's bytes when aligned; the other dtypes are converted into new arrays. */
function decodeFloats(bytes: Uint8Array, start: number, count: number, dtype: ReadableDtype): Float32Array {
  const { buffer, offset } = alignedBytes(bytes, start, count * READABLE_DTYPES[dtype], READABLE_DTYPES[dtype]);
  switch (dtype) {
    case 'F32':
      return new Float32Array(buffer, offset, count);
    case 'F64':
      return new Float32Array(new Float64Array(buffer, offset, count));
    case 'F16': {
      const halves = new Uint16Array(buffer, offset, count);
      const table = float16Values();
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = table[halves[i]];
      return out;
    }
    case 'BF16': {
      const halves = new Uint16Array(buffer, offset, count);
      const out = new Float32Array(count);
      const outBits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) outBits[i] = halves[i] << 16;
      return out;
    }
  }
}

/** The header's length from the file's first 8 bytes. */
function headerLength(first8: Uint8Array, fileBytes: number | null, source: string): number {
  if (first8.byteLength < 8) {
    throw new Error(`${source}: not a safetensors file: ${first8.byteLength} bytes, shorter than the 8-byte header length`);
  }
  const view = new DataView(first8.buffer, first8.byteOffset, 8);
  const length = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (fileBytes !== null && length > fileBytes - 8) {
    throw new Error(
      `${source}: safetensors header length ${length} runs past the end of the file ` +
        `(${fileBytes} bytes): the file is truncated or not safetensors`,
    );
  }
  // No real header comes near this; a larger one means the file is not safetensors.
  if (length > 100 * 2 ** 20) throw new Error(`${source}: safetensors header length ${length} is implausible: not a safetensors file`);
  return length;
}

function parseHeaderJson(bytes: Uint8Array, source: string): Record<string, unknown> {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw new Error(`${source}: safetensors header is not valid UTF-8 JSON: ${(error as Error).message}`);
  }
  if (!isPlainObject(header)) throw new Error(`${source}: safetensors header is not a JSON object`);
  return header;
}

function readMetadata(value: unknown, source: string): Record<string, string> {
  if (value === undefined) return {};
  if (!isPlainObject(value) || !Object.values(value).every((v) => typeof v === 'string')) {
    throw new Error(`${source}: safetensors "__metadata__" must map strings to strings`);
  }
  return value as Record<string, string>;
}

/** One tensor of a safetensors file: where its bytes are (file offsets [begin, end)) and what they hold. */
export interface SafetensorsEntry {
  name: string;
  dtype: ReadableDtype;
  shape: number[];
  begin: number;
  end: number;
}

/** What a safetensors header says: its tensors in file order, its metadata, where the data starts. */
export interface SafetensorsHeader {
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  dataStart: number;
}

/**
 * Checks every header entry: dtype, shape, byte range against the shape and (when the file's size is
 * known) the file; the tensors' bytes must be contiguous, with no gap or overlap.
 */
function headerEntries(header: Record<string, unknown>, dataStart: number, dataLength: number | null, source: string): SafetensorsHeader {
  const metadata = readMetadata(header.__metadata__, source);
  const entries: SafetensorsEntry[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const where = `${source}: tensor "${name}"`;
    if (!isPlainObject(info)) throw new Error(`${where}: header entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = info;
    if (typeof dtype !== 'string') throw new Error(`${where}: "dtype" is missing or not a string`);
    if (!isReadableDtype(dtype)) {
      throw new Error(`${where} has dtype ${dtype}; only F32, F16, BF16 and F64 (narrowed to float32) can be read`);
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      throw new Error(`${where}: "shape" must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
      throw new Error(`${where}: "data_offsets" must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (dataLength !== null && end > dataLength) {
      throw new Error(`${where}: data_offsets [${begin}, ${end}] run past the end of the data (${dataLength} bytes)`);
    }
    const expectedBytes = product(shape) * READABLE_DTYPES[dtype];
    if (end - begin !== expectedBytes) {
      throw new Error(
        `${where}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes, ` +
          `but shape [${shape.join(', ')}] of ${dtype} needs ${expectedBytes}`,
      );
    }
    entries.push({ name, dtype, shape: [...shape], begin: dataStart + begin, end: dataStart + end });
  }
  const ordered = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  // As the reference library: the tensors' bytes follow one another from the start of the data with
  // no gap and no overlap, and (where the file's size is known) fill it to the end.
  let covered = dataStart;
  for (let i = 0; i < ordered.length; i++) {
    const [previous, next] = [ordered[i - 1], ordered[i]];
    if (previous && next.begin < previous.end && next.end > next.begin) {
      throw new Error(
        `${source}: tensors "${previous.name}" and "${next.name}" overlap ` +
          `(bytes ${previous.begin - dataStart}–${previous.end - dataStart} and ${next.begin - dataStart}–${next.end - dataStart} of the data)`,
      );
    }
    if (next.begin > covered) {
      throw new Error(
        `${source}: tensor "${next.name}" starts at byte ${next.begin - dataStart} of the data, leaving bytes ` +
          `${covered - dataStart}–${next.begin - dataStart} unused: the data is not contiguous, as safetensors requires`,
      );
    }
    covered = Math.max(covered, next.end);
  }
  if (dataLength !== null && covered - dataStart !== dataLength) {
    throw new Error(
      `${source}: the tensors end at byte ${covered - dataStart} of the data, but it holds ${dataLength} bytes: ` +
        'extra bytes after the last tensor, as safetensors does not allow',
    );
  }
  return { entries: ordered, metadata, dataStart };
}

/** A tensor's values from exactly its bytes; F64 reports dtype F32, the precision it now has. */
export function decodeTensor(bytes: Uint8Array, entry: SafetensorsEntry, source: string): HostTensor {
  if (bytes.byteLength !== entry.end - entry.begin) {
    throw new Error(
      `${source}: tensor "${entry.name}" needs bytes ${entry.begin}–${entry.end} of the file, which ends at ${entry.begin + bytes.byteLength}: ` +
        'the file is truncated',
    );
  }
  const data = decodeFloats(bytes, 0, product(entry.shape), entry.dtype);
  return { dtype: entry.dtype === 'F64' ? 'F32' : entry.dtype, shape: [...entry.shape], data };
}

/**
 * Parses a safetensors file; `source` names it in errors. Aligned F32 data is a view of `bytes`
 * (no copy), so the tensors share its buffer; F64 tensors report dtype F32, the precision they now have.
 */
export function parseSafetensors(
  bytes: Uint8Array,
  source: string,
): { tensors: Map<string, HostTensor>; metadata: Record<string, string> } {
  const length = headerLength(bytes, bytes.byteLength, source);
  const dataStart = 8 + length;
  const header = parseHeaderJson(bytes.subarray(8, dataStart), source);
  const { entries, metadata } = headerEntries(header, dataStart, bytes.byteLength - dataStart, source);
  const tensors = new Map<string, HostTensor>();
  // In the header's order, as the file lists them.
  const byName = new Map(entries.map((e) => [e.name, e]));
  for (const name of Object.keys(header)) {
    const entry = byName.get(name);
    if (entry) tensors.set(name, decodeTensor(bytes.subarray(entry.begin, entry.end), entry, source));
  }
  return { tensors, metadata };
}

/**
 * The header of a safetensors file, read with two ranged reads (its length, then the JSON) where the
 * source reads ranges; null when the file is missing.
 */
export async function readSafetensorsHeader(src: FileSource, path: string): Promise<SafetensorsHeader | null> {
  const source = filePath(src, path);
  if (!src.readRange) {
    // Whole files only: one read, not one per part of the header.
    const bytes = await src.readBytes(path);
    if (bytes === null) return null;
    const length = headerLength(bytes, bytes.byteLength, source);
    return headerEntries(parseHeaderJson(bytes.subarray(8, 8 + length), source), 8 + length, bytes.byteLength - 8 - length, source);
  }
  const first8 = await readRange(src, path, 0, 8);
  if (first8 === null) return null;
  const length = headerLength(first8, null, source);
  const json = await readRange(src, path, 8, 8 + length);
  if (json === null || json.byteLength < length) {
    throw new Error(
      `${source}: safetensors header length ${length} runs past the end of the file: the file is truncated or not safetensors`,
    );
  }
  return headerEntries(parseHeaderJson(json, source), 8 + length, null, source);
}

// ---------------------------------------------------------------------------------------------
// Writing.

export interface TensorToSerialize {
  shape: number[];
  data: Float32Array;
}

export const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** Byte-wise UTF-8 order, the order the Python library (Rust strings) sorts tensor names in. */
function compareUtf8(a: string, b: string): number {
  const x = utf8Encoder.encode(a);
  const y = utf8Encoder.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/**
 * Writes tensors as the Python library does: names sorted, data contiguous in that order, compact
 * JSON header padded with spaces to a multiple of 8 bytes. Values are stored as F32 (default), or
 * rounded to nearest-even F16 / BF16.
 */
export function serializeSafetensors(
  tensors: Map<string, TensorToSerialize> | Record<string, TensorToSerialize>,
  options: { dtype?: SafetensorsDtype; metadata?: Record<string, string> } = {},
): Uint8Array {
  const dtype = options.dtype ?? 'F32';
  const elementBytes = DTYPE_BYTES[dtype];
  const entries = [...(tensors instanceof Map ? tensors.entries() : Object.entries(tensors))];
  entries.sort(([a], [b]) => compareUtf8(a, b));

  // Built by hand rather than from one object: JSON.stringify would move integer-like names first.
  const headerParts: string[] = [];
  if (options.metadata !== undefined) headerParts.push(`"__metadata__":${JSON.stringify(options.metadata)}`);
  let dataLength = 0;
  for (const [name, { shape, data }] of entries) {
    if (name === '__metadata__') throw new Error('safetensors: "__metadata__" cannot be a tensor name');
    if (!shape.every(isCount) || product(shape) !== data.length) {
      throw new Error(`safetensors: tensor "${name}": shape [${shape.join(', ')}] does not hold its ${data.length} values`);
    }
    const end = dataLength + data.length * elementBytes;
    headerParts.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype, shape, data_offsets: [dataLength, end] })}`);
    dataLength = end;
  }
  const headerJson = utf8Encoder.encode(`{${headerParts.join(',')}}`);
  const headerLength = Math.ceil(headerJson.length / 8) * 8;
  const dataStart = 8 + headerLength;

  const out = new Uint8Array(dataStart + dataLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLength % 2 ** 32, true);
  view.setUint32(4, Math.floor(headerLength / 2 ** 32), true);
  out.set(headerJson, 8);
  out.fill(0x20, 8 + headerJson.length, dataStart);

  // dataStart is a multiple of 8 and every tensor has the same dtype, so each one starts aligned.
  let offset = dataStart;
  for (const [, { data }] of entries) {
    if (dtype === 'F32') {
      new Float32Array(out.buffer, offset, data.length).set(data);
    } else {
      const encode = dtype === 'F16' ? float32ToFloat16 : float32ToBfloat16;
      const halves = new Uint16Array(out.buffer, offset, data.length);
      for (let i = 0; i < data.length; i++) halves[i] = encode(data[i]);
    }
    offset += data.length * elementBytes;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Loading a model folder.

const SINGLE_FILE = 'model.safetensors';
const INDEX_FILE = 'model.safetensors.index.json';

/** Shard file → the tensor names the index places in it, in index order. */
function readWeightMap(index: unknown, source: string): Map<string, string[]> {
  const weightMap = isPlainObject(index) ? index.weight_map : undefined;
  if (!isPlainObject(weightMap)) throw new Error(`${source}: "weight_map" is missing or not an object`);
  const byShard = new Map<string, string[]>();
  for (const [tensor, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string') throw new Error(`${source}: weight_map entry for "${tensor}" is not a file name`);
    confinedPath(shard, `${source}: weight_map entry for "${tensor}"`);
    const names = byShard.get(shard) ?? [];
    names.push(tensor);
    byShard.set(shard, names);
  }
  return byShard;
}

/** Where one tensor of a model folder lives: its file and its header entry. */
export interface LocatedTensor {
  file: string;
  entry: SafetensorsEntry;
}

/**
 * Every tensor of a model folder, from the safetensors headers alone (model.safetensors, or the shards
 * model.safetensors.index.json names), in file order; no tensor data is read.
 */
export async function listModelTensors(src: FileSource): Promise<Map<string, LocatedTensor>> {
  const located = new Map<string, LocatedTensor>();
  const single = await readSafetensorsHeader(src, SINGLE_FILE);
  if (single !== null) {
    for (const entry of single.entries) located.set(entry.name, { file: SINGLE_FILE, entry });
    return located;
  }
  const index = await readJsonFile(src, INDEX_FILE);
  if (index === null) {
    throw new Error(`${src.name}: no model weights: neither ${SINGLE_FILE} nor ${INDEX_FILE} was found`);
  }
  const indexPath = filePath(src, INDEX_FILE);
  for (const [shard, names] of readWeightMap(index, indexPath)) {
    const header = await readSafetensorsHeader(src, shard);
    if (header === null) throw new Error(`${filePath(src, shard)} is missing: ${indexPath} places tensor "${names[0]}" in it`);
    const byName = new Map(header.entries.map((e) => [e.name, e]));
    for (const name of names) {
      const entry = byName.get(name);
      if (entry === undefined) {
        throw new Error(`${filePath(src, shard)}: tensor "${name}" is missing, though ${indexPath} places it there`);
      }
      located.set(name, { file: shard, entry });
    }
  }
  return located;
}

/** Where a block of a tensor's rows lies: its first row and how many rows the whole tensor has. */
export interface RowBlock {
  row: number;
  rows: number;
}

/**
 * Reads the named tensors one at a time, file by file in data order, and hands each to `visit` before
 * reading the next: with a source that reads ranges, no more than one tensor's bytes are held at once
 * (otherwise one file's). A 2-D tensor for which `piece` gives a row count arrives as consecutive
 * pieces, each as many rows as `piece` says for the row it starts at (`block` says where; null for a
 * whole tensor), so not even one large tensor is held whole. `visit` may keep what it is given.
 */
export async function streamModelTensors(
  src: FileSource,
  located: ReadonlyMap<string, LocatedTensor>,
  names: Iterable<string>,
  visit: (name: string, tensor: HostTensor, block: RowBlock | null) => void | Promise<void>,
  piece: (shape: readonly number[], row: number) => number | null = () => null,
): Promise<void> {
  const byFile = new Map<string, LocatedTensor[]>();
  for (const name of names) {
    const where = located.get(name);
    if (where === undefined) throw new Error(`${src.name}: tensor "${name}" is not in the checkpoint`);
    byFile.set(where.file, [...(byFile.get(where.file) ?? []), where]);
  }
  for (const [file, tensors] of byFile) {
    const source = filePath(src, file);
    tensors.sort((a, b) => a.entry.begin - b.entry.begin);
    const whole = src.readRange ? null : await src.readBytes(file);
    const read = async (start: number, end: number): Promise<Uint8Array> => {
      const bytes = whole ? whole.subarray(start, end) : await readRange(src, file, start, end);
      if (bytes === null) throw new Error(`${source} is missing (it was there when its header was read)`);
      return bytes;
    };
    for (const { entry } of tensors) {
      const first = entry.shape.length === 2 ? piece(entry.shape, 0) : null;
      if (first === null || first >= entry.shape[0]) {
        await visit(entry.name, decodeTensor(await read(entry.begin, entry.end), entry, source), null);
        continue;
      }
      const [rows, cols] = entry.shape;
      const rowBytes = cols * READABLE_DTYPES[entry.dtype];
      let row = 0;
      while (row < rows) {
        const n = Math.max(1, Math.min(row === 0 ? first : (piece(entry.shape, row) ?? rows), rows - row));
        const part: SafetensorsEntry = {
          ...entry,
          shape: [n, cols],
          begin: entry.begin + row * rowBytes,
          end: entry.begin + (row + n) * rowBytes,
        };
        await visit(entry.name, decodeTensor(await read(part.begin, part.end), part, source), { row, rows });
        row += n;
      }
    }
  }
}

/** The weights of a model folder: model.safetensors, or the shards named by model.safetensors.index.json. */
export async function loadModelTensors(src: FileSource): Promise<Map<string, HostTensor>> {
  const located = await listModelTensors(src);
  const tensors = new Map<string, HostTensor>();
  await streamModelTensors(src, located, located.keys(), (name, tensor) => {
    tensors.set(name, tensor);
  });
  return tensors;
}
