// A local target for `uring-connect` with no target, when bench/server.c
// cannot be built: a node:net server (backlog 4096) that holds each
// connection until the client closes it. Prints "LISTENING <port>".
import net from "node:net";

const server = net.createServer((socket) => {
  socket.on("error", () => {});
  socket.resume();
});
server.listen({ host: "127.0.0.1", port: 0, backlog: 4096 }, () => {
  console.log(`LISTENING ${(server.address() as net.AddressInfo).port}`);
});
process.on("SIGTERM", () => process.exit(0));
