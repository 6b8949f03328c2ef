/** Bytes that are not a valid jobchart record of the expected kind (corrupt, foreign or from a newer version). */
export class DeserializationError extends Error {
  override readonly name = 'DeserializationError';
  constructor(
    readonly kind: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot decode ${kind} record: ${reason}`, options);
  }
}
