/**
 * Typed access to the keys of a config.json, and the parsing steps every architecture shares. Each
 * architecture (./architectures) parses its own keys with these; ./config picks the architecture.
 */

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Typed access to config keys; every error names the source and the key. */
export class ConfigKeys {
  constructor(
    readonly raw: Record<string, unknown>,
    readonly source: string,
  ) {}

  error(key: string, problem: string): Error {
    return new Error(`${this.source}: "${key}" ${problem}`);
  }

  /** null counts as absent: Hugging Face writes null for "use the default". */
  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  requiredCount(key: string): number {
    if (!this.has(key)) throw this.error(key, 'is required but missing');
    return this.count(key, 0);
  }

  /** A positive integer. */
  count(key: string, fallback: number): number {
    if (!this.has(key)) return fallback;
    const value = this.raw[key];
    if (!Number.isSafeInteger(value) || (value as number) <= 0) {
      throw this.error(key, `must be a positive integer, got ${JSON.stringify(value)}`);
    }
    return value as number;
  }

  number(key: string, fallback: number): number {
    if (!this.has(key)) return fallback;
    const value = this.raw[key];
    if (typeof value !== 'number' || !Number.isFinite(value)) throw this.error(key, `must be a number, got ${JSON.stringify(value)}`);
    return value;
  }

  bool(key: string, fallback: boolean): boolean {
    if (!this.has(key)) return fallback;
    const value = this.raw[key];
    if (typeof value !== 'boolean') throw this.error(key, `must be true or false, got ${JSON.stringify(value)}`);
    return value;
  }

  string(key: string, fallback: string): string {
    if (!this.has(key)) return fallback;
    const value = this.raw[key];
    if (typeof value !== 'string') throw this.error(key, `must be a string, got ${JSON.stringify(value)}`);
    return value;
  }

  tokenId(key: string): number | null {
    if (!this.has(key)) return null;
    const value = this.raw[key];
    if (!Number.isSafeInteger(value) || (value as number) < 0) throw this.error(key, `must be a token id, got ${JSON.stringify(value)}`);
    return value as number;
  }

  /** eos_token_id may list several ids (Llama 3 Instruct). */
  tokenIds(key: string): number | number[] | null {
    const value = this.raw[key];
    if (!Array.isArray(value)) return this.tokenId(key);
    if (!value.every((id) => Number.isSafeInteger(id) && id >= 0)) {
      throw this.error(key, `must be a token id or a list of them, got ${JSON.stringify(value)}`);
    }
    return value as number[];
  }
}

/** Heads, KV heads and head_dim from config keys, checked to fit together. `kvHeadsKey` null: no GQA. */
export function headGeometry(keys: ConfigKeys, hidden: number, headsKey: string, kvHeadsKey: string | null) {
  const heads = keys.requiredCount(headsKey);
  const kvHeads = kvHeadsKey === null ? heads : keys.count(kvHeadsKey, heads);
  if (heads % kvHeads !== 0) {
    throw keys.error(kvHeadsKey ?? headsKey, `(${kvHeads}) must divide "${headsKey}" (${heads})`);
  }
  if (keys.has('head_dim')) return { heads, kvHeads, headDim: keys.count('head_dim', 0) };
  if (hidden % heads !== 0) {
    throw keys.error(headsKey, `(${heads}) must divide the hidden size (${hidden}) when "head_dim" is not given`);
  }
  return { heads, kvHeads, headDim: hidden / heads };
}

/** bos, eos (one id or a list) and pad token ids. */
export function tokenIds(keys: ConfigKeys) {
  return {
    bos_token_id: keys.tokenId('bos_token_id'),
    eos_token_id: keys.tokenIds('eos_token_id'),
    pad_token_id: keys.tokenId('pad_token_id'),
  };
}
