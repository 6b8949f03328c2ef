/** How a job ended. Values follow APScheduler 4's JobOutcome names. */
export const Outcome = {
  success: 'success',
  error: 'error',
  timeout: 'timeout',
  cancelled: 'cancelled',
  missedStartDeadline: 'missed_start_deadline',
  abandoned: 'abandoned',
  deserializationFailed: 'deserialization_failed',
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

export const OUTCOMES: readonly Outcome[] = Object.values(Outcome);
