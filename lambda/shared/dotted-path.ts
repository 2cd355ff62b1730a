/**
 * Dotted paths (`a.b.c`) into parsed JSON objects.
 *
 * Paths are parsed once, at configuration time, so a typo fails the function's
 * init instead of every record. Only own properties of plain objects are
 * followed (arrays are not indexed), and a `__proto__` segment is refused:
 * JSON.parse makes it an own property, but assigning to it would replace the
 * object's prototype.
 */

import { isObject } from './unknown';

/** A validated path: its segments, and the original text for messages. */
export interface DottedPath {
  readonly text: string;
  readonly segments: readonly string[];
}

/** Parses `a.b.c`; throws naming `what` when the path is empty or has an empty or forbidden segment. */
export function parseDottedPath(text: unknown, what: string): DottedPath {
  if (typeof text !== 'string' || text.length === 0) {
    throw new Error(`${what} must be a non-empty dotted path like 'a.b.c'; got ${JSON.stringify(text)}`);
  }
  const segments = text.split('.');
  for (const segment of segments) {
    if (segment.length === 0) {
      throw new Error(`${what} ('${text}') has an empty segment; use 'a.b.c' with no leading, trailing or doubled dots`);
    }
    if (segment === '__proto__') {
      throw new Error(`${what} ('${text}') uses the reserved segment '__proto__'`);
    }
  }
  return { text, segments };
}

/** The value at `path`, or `undefined` when any segment is missing or crosses a non-object. */
export function getAtPath(root: unknown, path: DottedPath): unknown {
  let current: unknown = root;
  for (const segment of path.segments) {
    if (!isObject(current) || !Object.prototype.hasOwnProperty.call(current, segment)) return undefined;
    current = current[segment];
  }
  return current;
}

/**
 * Replaces the value at an existing `path`; returns false (and changes nothing)
 * when the path does not resolve to an own property.
 */
export function replaceAtPath(root: unknown, path: DottedPath, value: unknown): boolean {
  const { segments } = path;
  let current: unknown = root;
  for (let i = 0; i < segments.length - 1; i++) {
    if (!isObject(current) || !Object.prototype.hasOwnProperty.call(current, segments[i])) return false;
    current = current[segments[i]];
  }
  const last = segments[segments.length - 1];
  if (!isObject(current) || !Object.prototype.hasOwnProperty.call(current, last)) return false;
  current[last] = value;
  return true;
}
