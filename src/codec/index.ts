export { CODEC_VERSION, decodeRecord, encodeRecord } from './record-codec.js';
export type { RecordKind, RecordKinds } from './record-codec.js';
export { DeserializationError } from './deserialization-error.js';
