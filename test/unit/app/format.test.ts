import { describe, expect, it } from 'vitest';
import { withRunNames } from '../../../src/app/format';

describe('withRunNames', () => {
  const runs = [
    { id: '119eb105-e73a-4325-9774-df077b7ce374', name: 'sigmoid β 0.1' },
    { id: '2b7c0d1e-0000-4000-8000-000000000001', name: 'ipo, lr 1e-4' },
  ];

  it("shows a worker's run label with the run's name in place of its id", () => {
    expect(withRunNames('run 119eb105-e73a-4325-9774-df077b7ce374 at step 3', runs)).toBe('“sigmoid β 0.1” at step 3');
    expect(withRunNames('run 2b7c0d1e-0000-4000-8000-000000000001 at step 40 + a fresh LoRA adapter (step 0)', runs)).toBe(
      '“ipo, lr 1e-4” at step 40 + a fresh LoRA adapter (step 0)',
    );
  });

  it('leaves other labels, and runs it does not know, as they are', () => {
    expect(withRunNames('base model (no adapter)', runs)).toBe('base model (no adapter)');
    expect(withRunNames('adapter.zip', runs)).toBe('adapter.zip');
    expect(withRunNames('run 00000000-aaaa-4bbb-8ccc-dddddddddddd at step 1', runs)).toBe(
      'run 00000000-aaaa-4bbb-8ccc-dddddddddddd at step 1',
    );
  });
});
