/** The `uring-connect` command end to end, spawned as a user would run it. Each test has its own server and process, so they run side by side. */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { UsageError } from "../src/errors.ts";
import { parseCli } from "../src/loadgen/args.ts";
import type { Report } from "../src/loadgen/stats.ts";
import { runProcess } from "../tools/process.ts";
import { CLI, runCli as cli } from "./cli-run.ts";
import { startChildServer, startServer, tempDir, waitForAsync } from "./harness.ts";
import { refusingPort } from "./fixtures/sockets.ts";

/** Run with --json and parse the one object on stdout. */
async function report(args: string[]): Promise<Report> {
  const run = await cli([...args, "--json"]);
  // stderr carries notes only (a loaded machine may earn one, e.g. dropped SYNs): nothing else, and nothing on stdout but the JSON.
  expect(run.stderr.split("\n").filter((line) => line && !line.startsWith("note: "))).toEqual([]);
  expect(run.code).toBe(0);
  expect(run.stdout.trim().split("\n").length).toBe(1);
  return JSON.parse(run.stdout);
}

describe.concurrent("rate", () => {
  test("-n: exactly that many connects, report fields present", async () => {
    await using server = await startChildServer();
    // FIN, so every connection reaches the server's accept before it ends.
    const r = await report(["rate", `127.0.0.1:${server.port}`, "-n", "1000", "-c", "200", "--close", "fin"]);
    expect(r.connects).toBe(1000);
    expect(r.errors).toEqual({});
    expect(r.mode).toBe("rate");
    expect(r.target).toBe(`127.0.0.1:${server.port}`);
    expect(r.concurrency).toBe(200);
    expect(r.rate).toBeGreaterThan(0);
    for (const key of ["p50", "p90", "p99", "p999", "max", "mean"] as const) expect(r.latencyUs[key]).toBeGreaterThan(0);
    expect(r.latencyUs.p50).toBeLessThanOrEqual(r.latencyUs.p99);
    expect(r.timeline.reduce((a, b) => a + b, 0)).toBe(1000);
    await waitForAsync(async () => (await server.counts()).accepted === 1000, "1000 accepts");
  });

  test("-d: runs at least that long, then ends by itself", async () => {
    await using server = await startChildServer();
    // At a modest --rate: what is tested is the clock, not the speed (a full-speed run would only burn CPU).
    const r = await report(["rate", `127.0.0.1:${server.port}`, "-d", "1500ms", "-c", "100", "--rate", "200"]);
    expect(r.interrupted).toBe(false);
    expect(r.durationMs).toBeGreaterThanOrEqual(1500);
    expect(r.connects).toBeGreaterThan(100);
  });

  test("--rate: open loop makes rate × duration starts, however busy the machine", async () => {
    await using server = await startChildServer();
    const r = await report(["rate", `127.0.0.1:${server.port}`, "--rate", "2000", "-d", "1s", "-c", "500"]);
    expect(r.targetRate).toBe(2000);
    // The schedule fixes the count; the machine's speed only moves latency. A start
    // that found all 500 connections busy (a slow machine) is not lost: a note counts it.
    const missed = r.notes.map((note) => /^(\d+) of the 2000 scheduled connects never started/.exec(note)?.[1]).find(Boolean);
    expect(r.connects + Object.values(r.errors).reduce((a, b) => a + b, 0) + Number(missed ?? 0)).toBe(2000);
  });

  test("--send/--expect-bytes: the exchange happens before each close", async () => {
    await using server = await startChildServer({ echo: true });
    const r = await report(["rate", `127.0.0.1:${server.port}`, "-n", "500", "-c", "50", "--send", "hello", "--expect-bytes", "5"]);
    expect(r.connects).toBe(500);
    expect(r.errors).toEqual({});
    expect(r.exchanges).toBe(500);
    expect(r.exchangeErrors).toEqual({});
    await waitForAsync(async () => (await server.counts()).bytes === 2500, "500 × 5 bytes at the server");
  });

  test("--send @file sends the file", async () => {
    await using dir = tempDir();
    const file = join(dir.path, "payload");
    await Bun.write(file, "x".repeat(1000));
    await using server = await startChildServer({ echo: true });
    const r = await report(["rate", `127.0.0.1:${server.port}`, "-n", "100", "-c", "10", "--send", `@${file}`, "--expect-bytes", "1000", "--close", "fin"]);
    expect(r.connects).toBe(100);
    await waitForAsync(async () => (await server.counts()).bytes === 100_000, "100 KB at the server");
  });

  test("--workers 2: one merged report whose counts add up", async () => {
    await using server = await startChildServer();
    const r = await report(["rate", `127.0.0.1:${server.port}`, "-n", "2001", "-c", "100", "--workers", "2", "--close", "fin"]);
    expect(r.workers).toBe(2);
    expect(r.connects).toBe(2001);
    expect(r.concurrency).toBe(100);
    expect(r.timeline.reduce((a, b) => a + b, 0)).toBe(2001);
    await waitForAsync(async () => (await server.counts()).accepted === 2001, "2001 accepts");
  });

  test("--source: the server sees every source address", async () => {
    await using server = await startChildServer({ echo: false });
    const r = await report(["rate", `127.0.0.1:${server.port}`, "-n", "300", "-c", "30", "--source", "127.0.0.2-127.0.0.4", "--close", "fin"]);
    expect(r.connects).toBe(300);
    await waitForAsync(async () => (await server.counts()).accepted === 300, "300 accepts");
    expect((await server.counts()).peers).toEqual(["127.0.0.2", "127.0.0.3", "127.0.0.4"]);
  });

  test("refused target: errors counted by code, exit 0 with the report", async () => {
    using refusing = refusingPort();
    const r = await report(["rate", `127.0.0.1:${refusing.port}`, "-n", "200", "-c", "20"]);
    expect(r.connects).toBe(0);
    expect(r.errors).toEqual({ ECONNREFUSED: 200 });
  });

  test("--engine bun: the same job through Bun.connect", async () => {
    await using server = await startChildServer();
    const r = await report(["rate", `127.0.0.1:${server.port}`, "-n", "300", "-c", "30", "--engine", "bun"]);
    expect(r.engine).toBe("Bun.connect");
    expect(r.connects).toBe(300);
  });

  test("unix: and [v6]: targets", async () => {
    await using dir = tempDir();
    const path = join(dir.path, "s.sock");
    await using unixServer = await startServer({ path });
    const viaUnix = await report(["rate", `unix:${path}`, "-n", "200", "-c", "20"]);
    expect(viaUnix.connects).toBe(200);
    await using v6Server = await startServer({ host: "::1" });
    const viaV6 = await report(["rate", `[::1]:${v6Server.port}`, "-n", "200", "-c", "20"]);
    expect(viaV6.connects).toBe(200);
    expect(unixServer.accepted() + v6Server.accepted()).toBe(400);
  });

  test("--html writes a self-contained page holding the chart data", async () => {
    await using dir = tempDir();
    const file = join(dir.path, "report.html");
    await using server = await startChildServer();
    const run = await cli(["rate", `127.0.0.1:${server.port}`, "-n", "1000", "-c", "50", "--html", file, "--json"]);
    expect(run.code).toBe(0);
    expect(run.stderr.split("\n")).toContain(`uring-connect: wrote the HTML report to ${file}`);
    const r = JSON.parse(run.stdout) as Report;
    const html = readFileSync(file, "utf8");
    const data = JSON.parse(/<script type="application\/json" id="report-data">([^<]*)<\/script>/.exec(html)![1]!);
    expect(data.report.connects).toBe(r.connects);
    expect(data.report.timeline).toEqual(r.timeline);
    expect(data.buckets.reduce((a: number, b: { count: number }) => a + b.count, 0)).toBe(1000);
    expect(html).toContain("<svg");
  });

  test("not on a terminal: no control codes anywhere", async () => {
    await using server = await startChildServer();
    const run = await cli(["rate", `127.0.0.1:${server.port}`, "-d", "1200ms", "-c", "50", "--rate", "200"]);
    expect(run.code).toBe(0);
    expect(run.stdout + run.stderr).not.toMatch(/\x1b|\r/);
    expect(run.stdout).toMatch(/^rate 127\.0\.0\.1:\d+ {2}\(uring-connect, concurrency 50, 1 worker\)\n {2}connects {3}[\d,]+ in /);
  });

  test("Ctrl-C stops cleanly and still prints the report", async () => {
    await using server = await startChildServer();
    // Interrupted once connections reach the server (a positive event); -d is far beyond the hang guard, so only the signal can end it.
    const run = await cli(["rate", `127.0.0.1:${server.port}`, "-d", "300s", "-c", "100", "--rate", "500", "--json"], {
      onSpawn: (child) => void waitForAsync(async () => (await server.counts()).accepted > 0, "connections at the server").then(() => child.kill("SIGINT")),
      timeoutMs: 60_000,
    });
    expect(run.timedOut).toBe(false);
    expect(run.code).toBe(130);
    const r = JSON.parse(run.stdout) as Report;
    expect(r.interrupted).toBe(true);
    expect(r.connects).toBeGreaterThan(0);
    expect(r.durationMs).toBeLessThan(300_000); // stopped by the signal, not by -d
    await waitForAsync(async () => (await server.counts()).open === 0, "every connection closed");
  });
});

describe.concurrent("hold", () => {
  test("holds the connections open, then reports held and dropped", async () => {
    await using server = await startChildServer();
    const running = cli(["hold", `127.0.0.1:${server.port}`, "-c", "300", "-d", "3s", "--json"]);
    await waitForAsync(async () => (await server.counts()).open === 300, "300 connections open at the server");
    await server.drop(7);
    const { stdout, code } = await running;
    expect(code).toBe(0);
    const r = JSON.parse(stdout) as Report;
    expect(r.mode).toBe("hold");
    expect(r.connects).toBe(300);
    expect(r.dropped).toBe(7);
    expect(r.held).toBe(293);
    await waitForAsync(async () => (await server.counts()).open === 0, "every held connection released");
  });

  test("--ramp opens at the given pace", async () => {
    await using server = await startChildServer();
    const r = await report(["hold", `127.0.0.1:${server.port}`, "-c", "200", "--ramp", "200/s", "-d", "200ms"]);
    expect(r.connects).toBe(200);
    expect(r.held).toBe(200);
    // 200 at 200/s: the last is due 995 ms after the first.
    expect(r.rampMs).toBeGreaterThanOrEqual(995);
  });
});

describe.concurrent("bad usage: one line, the usage, exit 2, nothing started", () => {
  const cases: [string, string[], RegExp][] = [
    ["unknown flag", ["rate", "127.0.0.1:1", "--bogus"], /Unknown option '--bogus'/],
    ["malformed target", ["rate", "localhost"], /malformed target "localhost"/],
    ["port out of range", ["rate", "127.0.0.1:70000"], /malformed target/],
    ["empty unix path", ["rate", "unix:"], /unix: needs a path/],
    ["-n and -d together", ["rate", "127.0.0.1:1", "-n", "5", "-d", "1s"], /contradict/],
    ["bad --close", ["rate", "127.0.0.1:1", "--close", "maybe"], /--close must be rst or fin/],
    ["unknown command", ["storm", "127.0.0.1:1"], /unknown command "storm"/],
    ["hold without -c", ["hold", "127.0.0.1:1"], /hold needs -c\/--concurrency: the number of connections to hold/],
    ["--rate with hold", ["hold", "127.0.0.1:1", "-c", "5", "--rate", "10"], /--rate only applies to rate/],
    ["--ramp with rate", ["rate", "127.0.0.1:1", "--ramp", "10/s"], /--ramp only applies to hold/],
    ["zero workers", ["rate", "127.0.0.1:1", "--workers", "0"], /--workers must be an integer in 1\.\.64, got 0/],
    ["non-numeric -c", ["rate", "127.0.0.1:1", "-c", "lots"], /-c\/--concurrency must be a positive integer, got "lots"/],
    ["--exchange-timeout with hold", ["hold", "127.0.0.1:1", "-c", "5", "--exchange-timeout", "10"], /--exchange-timeout only applies to rate/],
    ["a target with compare", ["compare", "127.0.0.1:1"], /unexpected argument "127\.0\.0\.1:1"/],
    ["bad duration", ["rate", "127.0.0.1:1", "-d", "soon"], /-d\/--duration must be a duration/],
    ["bad --source", ["rate", "127.0.0.1:1", "--source", "10.0.0.9-10.0.0.1"], /--source must run from low to high/],
    ["--source with --engine bun", ["rate", "127.0.0.1:1", "--engine", "bun", "--source", "127.0.0.2-127.0.0.3"], /--source needs --engine uring/],
    ["missing --send file", ["rate", "127.0.0.1:1", "--send", "@/nonexistent/file"], /cannot read \/nonexistent\/file \(ENOENT\)/],
  ];
  // The parser says what is wrong (in process: a spawn per case would only cost time)...
  for (const [name, args, message] of cases) {
    test(name, () => {
      const error = (() => {
        try {
          parseCli(args);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(UsageError);
      expect((error as UsageError).message).toMatch(message);
      expect((error as UsageError).message).not.toContain("\n");
    });
  }

  // ...and the command prints it as one line, then the usage, and exits 2.
  test.each(cases.filter(([name]) => ["unknown flag", "missing --send file", "unknown command"].includes(name)))("the command: %s", async (_name, args, message) => {
    const run = await cli(args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    const [first, blank, usage] = run.stderr.split("\n");
    expect(first).toMatch(/^uring-connect: /);
    expect(first).toMatch(message);
    expect(blank).toBe("");
    expect(usage).toBe("usage:");
  });

  test("nothing is started: the server sees no connection", async () => {
    await using server = await startChildServer();
    const run = await cli(["rate", `127.0.0.1:${server.port}`, "-n", "10", "-d", "1s"]);
    expect(run.code).toBe(2);
    // A sentinel from 127.0.0.2 queues behind anything the CLI had sent: once it is
    // accepted, a connection from the CLI would have been accepted before it.
    const sentinel = net.connect({ host: "127.0.0.1", port: server.port, localAddress: "127.0.0.2" });
    sentinel.on("error", () => {});
    await waitForAsync(async () => (await server.counts()).peers.includes("127.0.0.2"), "the sentinel connection to be accepted");
    sentinel.destroy();
    expect((await server.counts()).accepted).toBe(1);
  });

  test("--help prints the usage and exits 0", async () => {
    const run = await cli(["--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^usage:/);
  });
});

describe.concurrent("limits", () => {
  // A network namespace of the test's own with 10 ephemeral ports: FIN
  // closes leave them in TIME_WAIT, so EADDRNOTAVAIL comes at once, for real.
  const canUnshare = process.getuid?.() === 0 && Bun.which("unshare") !== null && Bun.which("ip") !== null;
  test.skipIf(!canUnshare)("out of ports on loopback: switches to spreading source addresses and says so", async () => {
    const script = [
      "ip link set lo up",
      'sysctl -q -w net.ipv4.ip_local_port_range="40000 40009"',
      `"$0" ${join(import.meta.dir, "fixtures", "server.ts")} < /dev/null > "$1" 2>&1 &`,
      "server=$!",
      'while ! grep -q PORT "$1" 2>/dev/null; do sleep 0.05; done',
      'port=$(sed -n "s/PORT //p" "$1")',
      `"$0" ${CLI} rate 127.0.0.1:$port -n 200 -c 5 --close fin --json`,
      "rc=$?",
      'kill "$server"',
      "exit $rc",
    ].join("\n");
    await using dir = tempDir();
    const run = await cli([], { prefix: ["unshare", "--net", "sh", "-c", script, process.execPath, join(dir.path, "server.out")] });
    // cli() appended bun + CLI after cmd: the script ignores them ($2, $3).
    expect(run.stderr).toBe("note: ephemeral ports ran out (EADDRNOTAVAIL): spreading source addresses over 127.0.0.2-127.0.0.250\n");
    expect(run.code).toBe(0);
    const r = JSON.parse(run.stdout) as Report;
    expect(r.errors.EADDRNOTAVAIL).toBeGreaterThan(0);
    expect(r.notes).toContain("ephemeral ports ran out (EADDRNOTAVAIL): spreading source addresses over 127.0.0.2-127.0.0.250");
    expect(r.connects + (r.errors.EADDRNOTAVAIL ?? 0)).toBe(200);
    expect(r.connects).toBeGreaterThan(150);
    expect(run.stderr).toContain("note: ephemeral ports ran out");
    expect(existsSync(join(dir.path, "server.out"))).toBe(true);
    rmSync(join(dir.path, "server.out"));
  });
});

describe.concurrent("without io_uring", () => {
  test("rate falls back to Bun's sockets with a warning, and still reports", async () => {
    await using server = await startChildServer();
    const { stdout, stderr, code } = await runProcess([process.execPath, "--preload", join(import.meta.dir, "fixtures", "deny-io-uring.ts"), CLI, "rate", `127.0.0.1:${server.port}`, "-n", "500", "-c", "50", "--json"]);
    expect(code).toBe(0);
    expect(stderr).toMatch(/^note: io_uring unavailable, connecting through Bun's sockets instead: uring-connect cannot start: io_uring_setup was denied/);
    const r = JSON.parse(stdout) as Report;
    expect(r.connects).toBe(500);
    expect(r.notes[0]).toMatch(/^io_uring unavailable/);
  });
});

describe.concurrent("terminal and limits", () => {
  test.skipIf(Bun.which("script") === null)("on a terminal: a live line refreshed in place, then the report", async () => {
    await using server = await startChildServer();
    // util-linux `script` gives the command a pseudo-terminal, as a user's shell would.
    const command = `${process.execPath} ${CLI} rate 127.0.0.1:${server.port} -d 1500ms -c 50 --rate 200`;
    const run = await runProcess(["script", "-qec", command, "/dev/null"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/\r\x1b\[Kelapsed 1s {2}now [\d,]+\/s {2}established [\d,]+ {2}in flight \d+ {2}errors 0/);
    expect(run.stdout).toMatch(/rate 127\.0\.0\.1:\d+ {2}\(uring-connect, concurrency 50, 1 worker\)/);
  });

  test.skipIf(Bun.which("prlimit") === null)("never more open than the fd limit allows, and says so", async () => {
    await using server = await startChildServer();
    const run = await cli(["rate", `127.0.0.1:${server.port}`, "-n", "2000", "-c", "1000", "--json"], { prefix: ["prlimit", "--nofile=300:300"] });
    expect(run.code).toBe(0);
    const r = JSON.parse(run.stdout) as Report;
    expect(r.concurrency).toBe(118);
    expect(r.notes).toContain(
      "capped at 118 connections at once: RLIMIT_NOFILE is 300 (64 kept for the runtime, and each may still be closing while the next opens)",
    );
    expect(r.connects).toBe(2000);
    expect(r.errors).toEqual({});
  });
});
