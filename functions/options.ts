/**
 * The options toolkit shared by the functions and the gateway: validators that name the option
 * and the value received, and one reader of the environment whose errors name the variable the
 * user set. Options are checked once, where they enter (a constructor, or the environment).
 */

/** What a valid value of one option is. */
export interface Rule<T> {
  /** Completes "X must be ...": "a positive integer". */
  readonly expected: string;
  accepts(value: unknown): value is T;
  /** The value an environment variable's text stands for; undefined when it stands for none. */
  parse(raw: string): unknown;
  /**
   * Completes "X ..." when an environment variable's text is refused, in place of quoting all of
   * it: for values that may hold secrets, which should quote only what identifies the bad part.
   */
  problem?(raw: string): string;
}

function shown(value: unknown): string {
  if (typeof value === 'string' || Array.isArray(value) || (typeof value === 'object' && value !== null)) return JSON.stringify(value);
  return String(value);
}

/** Returns `value` if `rule` accepts it; otherwise throws "`name` must be <expected>, got <value>". */
export function check<T>(name: string, value: unknown, rule: Rule<T>, makeError: (message: string) => Error = (m) => new TypeError(m)): T {
  if (!rule.accepts(value)) throw makeError(`${name} must be ${rule.expected}, got ${shown(value)}`);
  return value;
}

const number = (raw: string) => (raw.trim() === '' ? undefined : Number(raw));

export function integer(min: number, max = Number.MAX_SAFE_INTEGER): Rule<number> {
  const expected =
    max === Number.MAX_SAFE_INTEGER
      ? min === 1
        ? 'a positive integer'
        : min === 0
          ? 'a non-negative integer'
          : `an integer of at least ${min}`
      : `an integer from ${min} to ${max}`;
  return {
    expected,
    accepts: (value): value is number => typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max,
    parse: number,
  };
}

export const positiveInt = integer(1);
export const nonNegativeInt = integer(0);
/** Milliseconds for a timer: setTimeout fires at once for anything longer, turning a generous deadline into none. */
export const timeoutMs = integer(1, 2 ** 31 - 1);

export const nonNegativeNumber: Rule<number> = {
  expected: 'a non-negative number',
  accepts: (value): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0,
  parse: number,
};

export const positiveNumber: Rule<number> = {
  expected: 'a positive number',
  accepts: (value): value is number => typeof value === 'number' && Number.isFinite(value) && value > 0,
  parse: number,
};

export const bool: Rule<boolean> = {
  expected: 'true or false',
  accepts: (value): value is boolean => typeof value === 'boolean',
  parse: (raw) => {
    const word = raw.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(word)) return true;
    if (['0', 'false', 'no', 'off'].includes(word)) return false;
    return raw;
  },
};

export function oneOf<T extends string>(values: readonly T[]): Rule<T> {
  return {
    expected: `one of ${values.join(', ')}`,
    accepts: (value): value is T => values.includes(value as T),
    parse: (raw) => raw.trim(),
  };
}

/** A non-empty string. */
export const nonEmpty: Rule<string> = {
  expected: 'a non-empty string',
  accepts: (value): value is string => typeof value === 'string' && value.trim() !== '',
  parse: (raw) => raw.trim(),
};

export const httpUrl: Rule<string> = {
  expected: 'an http(s) URL',
  accepts: (value): value is string => {
    if (typeof value !== 'string') return false;
    try {
      return ['http:', 'https:'].includes(new URL(value).protocol);
    } catch {
      return false;
    }
  },
  parse: (raw) => raw.trim(),
};

/** A list of items each accepted by `item`; in the environment, comma-separated. */
export function listOf<T>(item: Rule<T>, what: string): Rule<T[]> {
  return {
    expected: what,
    accepts: (value): value is T[] => Array.isArray(value) && value.every((v) => item.accepts(v)),
    parse: (raw) =>
      raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0)
        .map((s) => item.parse(s)),
  };
}

/** The options that are set: undefined ones are dropped, so that merging them over defaults keeps the defaults. */
export function setOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}

export type Env = Record<string, string | undefined>;

/** One variable as an EnvReader reads it: its rule, and its default or why it must be set. */
export type VariableRead = { name: string; expected: string } & (
  { how: 'get'; fallback: unknown } | { how: 'optional' } | { how: 'required'; when: string }
);

const recorders = new WeakMap<Env, (read: VariableRead) => void>();

/**
 * Has every EnvReader over this very object report each variable it reads to `record`, with the
 * rule and the default the code gives it. The configuration reference is made this way, so that
 * the defaults it shows are the code's own and never copied by hand.
 */
export function recordReads(env: Env, record: (read: VariableRead) => void): Env {
  recorders.set(env, record);
  return env;
}

/**
 * What a variable is for, as the configuration reference shows it: a sentence, or with `unset`,
 * also what the code does when it is not set, for a variable read without a default value.
 */
export type VariableMeaning = string | { meaning: string; unset: string };

/** Variables by heading, in the order the configuration reference lists them. */
export type VariableMeanings = Record<string, Record<string, VariableMeaning>>;

/** Reads settings from environment variables; every error names the variable and quotes its text. */
export class EnvReader {
  private readonly record?: (read: VariableRead) => void;

  constructor(private readonly env: Env = process.env) {
    this.record = recorders.get(env);
  }

  /** The variable's value by `rule`, or `fallback` when it is unset or blank. */
  get<T>(name: string, rule: Rule<T>, fallback: T): T {
    this.record?.({ name, expected: rule.expected, how: 'get', fallback });
    return this.value(name, rule) ?? fallback;
  }

  /** The variable's value by `rule`; `when` says why it must be set ("when INFERENCE_BACKEND is lambda"). */
  required<T>(name: string, rule: Rule<T>, when: string): T {
    this.record?.({ name, expected: rule.expected, how: 'required', when });
    const value = this.value(name, rule);
    if (value === undefined) throw new TypeError(`${name} must be set ${when}`);
    return value;
  }

  /** The variable's value by `rule`, or undefined when it is unset or blank. */
  optional<T>(name: string, rule: Rule<T>): T | undefined {
    this.record?.({ name, expected: rule.expected, how: 'optional' });
    return this.value(name, rule);
  }

  private value<T>(name: string, rule: Rule<T>): T | undefined {
    const raw = this.env[name];
    if (raw === undefined || raw.trim() === '') return undefined;
    const value = rule.parse(raw);
    if (!rule.accepts(value)) {
      if (rule.problem) throw new TypeError(`${name} ${rule.problem(raw)}; it must be ${rule.expected}`);
      throw new TypeError(`${name} must be ${rule.expected}, got ${JSON.stringify(raw)}`);
    }
    return value;
  }
}
