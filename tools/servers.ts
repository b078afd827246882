/**
 * Real database servers for the client tests (test/) and the benchmark
 * (bench/): redis-server, PostgreSQL and MariaDB, each started in a
 * temporary directory on a loopback port and stopped (directory removed) on
 * dispose. Small configurations: the tests share a 2-core machine with
 * others. It lives here, beside both, as tools/process.ts does; the
 * published package leaves it out.
 *
 * Each server runs under `setpriv --pdeathsig KILL`, so it dies with the
 * test process even when that is killed; as root, PostgreSQL and MariaDB run
 * as their own system users (postgres, mysql), as they refuse root.
 */
import { chownSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readLines } from "../src/loadgen/lines.ts";

/** How long a server may take to start or stop before it counts as a hang (a guard, not a deadline). */
const HANG_GUARD_MS = 30_000;

const isRoot = process.getuid?.() === 0;
const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

function which(name: string): string | undefined {
  return Bun.which(name, { PATH: `${process.env.PATH ?? ""}:${SYSTEM_PATH}` }) ?? undefined;
}

/** Debian keeps initdb and postgres out of PATH, under /usr/lib/postgresql/<version>/bin: take the newest. */
function postgresBinDir(): string | undefined {
  const onPath = which("initdb");
  if (onPath && which("postgres")) return undefined;
  try {
    const versions = readdirSync("/usr/lib/postgresql").filter((v) => /^\d+$/.test(v));
    versions.sort((a, b) => Number(b) - Number(a));
    return versions.map((v) => `/usr/lib/postgresql/${v}/bin`).find((dir) => Bun.which("initdb", { PATH: dir }));
  } catch {
    return undefined;
  }
}

function postgresBinary(name: "initdb" | "postgres"): string | undefined {
  const dir = postgresBinDir();
  return dir ? join(dir, name) : which(name);
}

/** The binaries each server needs, and how to install them on Debian/Ubuntu (scripts/run does it for `test`). */
const REQUIREMENTS = {
  redis: { name: "redis-server", binaries: () => [which("redis-server")], install: "apt-get install redis-server" },
  postgres: { name: "PostgreSQL (initdb, postgres)", binaries: () => [postgresBinary("initdb"), postgresBinary("postgres")], install: "apt-get install postgresql" },
  mariadb: { name: "MariaDB (mariadb-install-db, mariadbd)", binaries: () => [which("mariadb-install-db"), which("mariadbd")], install: "apt-get install mariadb-server" },
} as const;

export type ServerKind = keyof typeof REQUIREMENTS;

/**
 * Why `kind` cannot run here, as a line for the test output (a missing
 * binary, or no setpriv to drop root), or undefined when it can.
 */
export function serverMissing(kind: ServerKind): string | undefined {
  const { name, binaries, install } = REQUIREMENTS[kind];
  if (binaries().some((path) => path === undefined)) return `${name} not installed: ${install}`;
  if (isRoot && !which("setpriv")) return `${name} needs setpriv (util-linux: apt-get install util-linux) to run as its own user when the tests run as root`;
  return undefined;
}

/**
 * Print the skip line for `kind` when its server is missing, and return
 * whether the tests that need it must skip (for `describe.skipIf`).
 */
export function skipWithout(kind: ServerKind): boolean {
  const missing = serverMissing(kind);
  if (missing) console.log(`skip: ${missing}`);
  return missing !== undefined;
}

/** A temporary directory, owned by `user` when the tests run as root. */
function serverDir(user: string | undefined): string {
  const dir = mkdtempSync(join(tmpdir(), "uc-server-"));
  if (isRoot && user) chownToUser(dir, user);
  return dir;
}

function chownToUser(path: string, user: string): void {
  const id = Bun.spawnSync(["id", "-u", user]).stdout.toString().trim();
  const group = Bun.spawnSync(["id", "-g", user]).stdout.toString().trim();
  chownSync(path, Number(id), Number(group));
}

/** `cmd` run as `user` when root, dying with this process. */
function asServer(cmd: string[], user: string | undefined): string[] {
  const setpriv = which("setpriv");
  if (!setpriv) return cmd;
  const drop = isRoot && user ? [`--reuid=${user}`, `--regid=${user}`, "--init-groups"] : [];
  return [setpriv, ...drop, "--pdeathsig", "KILL", ...cmd];
}

/** Run a setup command (initdb, mariadb-install-db) to its end; throws with its output when it fails. */
async function runSetup(cmd: string[], user: string | undefined): Promise<void> {
  const proc = Bun.spawn({ cmd: asServer(cmd, user), stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const guard = setTimeout(() => proc.kill("SIGKILL"), HANG_GUARD_MS);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(guard);
  if (code !== 0) throw new Error(`${cmd[0]} failed (exit ${code}):\n${(stdout + stderr).trim().split("\n").slice(-10).join("\n")}`);
}

interface ServerProcess {
  port: number;
  /** Signal it and wait for it to exit (SIGKILL past the hang guard). */
  stop(): Promise<void>;
}

interface ServerCommand {
  /** The command line for a server on `port`. */
  cmd: (port: number) => string[];
  user: string | undefined;
  /** Where the server says it is ready, and how. */
  stream: "stdout" | "stderr";
  ready: RegExp;
  stopSignal: NodeJS.Signals;
}

/**
 * Start a server on a free loopback port and wait for its own word that it
 * accepts connections. These servers cannot take port 0 and report theirs,
 * so the kernel picks a port for a moment; when another process takes it
 * before the server binds it, a new port is tried (a few times).
 */
async function startServerProcess(command: ServerCommand): Promise<ServerProcess> {
  for (let attempt = 1; ; attempt++) {
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const { port } = listener;
    listener.stop(true);
    try {
      return await startOnPort(command, port);
    } catch (error) {
      if (attempt === 3 || !/in use/i.test(String(error))) throw error;
    }
  }
}

/** Throws with the output's tail when the server exits before it is ready or never says it is. */
async function startOnPort(command: ServerCommand, port: number): Promise<ServerProcess> {
  const cmd = command.cmd(port);
  const proc = Bun.spawn({ cmd: asServer(cmd, command.user), stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const tail: string[] = [];
  const remember = (line: string) => {
    tail.push(line);
    if (tail.length > 15) tail.shift();
  };
  // The other stream is drained so a chatty server never blocks on a full pipe.
  const other = command.stream === "stdout" ? proc.stderr : proc.stdout;
  void (async () => {
    for await (const line of readLines(other)) remember(line);
  })();
  const lines = readLines(command.stream === "stdout" ? proc.stdout : proc.stderr);
  const guard = setTimeout(() => proc.kill("SIGKILL"), HANG_GUARD_MS);
  let ready = false;
  for await (const line of lines) {
    remember(line);
    if (command.ready.test(line)) {
      ready = true;
      break;
    }
  }
  clearTimeout(guard);
  if (!ready) {
    proc.kill("SIGKILL");
    const code = await proc.exited;
    throw new Error(`${cmd[0]} did not start (exit ${code}):\n${tail.join("\n")}`);
  }
  // Keep draining: the server goes on logging.
  void (async () => {
    for await (const line of lines) remember(line);
  })();
  return {
    port,
    async stop() {
      proc.kill(command.stopSignal);
      const guard = setTimeout(() => proc.kill("SIGKILL"), HANG_GUARD_MS);
      await proc.exited;
      clearTimeout(guard);
    },
  };
}

/** Start a server whose files live in `dir`; `dir` is removed when it stops, or when it fails to start. */
async function serverIn<T extends object>(dir: string, start: () => Promise<{ server: ServerProcess; info: T }>): Promise<T & { port: number } & AsyncDisposable> {
  try {
    const { server, info } = await start();
    return {
      ...info,
      port: server.port,
      async [Symbol.asyncDispose]() {
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

export interface RedisServer extends AsyncDisposable {
  port: number;
}

export interface RedisOptions {
  /**
   * listen() backlog (redis' tcp-backlog, default 511; the kernel caps it at
   * net.core.somaxconn). A burst of connects larger than it overflows the
   * accept queue, and each dropped SYN costs a 1 s retransmit.
   */
  backlog?: number;
}

/**
 * redis-server on 127.0.0.1, no persistence. Protected mode is off: it lets
 * in 127.0.0.1 only, and the tests connect from other loopback addresses.
 */
export function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const dir = serverDir(undefined);
  const backlog = options.backlog === undefined ? [] : ["--tcp-backlog", String(options.backlog)];
  return serverIn(dir, async () => ({
    info: {},
    server: await startServerProcess({
      cmd: (port) => [which("redis-server")!, "--port", String(port), "--bind", "127.0.0.1", "--protected-mode", "no", "--dir", dir, "--save", "", "--appendonly", "no", ...backlog],
      user: undefined,
      stream: "stdout",
      ready: /Ready to accept connections/,
      stopSignal: "SIGTERM",
    }),
  }));
}

export interface PostgresServer extends AsyncDisposable {
  port: number;
  /** The directory holding its unix socket (`.s.PGSQL.<port>`). */
  socketDir: string;
  /** A superuser that needs no password from loopback or the unix socket. */
  user: string;
}

/**
 * PostgreSQL on 127.0.0.1 (trusting all of 127.0.0.0/8, so connections
 * bound to any loopback address get in) and a unix socket, in a fresh
 * cluster; no fsync, small buffers.
 */
export function startPostgres(): Promise<PostgresServer> {
  const user = isRoot ? "postgres" : undefined;
  const dir = serverDir(user);
  const data = join(dir, "data");
  return serverIn(dir, async () => {
    await runSetup([postgresBinary("initdb")!, "-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "--no-instructions", "-E", "UTF8"], user);
    // initdb trusts 127.0.0.1/32 only; the tests bind other loopback addresses.
    writeFileSync(join(data, "pg_hba.conf"), "local all all trust\nhost all all 127.0.0.0/8 trust\n");
    const server = await startServerProcess({
      cmd: (port) => [
        postgresBinary("postgres")!,
        ...["-D", data, "-k", dir, "-p", String(port)],
        ...["-c", "listen_addresses=127.0.0.1", "-c", "shared_buffers=16MB", "-c", "max_connections=30"],
        ...["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
      ],
      user,
      stream: "stderr",
      ready: /database system is ready to accept connections/,
      // Fast shutdown: disconnect clients and exit (SIGTERM would wait for them).
      stopSignal: "SIGINT",
    });
    return { server, info: { socketDir: dir, user: "postgres" } };
  });
}

export interface MariadbServer extends AsyncDisposable {
  port: number;
  socketPath: string;
  /** A user with every privilege, no password, from any 127.0.0.0/8 address. */
  user: string;
}

/** MariaDB on 127.0.0.1 and a unix socket, in a fresh data directory; no binary log, small buffer pool. */
export function startMariadb(): Promise<MariadbServer> {
  const user = isRoot ? "mysql" : undefined;
  const dir = serverDir(user);
  const data = join(dir, "data");
  const socketPath = join(dir, "mysqld.sock");
  return serverIn(dir, async () => {
    await runSetup([which("mariadb-install-db")!, "--no-defaults", `--datadir=${data}`, "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"], user);
    // The loopback user the tests log in as, created at start (the data directory is new each time).
    const init = join(dir, "init.sql");
    writeFileSync(init, "CREATE USER IF NOT EXISTS 'uc'@'127.0.0.0/255.0.0.0';\nGRANT ALL ON *.* TO 'uc'@'127.0.0.0/255.0.0.0';\n");
    if (isRoot && user) chownToUser(init, user);
    const server = await startServerProcess({
      cmd: (port) => [
        which("mariadbd")!,
        ...["--no-defaults", `--datadir=${data}`, `--socket=${socketPath}`, `--pid-file=${join(dir, "mariadbd.pid")}`],
        ...[`--port=${port}`, "--bind-address=127.0.0.1", "--skip-name-resolve", `--init-file=${init}`],
        ...["--skip-log-bin", "--performance-schema=OFF", "--innodb-buffer-pool-size=8M", "--max-connections=30"],
      ],
      user,
      stream: "stderr",
      ready: /ready for connections/,
      stopSignal: "SIGTERM",
    });
    return { server, info: { socketPath, user: "uc" } };
  });
}
