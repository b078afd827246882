/**
 * The memory JS shares with native/ring.c, word by word: the one TypeScript
 * copy of the layout in ring.c's header comment and its UC_* constants
 * (UC_SLOT_WORDS, enum UC_S_*, UC_ADDR_BYTES, UC_LOCAL_OFFSET, UC_F_*).
 * Change both together.
 *
 *   slot table  int32  | family | addrlen | localLen | flags | timeoutMs | generation | fd | result |  x capacity
 *   addrs       uint8  | peer sockaddr [0, 128) | local sockaddr [128, 256) |                           x capacity
 *   completions int32  | slot | generation | res |                                                    x max
 *
 * Who writes what: JS writes a slot's family..timeoutMs (SlotPool.write) and
 * generation (SlotPool.acquire) before a prepare, and its address region;
 * the backend writes fd and result during the prepare, and fd = -1 when it
 * closes a failed connect's socket; uc_reap writes the completions.
 */

/** int32 words per slot in the slot table (UC_SLOT_WORDS). */
export const SLOT_WORDS = 8;

/** Word offsets inside a slot's row of the slot table (enum UC_S_*). */
export const Word = {
  family: 0,
  addrlen: 1,
  localLen: 2,
  flags: 3,
  timeoutMs: 4,
  generation: 5,
  fd: 6,
  result: 7,
} as const;

/** Bytes per slot in the address buffer: peer then local sockaddr (UC_ADDR_BYTES). */
export const ADDR_BYTES = 256;

/** Offset of the local (bind) sockaddr inside a slot's address region (UC_LOCAL_OFFSET). */
export const LOCAL_OFFSET = 128;

/** Bits of a slot's `flags` word, applied to its socket before the connect (UC_F_*). */
export const SocketFlag = { noDelay: 1, bindNoPort: 2, keepAlive: 4 } as const;

/** int32 words per completion that uc_reap writes: slot, generation, res. */
export const COMPLETION_WORDS = 3;
