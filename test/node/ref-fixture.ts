/**
 * A process holding one createConnection socket to 127.0.0.1:<port>, unref'd
 * (`unref`) or unref'd then ref'd again (`ref`). It prints "connected" and
 * "closed" as the socket does: whether it lives until the server closes the
 * connection shows whether the socket holds the event loop.
 */
import { createConnection } from "../../src/node/index.ts";

const [port, mode] = process.argv.slice(2);
const socket = createConnection({ host: "127.0.0.1", port: Number(port) });
socket.on("connect", () => console.log("connected"));
socket.on("close", () => console.log("closed"));
socket.on("error", (error) => console.log(`error ${error.message}`));
socket.unref();
if (mode === "ref") socket.ref();
