/**
 * Signed JSON must mean one thing to every reader. RFC 8259 leaves duplicate member names,
 * broken Unicode and out-of-range numbers to each parser, so two conforming parsers can read
 * different evidence from the same signed bytes (JSON.parse keeps the last of two "speedKmh",
 * another library the first). The I-JSON profile (RFC 7493) forbids exactly those cases; this
 * parser accepts I-JSON only.
 */
export type StrictJsonResult = { ok: true; value: unknown } | { ok: false; problem: string };

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Parses UTF-8 bytes as I-JSON: valid UTF-8 without a byte-order mark, unique names, well-formed strings, exact numbers. */
export function parseStrictJson(bytes: Uint8Array): StrictJsonResult {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { ok: false, problem: 'not valid UTF-8' };
  }
  if (text.startsWith('\uFEFF')) return { ok: false, problem: 'starts with a byte-order mark' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, problem: `not JSON: ${(error as Error).message}` };
  }
  const problem = findAmbiguousSyntax(text) ?? findAmbiguousValue(value, '');
  return problem ? { ok: false, problem } : { ok: true, value };
}

/**
 * Walks syntactically valid JSON text and names the first object member that appears twice,
 * or the first integer written out in full that a double cannot hold exactly (a parser with
 * big integers reads 9007199254740993, JSON.parse reads 9007199254740992).
 */
function findAmbiguousSyntax(text: string): string | undefined {
  // One entry per open container: the names seen so far when it is an object, null for an array.
  const open: { names: Set<string> | null; lastName: string; path: string; expectName: boolean }[] = [];
  for (let at = 0; at < text.length; at++) {
    const char = text[at];
    if (char === '"') {
      const end = endOfString(text, at);
      const top = open.at(-1);
      if (top?.names && top.expectName) {
        const name = JSON.parse(text.slice(at, end + 1)) as string;
        if (top.names.has(name)) return `the name "${name}" appears twice in ${top.path || 'the top-level object'}`;
        top.names.add(name);
        top.lastName = name;
        top.expectName = false;
      }
      at = end;
    } else if (char === '{' || char === '[') {
      const parent = open.at(-1);
      const path = !parent ? '' : parent.names ? [parent.path, parent.lastName].filter(Boolean).join('.') : `${parent.path}[]`;
      open.push({ names: char === '{' ? new Set() : null, lastName: '', path, expectName: char === '{' });
    } else if (char === '}' || char === ']') {
      open.pop();
    } else if (char === ',') {
      const top = open.at(-1);
      if (top?.names) top.expectName = true;
    } else if (char === '-' || (char !== undefined && char >= '0' && char <= '9')) {
      const literal = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(at, at + 400))?.[0] ?? char;
      if (/^-?\d+$/.test(literal) && BigInt(literal) !== BigInt(Number(literal))) {
        return `the integer ${literal} is beyond what a double holds exactly, so parsers read it differently`;
      }
      at += literal.length - 1;
    }
  }
  return undefined;
}

function endOfString(text: string, start: number): number {
  for (let at = start + 1; at < text.length; at++) {
    if (text[at] === '\\') at++;
    else if (text[at] === '"') return at;
  }
  throw new Error('unterminated string in JSON that parsed');
}

/** Strings with lone surrogates and numbers a double cannot hold exactly read differently across parsers. */
function findAmbiguousValue(value: unknown, path: string): string | undefined {
  const where = path || 'the top level';
  if (typeof value === 'string') return value.isWellFormed() ? undefined : `${where} holds a lone UTF-16 surrogate`;
  if (typeof value === 'number') {
    return Number.isFinite(value) ? undefined : `${where} is a number out of range`;
  }
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const problem = findAmbiguousValue(item, `${path}[${index}]`);
      if (problem) return problem;
    }
    return undefined;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [name, item] of Object.entries(value)) {
      if (!name.isWellFormed()) return `a name in ${where} holds a lone UTF-16 surrogate`;
      const problem = findAmbiguousValue(item, path ? `${path}.${name}` : name);
      if (problem) return problem;
    }
  }
  return undefined;
}
