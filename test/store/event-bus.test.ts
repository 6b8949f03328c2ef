/**
 * The event bus on a recording signal transport with an injected clock: what goes on the wire and
 * when — batching per event-loop turn, interest gating (announcements, the query a new node sends,
 * the grace period), listening only while listened to. The conformance suite covers delivery
 * through both backends.
 */
import { INTEREST_ANNOUNCE_MS, INTEREST_GRACE_MS, INTEREST_TTL_MS } from '../../src/store/interest.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  decodeEvents,
  encodeEvents,
  SignalEventBus,
} from '../../src/store/event-bus.js';
import type { RuntimeEvent } from '../../src/store/runtime-event.js';
import { SignalChannel, type SignalTransport } from '../../src/store/signals.js';
import { Packr } from 'msgpackr';

interface Sent {
  channel: SignalChannel;
  key: string;
  data: Uint8Array;
}

/** Records every send and delivers it synchronously to every listener of its channel. */
class RecordingSignals implements SignalTransport {
  readonly sent: Sent[] = [];
  readonly #listeners = new Map<SignalChannel, Set<(key: string, data: Uint8Array) => void>>();

  send(channel: SignalChannel, key: string, data: Uint8Array): void {
    this.sent.push({ channel, key, data });
    for (const listener of [...(this.#listeners.get(channel) ?? [])]) listener(key, data);
  }

  listen(channel: SignalChannel, listener: (key: string, data: Uint8Array) => void): () => void {
    let set = this.#listeners.get(channel);
    if (!set) this.#listeners.set(channel, (set = new Set()));
    const entry = (key: string, data: Uint8Array): void => listener(key, data);
    set.add(entry);
    return () => set.delete(entry);
  }

  listening(channel: SignalChannel): number {
    return this.#listeners.get(channel)?.size ?? 0;
  }

  on(channel: SignalChannel): Sent[] {
    return this.sent.filter((s) => s.channel === channel);
  }
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const event = (n: number): RuntimeEvent => ({ type: 'TaskAdded', task: `t${n}`, nodeId: 'n', timestamp: new Date(Date.UTC(2030, 0, 1, 0, 0, n)) });

function setup() {
  const signals = new RecordingSignals();
  const clock = { now: 1_000_000 };
  const errors: unknown[] = [];
  const bus = new SignalEventBus(signals, () => clock.now, (error) => errors.push(error));
  return { signals, clock, bus, errors };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('SignalEventBus', () => {
  it('asks who listens when it opens and publishes during its grace period only', async () => {
    const { signals, clock, bus } = setup();
    expect(signals.sent.map((s) => [s.channel, s.key])).toEqual([['interest', 'events-query']]);
    expect(bus.wanted()).toBe(true);
    clock.now += INTEREST_GRACE_MS - 1;
    expect(bus.wanted()).toBe(true);
    clock.now += 1;
    expect(bus.wanted()).toBe(false);
    bus.publish(event(1));
    await nextTurn();
    bus.flush();
    expect(signals.on('events')).toEqual([]); // nobody listens: nothing on the wire
  });

  it('batches what is published in one turn into one message, in order', async () => {
    const { signals, bus } = setup();
    for (let i = 0; i < 3; i++) bus.publish(event(i));
    expect(signals.on('events')).toEqual([]); // not inside the publisher's call
    await nextTurn();
    const [batch, ...rest] = signals.on('events');
    expect(rest).toEqual([]);
    expect(batch!.key).toBe('batch');
    expect(decodeEvents(batch!.data)).toEqual([event(0), event(1), event(2)]);
    bus.publish(event(3));
    await nextTurn();
    expect(signals.on('events').map((s) => decodeEvents(s.data))).toEqual([[event(0), event(1), event(2)], [event(3)]]);
    // flush sends what is pending at once (before a close), and nothing when nothing is.
    bus.publish(event(4));
    bus.flush();
    expect(signals.on('events')).toHaveLength(3);
    bus.flush();
    await nextTurn();
    expect(signals.on('events')).toHaveLength(3);
  });

  it('a word of interest keeps a publisher publishing for INTEREST_TTL_MS', async () => {
    const { signals, clock, bus } = setup();
    clock.now += INTEREST_GRACE_MS;
    expect(bus.wanted()).toBe(false);
    signals.send(SignalChannel.interest, 'events', new Uint8Array(0)); // another node listens
    expect(bus.wanted()).toBe(true);
    clock.now += INTEREST_TTL_MS - 1;
    bus.publish(event(1));
    await nextTurn();
    expect(signals.on('events')).toHaveLength(1);
    clock.now += 1;
    expect(bus.wanted()).toBe(false);
    bus.publish(event(2));
    await nextTurn();
    expect(signals.on('events')).toHaveLength(1);
  });

  it('listens to events only while it has listeners; announces interest at once, every and when asked', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { signals, clock, bus } = setup();
    clock.now += INTEREST_GRACE_MS;
    const announcements = (): number => signals.on('interest').filter((s) => s.key === 'events').length;
    signals.send(SignalChannel.interest, 'events-query', new Uint8Array(0));
    expect(announcements()).toBe(0); // nobody listens here: no answer
    expect(signals.listening('events')).toBe(0);

    const seen: RuntimeEvent[] = [];
    const stop = bus.subscribe((e) => seen.push(e));
    expect(signals.listening('events')).toBe(1);
    expect(announcements()).toBe(1);
    vi.advanceTimersByTime(INTEREST_ANNOUNCE_MS);
    expect(announcements()).toBe(2);
    signals.send(SignalChannel.interest, 'events-query', new Uint8Array(0)); // a node just opened
    expect(announcements()).toBe(3);

    bus.publish(event(1));
    await nextTurn();
    expect(seen).toEqual([event(1)]); // this node included, decoded from the bytes
    expect(seen[0]).not.toBe(event(1));

    stop();
    expect(signals.listening('events')).toBe(0);
    vi.advanceTimersByTime(3 * INTEREST_ANNOUNCE_MS);
    expect(announcements()).toBe(3); // silent once nobody listens
    signals.send(SignalChannel.interest, 'events-query', new Uint8Array(0));
    expect(announcements()).toBe(3);
  });

  it('a listener that throws is reported, never to the publisher, and the others still receive', async () => {
    const { bus, errors } = setup();
    const seen: string[] = [];
    const boom = new Error('listener bug');
    bus.subscribe(() => {
      throw boom;
    });
    bus.subscribe((e) => seen.push(e.type));
    bus.on('NodeStopped', (e) => seen.push(`on:${e.nodeId}`));
    bus.publish(event(1));
    bus.publish({ type: 'NodeStopped', nodeId: 'x', timestamp: new Date() });
    await nextTurn();
    expect(seen).toEqual(['TaskAdded', 'NodeStopped', 'on:x']);
    expect(errors).toEqual([boom, boom]);
  });

  it('the same function subscribed twice is removed independently', async () => {
    const { bus } = setup();
    const seen: string[] = [];
    const listener = (e: RuntimeEvent): void => void seen.push(e.type);
    const first = bus.subscribe(listener);
    bus.subscribe(listener);
    first();
    bus.publish(event(1));
    await nextTurn();
    expect(seen).toEqual(['TaskAdded']);
  });

  it('close stops listening to events and to interest', () => {
    const { signals, clock, bus } = setup();
    bus.subscribe(() => undefined);
    bus.close();
    expect(signals.listening('events')).toBe(0);
    expect(signals.listening('interest')).toBe(0);
    const quiet = new SignalEventBus(signals, () => clock.now);
    quiet.close();
    clock.now += INTEREST_GRACE_MS;
    signals.send(SignalChannel.interest, 'events', new Uint8Array(0));
    expect(quiet.wanted()).toBe(false); // no longer hears anyone's interest
  });

  it('refuses unknown event types; decodeEvents drops what is not a well-formed batch', () => {
    const { bus } = setup();
    expect(() => bus.publish({ type: 'Nope', nodeId: 'n', timestamp: new Date() } as unknown as RuntimeEvent)).toThrow(/unknown runtime event type "Nope"/);
    expect(() => encodeEvents([{ type: 'Nope' } as unknown as RuntimeEvent])).toThrow(TypeError);
    const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });
    const good = event(1);
    const mixed = packr.pack({
      v: 2,
      es: [good, { type: 'Nope', nodeId: 'n', timestamp: new Date() }, { type: 'TaskAdded', nodeId: 'n', timestamp: 'not a date' }, null, 7],
    });
    expect(decodeEvents(mixed)).toEqual([good]);
    expect(decodeEvents(packr.pack({ v: 1, es: [good] }))).toEqual([]); // another version
    expect(decodeEvents(new TextEncoder().encode('garbage'))).toEqual([]);
    expect(decodeEvents(new Uint8Array(0))).toEqual([]);
    expect(decodeEvents(encodeEvents([good, good]))).toEqual([good, good]);
  });
});
