/**
 * Checks that a value can be stored as job args or a return value without losing anything:
 * plain objects, arrays, strings, finite or not numbers, booleans, null, undefined, Date,
 * Uint8Array. Functions, symbols, bigints, Maps, class instances and cycles are refused up front
 * with a path to the offending value, instead of being silently mangled by the encoder.
 */
import { SerializationError } from '../errors.js';

export function assertPlainData(value: unknown, what: string): void {
  walk(value, what, new Set());
}

function walk(value: unknown, path: string, ancestors: Set<object>): void {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'undefined':
      return;
    case 'function':
      throw new SerializationError(path, 'it is a function');
    case 'symbol':
      throw new SerializationError(path, 'it is a symbol');
    case 'bigint':
      throw new SerializationError(path, 'it is a bigint (pass it as a string)');
  }
  if (value === null || value instanceof Date || value instanceof Uint8Array) return;
  const obj = value as object;
  if (ancestors.has(obj)) throw new SerializationError(path, 'it contains a reference cycle');
  const proto = Object.getPrototypeOf(obj) as object | null;
  const isArray = Array.isArray(obj);
  if (!isArray && proto !== Object.prototype && proto !== null) {
    const kind = (obj as { constructor?: { name?: string } }).constructor?.name ?? 'object';
    throw new SerializationError(path, `it is a ${kind} instance, not plain data`);
  }
  ancestors.add(obj);
  if (isArray) (obj as unknown[]).forEach((item, i) => walk(item, `${path}[${i}]`, ancestors));
  else for (const [key, item] of Object.entries(obj)) walk(item, `${path}.${key}`, ancestors);
  ancestors.delete(obj);
}
