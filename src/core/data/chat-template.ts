/**
 * Chat templates come from model repos, which anyone can publish: a template is rendered under limits,
 * so one that loops for ever, counts to a billion or builds an enormous string ends with an error
 * instead of hanging or exhausting the process. Real templates stay far inside them (a few thousand
 * steps and well under a millisecond per conversation).
 *
 * @huggingface/jinja renders synchronously in its Interpreter; its evaluate and evaluateBlock are
 * wrapped once here to count steps, watch the clock and the size of what a block renders, and the
 * global range() it declares is swapped for a bounded one, but only while renderBounded runs
 * (rendering is synchronous, so one budget at a time is all there is).
 */
import { Environment, Interpreter, Template } from '@huggingface/jinja';

export const TEMPLATE_LIMITS = {
  /** Wall time of one render. */
  milliseconds: 5_000,
  /** Interpreter steps (expressions and statements evaluated) of one render. */
  steps: 20_000_000,
  /** Characters any one block (the whole output among them) may render. */
  characters: 8_000_000,
  /** Items one range() may make. */
  rangeItems: 100_000,
};

/** A template that ran past one of TEMPLATE_LIMITS. */
export class TemplateLimitError extends Error {}

interface Budget {
  steps: number;
  deadline: number;
}
let budget: Budget | null = null;

type Evaluate = (this: Interpreter, statement: unknown, environment: unknown) => { type: string; value: unknown };
const methods = Interpreter.prototype as unknown as { evaluate: Evaluate; evaluateBlock: Evaluate };
const evaluate = methods.evaluate;
const evaluateBlock = methods.evaluateBlock;

/** One step of the render: counted, and every 4,096 steps the clock is read. */
function step(): void {
  if (budget === null) return;
  budget.steps++;
  if (budget.steps > TEMPLATE_LIMITS.steps) {
    throw new TemplateLimitError(`it took more than ${TEMPLATE_LIMITS.steps.toLocaleString('en')} steps (a loop that does not end?)`);
  }
  if ((budget.steps & 4095) === 0 && performance.now() > budget.deadline) {
    throw new TemplateLimitError(`it ran for more than ${TEMPLATE_LIMITS.milliseconds / 1000} s (a loop that does not end?)`);
  }
}

methods.evaluate = function (statement, environment) {
  step();
  return evaluate.call(this, statement, environment);
};

// A block is a step too: a loop whose body is empty evaluates no statement, only its block.
methods.evaluateBlock = function (statements, environment) {
  step();
  const result = evaluateBlock.call(this, statements, environment);
  if (budget !== null && typeof result.value === 'string' && result.value.length > TEMPLATE_LIMITS.characters) {
    throw new TemplateLimitError(`it rendered more than ${TEMPLATE_LIMITS.characters.toLocaleString('en')} characters`);
  }
  return result;
};

/** Python's range(), refusing more than TEMPLATE_LIMITS.rangeItems items before making any. */
function boundedRange(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0) throw new Error('range() step must not be zero');
  const count = Math.max(0, Math.ceil((stop - start) / step));
  if (count > TEMPLATE_LIMITS.rangeItems) {
    throw new TemplateLimitError(
      `range() of ${count.toLocaleString('en')} items is over its limit of ${TEMPLATE_LIMITS.rangeItems.toLocaleString('en')}`,
    );
  }
  return Array.from({ length: count }, (_, i) => start + i * step);
}

const environment = Environment.prototype as unknown as { set: (name: string, value: unknown) => unknown };
const set = environment.set;
environment.set = function (name, value) {
  // Only the global builtin (a function): a template's own {% set range = … %} stays its own.
  return set.call(this, name, budget !== null && name === 'range' && typeof value === 'function' ? boundedRange : value);
};

/** Renders `template` with `context` under TEMPLATE_LIMITS; a template over them throws TemplateLimitError. */
export function renderBounded(template: Template, context: Record<string, unknown>): string {
  if (budget !== null) throw new Error('renderBounded: a render is already running');
  budget = { steps: 0, deadline: performance.now() + TEMPLATE_LIMITS.milliseconds };
  try {
    return template.render(context);
  } finally {
    budget = null;
  }
}
