/**
 * The slot pool: a fixed number of connect slots, each with a row in the
 * shared slot table and a sockaddr region in the shared address buffer
 * (both read by native/ring.c; their layout is in layout.ts), an owner
 * (the request using it) and a generation that changes at every reuse.
 *
 * A slot's life; one function, `move`, makes every change:
 *
 *   Free ─acquire─> Pending ─prepared─> InFlight ─completion: owner settled─> Free
 *                      │                   │
 *                      │                   └─owner gave up─> Orphaned ─completion─> Free
 *                      └─owner gave up, or its socket could not open─> Free
 */
import { ADDR_BYTES, LOCAL_OFFSET, SLOT_WORDS, Word } from "./layout.ts";
import type { Endpoint } from "./address.ts";
import { internalError, invalidRange } from "./errors.ts";

/** The states of a slot, one line each. */
export const SlotState = {
  /** On the free list, owned by nobody. */
  Free: 0,
  /** Acquired and encoded; waits for the next batch to prepare it. */
  Pending: 1,
  /** Its connect is in the kernel; only its completion settles the owner and frees it. */
  InFlight: 2,
  /** In the kernel, but the owner gave up (abort, close); its completion frees it and closes any fd it connected. */
  Orphaned: 3,
} as const;
/** One of SlotState's values. */
export type SlotState = (typeof SlotState)[keyof typeof SlotState];

const STATE_NAMES = ["free", "pending", "inFlight", "orphaned"] as const;

/** Which moves are legal: from -> allowed targets. */
const LEGAL: Record<SlotState, readonly SlotState[]> = {
  [SlotState.Free]: [SlotState.Pending],
  [SlotState.Pending]: [SlotState.InFlight, SlotState.Free],
  [SlotState.InFlight]: [SlotState.Free, SlotState.Orphaned],
  [SlotState.Orphaned]: [SlotState.Free],
};

/** A counters snapshot: every slot is in exactly one state. */
export interface SlotStats {
  capacity: number;
  free: number;
  pending: number;
  inFlight: number;
  orphaned: number;
}

/**
 * Fixed-capacity pool of slots; `T` is what owns a busy slot (a request).
 * `table` and `addrs` are the shared memory of layout.ts, registered with
 * the ring: they must not move or be freed while the ring is open.
 */
export class SlotPool<T> {
  readonly table: Int32Array;
  readonly addrs: Uint8Array;
  private readonly states: Uint8Array;
  private readonly owners: (T | undefined)[];
  private readonly freeList: Int32Array;
  private freeTop: number;
  private readonly counts = [0, 0, 0, 0];

  constructor(readonly capacity: number) {
    this.table = new Int32Array(capacity * SLOT_WORDS);
    this.addrs = new Uint8Array(capacity * ADDR_BYTES);
    this.states = new Uint8Array(capacity);
    this.owners = new Array<T | undefined>(capacity).fill(undefined);
    this.freeList = new Int32Array(capacity);
    // Hand out low slots first so a light load touches little memory.
    for (let i = 0; i < capacity; i++) this.freeList[i] = capacity - 1 - i;
    this.freeTop = capacity;
    this.counts[SlotState.Free] = capacity;
    for (let i = 0; i < capacity; i++) this.table[i * SLOT_WORDS + Word.fd] = -1;
  }

  /** Take a free slot for `owner`, bumping its generation; -1 when none is free. */
  acquire(owner: T): number {
    if (this.freeTop === 0) return -1;
    const slot = this.freeList[--this.freeTop]!;
    this.move(slot, SlotState.Pending);
    const row = slot * SLOT_WORDS;
    this.table[row + Word.generation] = (this.table[row + Word.generation]! + 1) & 0x7fffffff;
    this.table[row + Word.fd] = -1;
    this.table[row + Word.result] = 0;
    this.owners[slot] = owner;
    return slot;
  }

  /** Move a slot to a new state; throws on an illegal move (a bug, never input). */
  move(slot: number, to: SlotState): void {
    const from = this.states[slot] as SlotState;
    if (!LEGAL[from].includes(to)) {
      throw internalError(`slot ${slot}: illegal move ${STATE_NAMES[from]} -> ${STATE_NAMES[to]}`);
    }
    this.states[slot] = to;
    this.counts[from]!--;
    this.counts[to]!++;
    if (to === SlotState.Free) {
      this.owners[slot] = undefined;
      this.freeList[this.freeTop++] = slot;
    }
  }

  /** Encode a connect into the slot's row and address region. */
  write(slot: number, peer: Endpoint, local: Endpoint | undefined, flags: number, timeoutMs: number): void {
    const row = slot * SLOT_WORDS;
    const base = slot * ADDR_BYTES;
    this.addrs.set(peer.sockaddr, base);
    this.table[row + Word.family] = peer.family;
    this.table[row + Word.addrlen] = peer.sockaddr.length;
    if (local) this.addrs.set(local.sockaddr, base + LOCAL_OFFSET);
    this.table[row + Word.localLen] = local ? local.sockaddr.length : 0;
    this.table[row + Word.flags] = flags;
    this.table[row + Word.timeoutMs] = timeoutMs;
  }

  /** The slot's state now. */
  state(slot: number): SlotState {
    return this.states[slot] as SlotState;
  }

  /** Who holds the slot; undefined while it is free. */
  owner(slot: number): T | undefined {
    return this.owners[slot];
  }

  /** The slot's generation: it changes at every acquire, so a completion for an earlier use is told apart. */
  generation(slot: number): number {
    return this.table[slot * SLOT_WORDS + Word.generation]!;
  }

  /** The socket the backend opened for the slot, or -1. */
  fd(slot: number): number {
    return this.table[slot * SLOT_WORDS + Word.fd]!;
  }

  /** 0, or -errno when the shim could not open the slot's socket. */
  prepResult(slot: number): number {
    return this.table[slot * SLOT_WORDS + Word.result]!;
  }

  /** Hand the slot's fd to the caller: the pool forgets it. */
  takeFd(slot: number): number {
    const fd = this.fd(slot);
    this.table[slot * SLOT_WORDS + Word.fd] = -1;
    return fd;
  }

  /** Throw a RangeError naming the first of `ids` that is no slot of this pool (before a backend uses them). */
  checkIds(ids: Int32Array): void {
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id < 0 || id >= this.capacity) throw invalidRange(`ids[${i}]`, `a slot index in 0..${this.capacity - 1}`, id);
    }
  }

  /** Slots currently in `state`. */
  slotsIn(state: SlotState): number[] {
    const found: number[] = [];
    for (let i = 0; i < this.capacity; i++) if (this.states[i] === state) found.push(i);
    return found;
  }

  /** How many slots are in each state. */
  stats(): SlotStats {
    const [free, pending, inFlight, orphaned] = this.counts as [number, number, number, number];
    return { capacity: this.capacity, free, pending, inFlight, orphaned };
  }

  /** Slots not free. */
  get busy(): number {
    return this.capacity - this.counts[SlotState.Free]!;
  }
}
