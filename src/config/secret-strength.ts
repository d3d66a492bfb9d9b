// What makes an HS256 secret too weak to run in production (RFC 8725 §3.5: human-chosen or short
// secrets are brute-forced offline from one captured token). Answers why, in words a person acts on.

export const MIN_SECRET_BYTES = 32;
/** A random 32-byte secret in base64 or hex shows far more distinct characters than this. */
const MIN_DISTINCT_CHARS = 8;

// Words of the placeholders found in tutorials, .env.example files and library docs. A secret
// made only of these words (and digits, separators) is one an attacker tries first.
const PLACEHOLDER_WORDS = [
  'change', 'me', 'changeme', 'changeit', 'replace', 'replaceme', 'secret', 'secrets', 'your', 'my', 'our', 'jwt', 'key',
  'token', 'bit', 'super', 'top', 'very', 'password', 'passwd', 'pass', 'default', 'example', 'sample', 'test', 'testing',
  'dev', 'development', 'prod', 'production', 'local', 'insecure', 'dummy', 'placeholder', 'todo', 'fixme', 'here', 'this',
  'is', 'a', 'not', 'put', 'set', 'to', 'with', 'some', 'long', 'random', 'string', 'value', 'hs', 'shh', 'admin', 'qwerty',
  'abc', 'xyz', 'foo', 'bar', 'baz', 'hello', 'world', 'chatbox', 'app', 'api', 'private', 'signing',
];
const PLACEHOLDER = new RegExp(`^(?:${[...PLACEHOLDER_WORDS].sort((x, y) => y.length - x.length).join('|')})+$`);

/** The length of a short pattern `s` is made of by repetition (`abcabcabc...`), if any. */
function shortPeriod(s: string): number | undefined {
  for (let p = 2; p <= Math.min(16, s.length / 2); p++) {
    let periodic = true;
    for (let i = p; i < s.length && periodic; i++) periodic = s[i] === s[i - p];
    if (periodic) return p;
  }
  return undefined;
}

/** Why `secret` must not sign tokens in production, or undefined when it is fit. */
export function secretWeakness(secret: string): string | undefined {
  const bytes = Buffer.byteLength(secret);
  if (secret.trim() === '') return 'it is only whitespace';
  if (bytes < MIN_SECRET_BYTES) return `it is too short: ${bytes} bytes, at least ${MIN_SECRET_BYTES} are required`;
  const distinct = new Set(secret).size;
  if (distinct === 1) return 'it is one character repeated';
  const letters = secret.toLowerCase().replace(/[^a-z]/g, '');
  if (letters !== '' && PLACEHOLDER.test(letters)) return 'it is a well-known placeholder or made of common words';
  if (distinct < MIN_DISTINCT_CHARS) return `it has too little variety: ${distinct} distinct characters`;
  const period = shortPeriod(secret);
  if (period !== undefined) return `it repeats a pattern of ${period} characters`;
  return undefined;
}
