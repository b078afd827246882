/**
 * Turning a connected fd into a real Bun socket.
 *
 * Bun.connect accepts `{ fd }` for an already connected socket (not in
 * bun-types yet); `new net.Socket({ fd })` does not work for TCP fds in Bun.
 * Whether the running Bun can adopt is learned on first use and remembered.
 */
import type { Socket, SocketHandler } from "bun";
import { closeSync } from "node:fs";
import { AdoptUnsupportedError } from "./errors.ts";

type AdoptOptions<Data> = { fd: number; socket: SocketHandler<Data>; data?: Data };
type AdoptingConnect = <Data>(options: AdoptOptions<Data>) => Promise<Socket<Data>>;

/** true/false once a first adoption has shown whether this Bun can adopt. */
let canAdopt: boolean | undefined;
let adoptFailure: unknown;

/**
 * Adopt `fd` (connected, owned by the caller until this returns) as a Bun
 * socket with `handlers`. On failure the fd is closed and the promise rejects
 * with AdoptUnsupportedError.
 */
export async function adoptSocket<Data>(fd: number, handlers: SocketHandler<Data>, data?: Data): Promise<Socket<Data>> {
  if (canAdopt === false) {
    closeSync(fd);
    throw new AdoptUnsupportedError(adoptFailure);
  }
  try {
    const socket = await (Bun.connect as unknown as AdoptingConnect)<Data>({ fd, socket: handlers, data });
    canAdopt = true;
    return socket;
  } catch (error) {
    closeSync(fd);
    if (canAdopt === undefined) {
      canAdopt = false;
      adoptFailure = error;
    }
    throw canAdopt ? error : new AdoptUnsupportedError(error);
  }
}
