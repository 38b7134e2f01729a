import {
  bool,
  check,
  EnvReader,
  httpUrl,
  integer,
  listOf,
  nonEmpty,
  nonNegativeInt,
  nonNegativeNumber,
  oneOf,
  positiveInt,
  positiveNumber,
  timeoutMs,
  type Rule,
} from '../../functions/options';

/** The error `fn` throws; fails the test if it throws none. */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error, got none');
}

describe('check', () => {
  it('returns an accepted value unchanged', () => {
    expect(check('maxBatchSize', 8, positiveInt)).toBe(8);
    const list = ['127.0.0.1'];
    expect(check('hosts', list, listOf(nonEmpty, 'host names'))).toBe(list);
  });

  it('throws a TypeError naming the option and the value', () => {
    const error = thrown(() => check('maxBatchSize', 0, positiveInt));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe('maxBatchSize must be a positive integer, got 0');
  });

  it('quotes strings, arrays and objects as JSON and shows other values as they print', () => {
    expect(thrown(() => check('a', '3', positiveInt)).message).toBe('a must be a positive integer, got "3"');
    expect(thrown(() => check('a', '', positiveInt)).message).toBe('a must be a positive integer, got ""');
    expect(thrown(() => check('a', [1, 2], positiveInt)).message).toBe('a must be a positive integer, got [1,2]');
    expect(thrown(() => check('a', { n: 1 }, positiveInt)).message).toBe('a must be a positive integer, got {"n":1}');
    expect(thrown(() => check('a', undefined, positiveInt)).message).toBe('a must be a positive integer, got undefined');
    expect(thrown(() => check('a', null, positiveInt)).message).toBe('a must be a positive integer, got null');
    expect(thrown(() => check('a', NaN, positiveInt)).message).toBe('a must be a positive integer, got NaN');
    expect(thrown(() => check('a', 1.5, positiveInt)).message).toBe('a must be a positive integer, got 1.5');
    expect(thrown(() => check('a', true, positiveInt)).message).toBe('a must be a positive integer, got true');
  });

  it('makes the error with makeError when given one', () => {
    class ConfigError extends Error {}
    const error = thrown(() => check('config.json: dim', -1, positiveInt, (m) => new ConfigError(`${m}.`)));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe('config.json: dim must be a positive integer, got -1.');
  });
});

describe('integer rules', () => {
  const accepts = <T>(rule: Rule<T>, values: unknown[]) => values.map((v) => rule.accepts(v));

  it('positiveInt: integers from 1', () => {
    expect(positiveInt.expected).toBe('a positive integer');
    expect(accepts(positiveInt, [1, 2, Number.MAX_SAFE_INTEGER])).toEqual([true, true, true]);
    expect(accepts(positiveInt, [0, -1, 1.5, NaN, Infinity, '1', null, undefined, 1n])).toEqual(Array(9).fill(false));
  });

  it('nonNegativeInt: integers from 0', () => {
    expect(nonNegativeInt.expected).toBe('a non-negative integer');
    expect(accepts(nonNegativeInt, [0, 1, 1000])).toEqual([true, true, true]);
    expect(accepts(nonNegativeInt, [-1, 0.5, '0', NaN])).toEqual([false, false, false, false]);
  });

  it('timeoutMs: 1 to the largest delay a timer honours (2^31 - 1)', () => {
    expect(timeoutMs.expected).toBe('an integer from 1 to 2147483647');
    expect(accepts(timeoutMs, [1, 2147483647])).toEqual([true, true]);
    expect(accepts(timeoutMs, [0, 2147483648, 1e12])).toEqual([false, false, false]);
    expect(thrown(() => check('timeoutMs', 2 ** 31, timeoutMs)).message).toBe(
      'timeoutMs must be an integer from 1 to 2147483647, got 2147483648',
    );
  });

  it('integer(min) and integer(min, max) say their bounds', () => {
    expect(integer(2).expected).toBe('an integer of at least 2');
    expect(integer(-3).expected).toBe('an integer of at least -3');
    expect(integer(0, 10).expected).toBe('an integer from 0 to 10');
    expect(integer(1, 10).expected).toBe('an integer from 1 to 10');
    expect(accepts(integer(2), [1, 2, 3])).toEqual([false, true, true]);
    expect(accepts(integer(0, 10), [-1, 0, 10, 11])).toEqual([false, true, true, false]);
  });
});

describe('number rules', () => {
  it('nonNegativeNumber: finite numbers from 0', () => {
    expect(nonNegativeNumber.expected).toBe('a non-negative number');
    expect([0, 0.5, 7].map((v) => nonNegativeNumber.accepts(v))).toEqual([true, true, true]);
    expect([-0.1, Infinity, NaN, '1'].map((v) => nonNegativeNumber.accepts(v))).toEqual([false, false, false, false]);
  });

  it('positiveNumber: finite numbers above 0', () => {
    expect(positiveNumber.expected).toBe('a positive number');
    expect([1e-9, 0.5, 24.0534].map((v) => positiveNumber.accepts(v))).toEqual([true, true, true]);
    expect([0, -1, Infinity, NaN, '2'].map((v) => positiveNumber.accepts(v))).toEqual([false, false, false, false, false]);
  });
});

describe('other rules', () => {
  it('bool accepts only booleans', () => {
    expect(bool.expected).toBe('true or false');
    expect([true, false].map((v) => bool.accepts(v))).toEqual([true, true]);
    expect(['true', 1, 0, null].map((v) => bool.accepts(v))).toEqual([false, false, false, false]);
  });

  it('oneOf lists its values', () => {
    const backend = oneOf(['local', 'lambda', 'http']);
    expect(backend.expected).toBe('one of local, lambda, http');
    expect(backend.accepts('lambda')).toBe(true);
    expect(backend.accepts('Lambda')).toBe(false);
    expect(backend.accepts('')).toBe(false);
    expect(thrown(() => check('backend', 'gpu', backend)).message).toBe('backend must be one of local, lambda, http, got "gpu"');
  });

  it('nonEmpty refuses blank strings and non-strings', () => {
    expect(nonEmpty.expected).toBe('a non-empty string');
    expect(['x', ' x '].map((v) => nonEmpty.accepts(v))).toEqual([true, true]);
    expect(['', '   ', '\t\n', 3, undefined].map((v) => nonEmpty.accepts(v))).toEqual([false, false, false, false, false]);
  });

  it('httpUrl accepts only absolute http and https URLs', () => {
    expect(httpUrl.expected).toBe('an http(s) URL');
    expect(['http://127.0.0.1:9001', 'https://example.com/path?q=1', 'HTTPS://EXAMPLE.COM'].map((v) => httpUrl.accepts(v))).toEqual([
      true,
      true,
      true,
    ]);
    expect(['ftp://example.com', 'file:///etc/passwd', 'example.com', '/relative', '', 42].map((v) => httpUrl.accepts(v))).toEqual(
      Array(6).fill(false),
    );
  });

  it('listOf accepts arrays whose every item the item rule accepts', () => {
    const ports = listOf(positiveInt, 'a list of ports');
    expect(ports.expected).toBe('a list of ports');
    expect(ports.accepts([])).toBe(true);
    expect(ports.accepts([80, 443])).toBe(true);
    expect(ports.accepts([80, 0])).toBe(false);
    expect(ports.accepts('80')).toBe(false);
    expect(thrown(() => check('ports', [80, 'x'], ports)).message).toBe('ports must be a list of ports, got [80,"x"]');
  });
});

describe('EnvReader', () => {
  describe('get', () => {
    it('parses the variable by the rule', () => {
      const env = new EnvReader({ LOCAL_WORKERS: '4', SCALE: ' 2.5 ', BACKEND: ' lambda ', NAME: '  clip  ' });
      expect(env.get('LOCAL_WORKERS', nonNegativeInt, 1)).toBe(4);
      expect(env.get('SCALE', positiveNumber, 1)).toBe(2.5);
      expect(env.get('BACKEND', oneOf(['local', 'lambda']), 'local')).toBe('lambda');
      expect(env.get('NAME', nonEmpty, 'x')).toBe('clip');
    });

    it('gives the fallback when the variable is unset, empty or blank', () => {
      const env = new EnvReader({ EMPTY: '', BLANK: '  \t ' });
      expect(env.get('UNSET', nonNegativeInt, 1)).toBe(1);
      expect(env.get('EMPTY', nonNegativeInt, 2)).toBe(2);
      expect(env.get('BLANK', nonNegativeInt, 3)).toBe(3);
      expect(env.get('BLANK', bool, true)).toBe(true);
    });

    it('keeps values that are falsy rather than replacing them with the fallback', () => {
      const env = new EnvReader({ LOCAL_WORKERS: '0', FLAG: 'false', RATE: '0' });
      expect(env.get('LOCAL_WORKERS', nonNegativeInt, 4)).toBe(0);
      expect(env.get('FLAG', bool, true)).toBe(false);
      expect(env.get('RATE', nonNegativeNumber, 0.5)).toBe(0);
    });

    it('throws naming the variable and quoting its text', () => {
      const error = thrown(() => new EnvReader({ LOCAL_WORKERS: 'x' }).get('LOCAL_WORKERS', nonNegativeInt, 1));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toBe('LOCAL_WORKERS must be a non-negative integer, got "x"');
      const env = new EnvReader({ N: '-1', M: '1.5', T: ' 0 ', B: 'maybe', K: 'gpu', U: 'ftp://x' });
      expect(thrown(() => env.get('N', nonNegativeInt, 1)).message).toBe('N must be a non-negative integer, got "-1"');
      expect(thrown(() => env.get('M', positiveInt, 1)).message).toBe('M must be a positive integer, got "1.5"');
      expect(thrown(() => env.get('T', timeoutMs, 1)).message).toBe('T must be an integer from 1 to 2147483647, got " 0 "');
      expect(thrown(() => env.get('B', bool, false)).message).toBe('B must be true or false, got "maybe"');
      expect(thrown(() => env.get('K', oneOf(['cpu', 'cuda']), 'cpu')).message).toBe('K must be one of cpu, cuda, got "gpu"');
      expect(thrown(() => env.get('U', httpUrl, 'http://a')).message).toBe('U must be an http(s) URL, got "ftp://x"');
    });

    it('reads process.env when given no environment', () => {
      const name = 'OPTIONS_TEST_ENV_READER_VARIABLE';
      process.env[name] = '17';
      try {
        expect(new EnvReader().get(name, positiveInt, 1)).toBe(17);
      } finally {
        delete process.env[name];
      }
      expect(new EnvReader().get(name, positiveInt, 1)).toBe(1);
    });
  });

  describe('bool', () => {
    it.each(['true', 'TRUE', 'True', '1', 'yes', 'YES', 'on', 'On', ' yes '])('reads %j as true', (raw) => {
      expect(new EnvReader({ FLAG: raw }).get('FLAG', bool, false)).toBe(true);
    });

    it.each(['false', 'FALSE', 'False', '0', 'no', 'No', 'off', 'OFF', ' off '])('reads %j as false', (raw) => {
      expect(new EnvReader({ FLAG: raw }).get('FLAG', bool, true)).toBe(false);
    });

    it.each(['2', 'y', 'enabled', 'truee', 'nope'])('refuses %j', (raw) => {
      expect(thrown(() => new EnvReader({ FLAG: raw }).get('FLAG', bool, true)).message).toBe(
        `FLAG must be true or false, got ${JSON.stringify(raw)}`,
      );
    });
  });

  describe('listOf', () => {
    const hosts = listOf(nonEmpty, 'a comma-separated list of hosts');
    const ports = listOf(positiveInt, 'a comma-separated list of ports');

    it('splits on commas, trims each item and drops empty ones', () => {
      const env = new EnvReader({ HOSTS: ' a.example , b.example,,c.example ,', PORTS: '80, 443 ,8080', ONE: 'solo' });
      expect(env.get('HOSTS', hosts, [])).toEqual(['a.example', 'b.example', 'c.example']);
      expect(env.get('PORTS', ports, [])).toEqual([80, 443, 8080]);
      expect(env.get('ONE', hosts, [])).toEqual(['solo']);
    });

    it('parses each item by the item rule and quotes the whole text when one is wrong', () => {
      const error = thrown(() => new EnvReader({ PORTS: '80, http, 443' }).get('PORTS', ports, []));
      expect(error.message).toBe('PORTS must be a comma-separated list of ports, got "80, http, 443"');
    });

    it('gives the fallback when the variable is blank', () => {
      expect(new EnvReader({ PORTS: '   ' }).get('PORTS', ports, [1])).toEqual([1]);
    });
  });

  describe('optional', () => {
    it('is undefined when the variable is unset or blank, and the value otherwise', () => {
      const env = new EnvReader({ BLANK: ' ', SET: '5' });
      expect(env.optional('UNSET', positiveInt)).toBeUndefined();
      expect(env.optional('BLANK', positiveInt)).toBeUndefined();
      expect(env.optional('SET', positiveInt)).toBe(5);
    });

    it('throws like get when the text is wrong', () => {
      expect(thrown(() => new EnvReader({ SET: 'five' }).optional('SET', positiveInt)).message).toBe(
        'SET must be a positive integer, got "five"',
      );
    });
  });

  describe('required', () => {
    it('returns the value when set', () => {
      const env = new EnvReader({ LAMBDA_FUNCTION_NAME: ' clip ' });
      expect(env.required('LAMBDA_FUNCTION_NAME', nonEmpty, 'when INFERENCE_BACKEND is lambda')).toBe('clip');
    });

    it('says why it must be set when unset or blank', () => {
      for (const env of [{}, { LAMBDA_FUNCTION_NAME: '  ' }]) {
        const error = thrown(() => new EnvReader(env).required('LAMBDA_FUNCTION_NAME', nonEmpty, 'when INFERENCE_BACKEND is lambda'));
        expect(error).toBeInstanceOf(TypeError);
        expect(error.message).toBe('LAMBDA_FUNCTION_NAME must be set when INFERENCE_BACKEND is lambda');
      }
    });

    it('throws the rule’s message when set but wrong', () => {
      const error = thrown(() => new EnvReader({ REMOTE_URL: 'localhost:4000' }).required('REMOTE_URL', httpUrl, 'when remote'));
      expect(error.message).toBe('REMOTE_URL must be an http(s) URL, got "localhost:4000"');
    });
  });
});
