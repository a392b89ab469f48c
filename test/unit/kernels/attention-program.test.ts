import { describe, expect, it } from 'vitest';
import { AttentionProgram, tileRows, writeOut } from '../../../src/core/kernels/attention-program';

describe('flash attention programs', () => {
  it('take up to four rows per invocation on CPU adapters and one 64-wide row on GPUs', () => {
    expect([8, 64, 128, 256].map((hd) => tileRows(hd, true))).toEqual([4, 4, 2, 1]);
    expect([8, 16, 32, 64, 128, 256].map((hd) => tileRows(hd, false))).toEqual([4, 4, 2, 1, 1, 1]);
  });

  it('write every marker line out for each row and vec4, indented as the marker was', () => {
    expect(writeOut('fn f() {\n  BODY\n}', { BODY: ['let a = 1;', 'let b = 2;'] })).toBe('fn f() {\n  let a = 1;\n  let b = 2;\n}');
    expect(() => writeOut('  BODY\n  OTHER', { BODY: [] })).toThrow(/no statements for its OTHER line/);
    expect(() => writeOut('  BODY', { BODY: [], EXTRA: [] })).toThrow(/no EXTRA line/);
  });

  it('leave no marker and no run-time-indexed private array in any kernel, and name the tile rows in the shader key', () => {
    const shape = { heads: 9, kvHeads: 3, headDim: 64, scale: 0.125, window: null };
    for (const kind of ['forward', 'query', 'key'] as const) {
      const program = new AttentionProgram(kind, shape, 4, 12, [1]);
      const code = program.getUserCode();
      expect(code, kind).not.toMatch(/^\s*[A-Z][A-Z_]+$/m);
      expect(code, kind).not.toMatch(/array</);
      // Four rows of sixteen vec4s: the last row's last vec4 is written out.
      expect(code, kind).toMatch(kind === 'key' ? /dk3_15/ : /a3_15/);
      expect(program.shaderKey).toBe(`dpoAttention_${kind}_R4_64_9_3_0_0.125`);
    }
  });
});
