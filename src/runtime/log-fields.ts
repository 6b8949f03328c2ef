/** Structured fields of a log line about an error: pino serialises `err` (type, message, stack). */
export function errorFields(error: unknown, where: string): Record<string, unknown> {
  return { err: error, where };
}
