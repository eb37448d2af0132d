// The YAML subset the eval bundle's core.yaml is written in, and no more: block mappings
// and sequences by indentation (a sequence item may open a mapping, "- label: x"), plain,
// 'single' and "double" quoted scalars, flow lists of scalars ([0, 1]), comments and
// blank lines. Anything else (block scalars, anchors, flow mappings, tabs) is an error
// naming the line, so an unexpected file is refused rather than misread.
import { CoreError } from "./core.ts";

export type YamlValue = string | number | boolean | null | YamlValue[] | { [key: string]: YamlValue };

interface Line {
  no: number;
  indent: number;
  text: string;
}

/** The document's value, and the 1-based line each mapping started on (for error messages). */
export function parseYamlSubset(text: string, where: string): { value: YamlValue; lineOf: WeakMap<object, number> } {
  const lines: Line[] = [];
  text.replace(/\r\n?/g, "\n").split("\n").forEach((raw, i) => {
    const body = stripComment(raw, where, i + 1).trimEnd();
    if (!body.trim()) return;
    if (/^\s*\t/.test(body)) throw new CoreError(`${where} line ${i + 1}: tabs in indentation are not YAML`);
    const indent = body.length - body.trimStart().length;
    lines.push({ no: i + 1, indent, text: body.slice(indent) });
  });
  const lineOf = new WeakMap<object, number>();
  const err = (l: Line, what: string) => new CoreError(`${where} line ${l.no}: ${what}`);
  let pos = 0;

  const isItem = (l: Line) => l.text === "-" || l.text.startsWith("- ");

  function block(indent: number): YamlValue {
    const first = lines[pos];
    return isItem(first) ? sequence(indent) : mapping(indent);
  }

  function sequence(indent: number): YamlValue[] {
    const out: YamlValue[] = [];
    while (pos < lines.length && lines[pos].indent === indent && isItem(lines[pos])) {
      const l = lines[pos];
      const rest = l.text.slice(1).trimStart();
      if (!rest) {
        pos++;
        if (pos >= lines.length || lines[pos].indent <= indent) out.push(null);
        else out.push(block(lines[pos].indent));
      } else if (keyOf(rest)) {
        // "- key: value" opens a mapping whose keys line up with "key".
        lines[pos] = { no: l.no, indent: indent + (l.text.length - rest.length), text: rest };
        out.push(mapping(lines[pos].indent));
      } else {
        pos++;
        out.push(scalarOrFlow(rest, l));
      }
    }
    return out;
  }

  function mapping(indent: number): { [key: string]: YamlValue } {
    const out: { [key: string]: YamlValue } = {};
    lineOf.set(out, lines[pos].no);
    while (pos < lines.length && lines[pos].indent === indent && !isItem(lines[pos])) {
      const l = lines[pos];
      const k = keyOf(l.text);
      if (!k) throw err(l, `expected "key: value", got ${JSON.stringify(l.text)}`);
      if (k.key in out) throw err(l, `key ${k.key} appears twice`);
      pos++;
      if (k.rest) out[k.key] = scalarOrFlow(k.rest, l);
      else if (pos < lines.length && (lines[pos].indent > indent || (lines[pos].indent === indent && isItem(lines[pos])))) out[k.key] = block(lines[pos].indent);
      else out[k.key] = null;
    }
    if (pos < lines.length && lines[pos].indent > indent) throw err(lines[pos], "unexpected indentation");
    return out;
  }

  function scalarOrFlow(s: string, l: Line): YamlValue {
    if (s.startsWith("[")) {
      if (!s.endsWith("]")) throw err(l, `a flow list must close on its line: ${s}`);
      const inner = s.slice(1, -1).trim();
      return inner ? splitFlow(inner).map((x) => scalar(x.trim(), l)) : [];
    }
    return scalar(s, l);
  }

  function scalar(s: string, l: Line): YamlValue {
    if (s.startsWith('"')) {
      if (!s.endsWith('"') || s.length < 2) throw err(l, `unterminated "string": ${s}`);
      try {
        return JSON.parse(s.replace(/\\\//g, "/")); // YAML's double-quoted escapes are JSON's for what the bundle uses
      } catch {
        throw err(l, `a "string" with an escape this reader does not know: ${s}`);
      }
    }
    if (s.startsWith("'")) {
      if (!s.endsWith("'") || s.length < 2) throw err(l, `unterminated 'string': ${s}`);
      return s.slice(1, -1).replaceAll("''", "'");
    }
    if (/^[|>&*!{]/.test(s)) throw err(l, `YAML feature not supported here: ${s}`);
    if (/^[-+]?\d+$/.test(s)) return Number(s);
    if (/^[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$/.test(s)) return Number(s);
    if (/^(true|True|TRUE)$/.test(s)) return true;
    if (/^(false|False|FALSE)$/.test(s)) return false;
    if (/^(null|Null|NULL|~)$/.test(s)) return null;
    return s;
  }

  if (!lines.length) return { value: null, lineOf };
  const value = block(lines[0].indent);
  if (pos < lines.length) throw err(lines[pos], "unexpected line (wrong indentation?)");
  return { value, lineOf };
}

/** "key: rest" (key plain or quoted), or null. */
function keyOf(s: string): { key: string; rest: string } | null {
  const m = s.match(/^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s"'#\[\]{}:,-][^:]*?|-[^\s:][^:]*?)\s*:(?:\s+(.*))?$/);
  if (!m) return null;
  const raw = m[1];
  const key = raw.startsWith('"') ? JSON.parse(raw) : raw.startsWith("'") ? raw.slice(1, -1).replaceAll("''", "'") : raw;
  return { key, rest: (m[2] ?? "").trim() };
}

/** The line without its comment: a # at the start or after whitespace, outside quotes. */
function stripComment(line: string, where: string, no: number): string {
  let quote = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = "";
    } else if (c === '"' || c === "'") {
      // A quote opens a string only at a value's start (after ": ", "- ", "[", "," or the line start).
      if (/(^|[:\-\[,]\s*|^\s*)$/.test(line.slice(0, i))) quote = c;
    } else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]))) return line.slice(0, i);
  }
  if (quote) throw new CoreError(`${where} line ${no}: a ${quote}string${quote} does not close on its line`);
  return line;
}

/** Splits a flow list's inside at commas outside quotes. */
function splitFlow(s: string): string[] {
  const out: string[] = [];
  let quote = "", start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = "";
    } else if (c === '"' || c === "'") quote = c;
    else if (c === ",") out.push(s.slice(start, i)), start = i + 1;
  }
  out.push(s.slice(start));
  return out;
}
