/** Typed errors raised by the machine definitions (bad input, effects nobody provided). */

/** A machine was started with input it cannot run with (e.g. a lease too short to renew). */
export class InvalidMachineInputError extends Error {
  override readonly name = 'InvalidMachineInputError';
  constructor(
    readonly machine: string,
    readonly field: string,
    readonly value: unknown,
    fix: string,
  ) {
    super(`${machine} machine: invalid ${field} ${JSON.stringify(value)}: ${fix}`);
  }
}

/**
 * An effect the machine declares in `setup.actors` was invoked without being provided. The
 * definitions in src/machines are pure; src/actors supplies the effects with `machine.provide()`.
 */
export class EffectNotProvidedError extends Error {
  override readonly name = 'EffectNotProvidedError';
  constructor(
    readonly machine: string,
    readonly effect: string,
  ) {
    super(
      `${machine} machine: effect '${effect}' was invoked but not provided; ` +
        `pass it with ${machine}Machine.provide({ actors: { ${effect}: fromPromise(...) } })`,
    );
  }
}
