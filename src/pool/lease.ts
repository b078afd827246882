/**
 * Handing a pooled connection out wrapped: as a Bun socket (`acquire`) or a
 * net.Socket (`acquireNet`), each on a duplicate of the connection's fd
 * (see connection.ts), so the wrapper can close its own fd on release
 * without ending the connection.
 *
 * A lease ends one of two ways: the Pool takes it back (`end()`: the
 * wrapper is closed; whether the connection may be reused is returned), or
 * the wrapper closes first (the caller ended or destroyed it, or the peer
 * closed it): `onLost` is called, and the Pool closes the connection.
 */
import type { Socket, SocketHandler } from "bun";
import { closeSync } from "node:fs";
import type net from "node:net";
import { adoptSocket } from "../adopt.ts";
import { syscallError } from "../errors.ts";
import { sysNative } from "../native.ts";
import { adoptNetSocket } from "../node/adopt-net.ts";

/** A wrapper handed out, until it is taken back or lost. */
export interface Lease<Wrapper> {
  readonly wrapper: Wrapper;
  /** Close the wrapper for the Pool; returns whether the connection is fit to reuse. */
  end(): boolean;
}

/** Bun's readyState for an established socket. */
const ESTABLISHED = 1;

/**
 * Adopt a duplicate of `fd` as a Bun socket with the caller's `handlers`
 * and `data`. `onOpen` runs with the lease before the caller's open
 * handler, so a release from inside it finds the lease. Rejects with the
 * dup's SyscallError or adoptSocket's error; the duplicate is closed then.
 */
export function leaseBunSocket<Data>(
  fd: number,
  handlers: SocketHandler<Data>,
  data: Data | undefined,
  onOpen: (lease: Lease<Socket<Data>>) => void,
  onLost: () => void,
): Promise<Socket<Data>> {
  let ending = false;
  let closed = false;
  let duplicate: number;
  try {
    duplicate = duplicateFd(fd);
  } catch (error) {
    return Promise.reject(error);
  }
  return adoptSocket<Data>(
    duplicate,
    {
      ...handlers,
      open(socket) {
        onOpen({
          wrapper: socket,
          end() {
            const reusable = !closed && socket.readyState === ESTABLISHED;
            ending = true;
            socket.close();
            return reusable;
          },
        });
        return handlers.open?.(socket);
      },
      // Bun closes a socket once its peer has ended it, so close covers the peer too.
      close(socket, error) {
        closed = true;
        if (!ending) onLost();
        return handlers.close?.(socket, error);
      },
    },
    data,
  );
}

/**
 * Adopt a duplicate of `fd` as a net.Socket, connected: into `into` when
 * given (unconnected), else a new one. Throws the dup's SyscallError
 * (EMFILE...) or the adoption's error; the duplicate is closed then.
 */
export function leaseNetSocket(fd: number, onLost: () => void, into?: net.Socket): Lease<net.Socket> {
  const duplicate = duplicateFd(fd);
  let socket: net.Socket;
  try {
    socket = adoptNetSocket(duplicate, into);
  } catch (error) {
    closeSync(duplicate);
    throw error;
  }
  let ending = false;
  socket.once("close", () => {
    if (!ending) onLost();
  });
  return {
    wrapper: socket,
    end() {
      // Ended either way, or failed: the connection's state is unknown.
      const reusable = !socket.destroyed && !socket.readableEnded && !socket.writableEnded && !socket.errored;
      ending = true;
      socket.destroy();
      return reusable;
    },
  };
}

/** A close-on-exec duplicate of `fd`; throws a SyscallError (EMFILE...) when there is none. */
function duplicateFd(fd: number): number {
  const duplicate = sysNative().uc_dup_fd(fd);
  if (duplicate < 0) throw syscallError("dup", -duplicate);
  return duplicate;
}
