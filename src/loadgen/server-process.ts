// The local server when src/loadgen/server.c cannot be built (no gcc): a
// node:net server in a child process with the C server's flags (--host,
// --echo, --backlog) and protocol: "LISTENING <port>" once listening, a
// "STATS {json}" line on SIGUSR1 and on SIGTERM before exiting.
// Started only by local-server.ts.
import net from "node:net";

const flag = (name: string) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
};
const echo = process.argv.includes("--echo");
const stats = { accepted: 0, closed: 0, open: 0, shed: 0 };

const server = net.createServer((socket) => {
  stats.accepted++;
  stats.open++;
  socket.on("data", (data) => echo && socket.write(data));
  socket.on("error", () => {});
  socket.on("close", () => {
    stats.open--;
    stats.closed++;
  });
});
server.listen({ host: flag("--host") ?? "127.0.0.1", port: 0, backlog: Number(flag("--backlog") ?? 4096) }, () => {
  console.log(`LISTENING ${(server.address() as net.AddressInfo).port}`);
});
const printStats = () => console.log(`STATS ${JSON.stringify(stats)}`);
process.on("SIGUSR1", printStats);
process.on("SIGTERM", () => {
  printStats();
  process.exit(0);
});
