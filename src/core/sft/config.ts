import { validateSftConfig as problemsOf, type SFTConfig } from '../config';

export { DEFAULT_SFT_CONFIG, type SFTConfig } from '../config';

/** Every setting that cannot run, as the schema words it ("learning_rate must be greater than 0, got -1"). */
export function validateSftConfig(c: SFTConfig): string[] {
  return problemsOf(c).map((p) => p.message);
}
