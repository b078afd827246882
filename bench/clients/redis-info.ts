// How many clients redis-server has connected, from its own INFO, over a
// connection of its own (counted in the figure; subtract it).
import net from "node:net";

const HEADER = /^\$(\d+)\r\n/;

/** redis' connected_clients, this query's own connection included. Rejects on a connect error or an unexpected reply. */
export function redisConnectedClients(port: number, host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let reply = "";
    socket.setEncoding("latin1");
    socket.on("error", reject);
    socket.on("connect", () => socket.write("INFO clients\r\n"));
    socket.on("data", (chunk: string) => {
      reply += chunk;
      // A bulk string: "$<length>\r\n<payload>\r\n".
      const header = HEADER.exec(reply);
      if (!header) {
        if (reply.includes("\r\n")) reject(new Error(`unexpected reply to INFO: ${reply.trim()}`));
        return;
      }
      if (reply.length < header[0].length + Number(header[1]) + 2) return;
      socket.destroy();
      const clients = /connected_clients:(\d+)/.exec(reply)?.[1];
      if (clients === undefined) reject(new Error("INFO clients has no connected_clients"));
      else resolve(Number(clients));
    });
  });
}
