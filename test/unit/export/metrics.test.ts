import { describe, expect, it } from 'vitest';
import { metricsCsv, metricsJson } from '../../../src/core/export/metrics';
import type { LogEntry } from '../../../src/core/dpo/trainer';

const HISTORY: LogEntry[] = [
  { epoch: 0.5, step: 10, loss: 0.6931471824645996, 'rewards/chosen': 0, learning_rate: 5e-5 },
  { step: 20, epoch: 1, loss: 0.5, 'rewards/chosen': -0.125, grad_norm: 1.5, learning_rate: 2.5e-7 },
  { step: 20, epoch: 1, eval_loss: 0.55, 'eval_rewards/accuracies': 0.75 },
];

describe('metricsCsv', () => {
  it('puts step first, then every key in order of first appearance, with empty cells where a key is missing', () => {
    expect(metricsCsv(HISTORY)).toBe(
      [
        'step,epoch,loss,rewards/chosen,learning_rate,grad_norm,eval_loss,eval_rewards/accuracies',
        '10,0.5,0.6931471824645996,0,0.00005,,,',
        '20,1,0.5,-0.125,2.5e-7,1.5,,',
        '20,1,,,,,0.55,0.75',
        '',
      ].join('\r\n'),
    );
  });

  it('quotes fields holding a comma, a quote or a line break, doubling quotes (RFC 4180)', () => {
    const odd = [{ step: 1, epoch: 0, 'a,b': 1, 'say "x"': 2, 'two\nlines': 3 }] as LogEntry[];
    expect(metricsCsv(odd)).toBe('step,epoch,"a,b","say ""x""","two\nlines"\r\n1,0,1,2,3\r\n');
  });

  it('reads back to the same numbers', () => {
    const [header, ...rows] = metricsCsv(HISTORY).trimEnd().split('\r\n');
    const columns = header.split(',');
    rows.forEach((row, i) => {
      row.split(',').forEach((cell, j) => {
        const value = (HISTORY[i] as Record<string, number>)[columns[j]];
        expect(cell === '' ? undefined : Number(cell)).toBe(value);
      });
    });
  });

  it('writes only a header for an empty history', () => {
    expect(metricsCsv([])).toBe('step\r\n');
  });
});

describe('metricsJson', () => {
  it('is the history as a JSON array', () => {
    expect(JSON.parse(metricsJson(HISTORY))).toEqual(HISTORY);
  });

  it('writes non-finite values as null, since JSON has no NaN', () => {
    expect(JSON.parse(metricsJson([{ step: 1, epoch: 0, grad_norm: Number.NaN }]))).toEqual([{ step: 1, epoch: 0, grad_norm: null }]);
  });
});
