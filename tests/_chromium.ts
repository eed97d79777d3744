// Headless Chromium driven through the DevTools protocol (Deno's WebSocket): open a page, read
// an element's text. WebGPU there runs on SwiftShader.

/** Where Debian's chromium is, or undefined. */
export function chromiumPath(): string | undefined {
  for (const path of ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch { /* next */ }
  }
}

/** A running headless Chromium with one page. */
export class Chromium {
  #process: Deno.ChildProcess;
  #socket: WebSocket;
  #profile: string;
  #next = 1;
  #pending = new Map<number, (result: { result?: unknown; error?: { message: string } }) => void>();

  private constructor(process: Deno.ChildProcess, socket: WebSocket, profile: string) {
    this.#process = process;
    this.#socket = socket;
    this.#profile = profile;
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      this.#pending.get(message.id)?.(message);
      this.#pending.delete(message.id);
    };
  }

  /** Starts Chromium with a fresh profile and connects to its first page. */
  static async launch(path: string): Promise<Chromium> {
    const profile = await Deno.makeTempDir({ prefix: "lenet-webgpu-chromium-" });
    const process = new Deno.Command(path, {
      args: [
        "--headless=new",
        "--no-sandbox",
        "--enable-unsafe-webgpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        `--user-data-dir=${profile}`,
        "--remote-debugging-port=0",
        "about:blank",
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      return new Chromium(process, await connect(profile), profile);
    } catch (e) {
      // A browser that never answered is stopped and its profile removed all the same.
      await stopAndRemove(process, profile);
      throw e;
    }
  }

  /** Sends one DevTools command and waits for its answer. */
  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(
        id,
        (message) =>
          message.error
            ? reject(new Error(`${method}: ${message.error.message}`))
            : resolve(message.result as Record<string, unknown>),
      );
      this.#socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /** The value of a JavaScript expression in the page. */
  async evaluate(expression: string): Promise<unknown> {
    const answer = await this.send("Runtime.evaluate", { expression, returnByValue: true });
    return (answer.result as { value?: unknown }).value;
  }

  /** Polls `expression` until it is a non-empty string, or `timeoutMs` passes. */
  async waitFor(expression: string, timeoutMs: number): Promise<string> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const value = await this.evaluate(expression);
      if (typeof value === "string" && value) return value;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`${expression} stayed empty for ${timeoutMs / 1000} s`);
  }

  /** Closes the browser and removes its profile. */
  async close(): Promise<void> {
    this.#socket.close();
    await stopAndRemove(this.#process, this.#profile);
  }
}

/** The DevTools socket of the first page of the browser whose profile is `profile`. */
async function connect(profile: string): Promise<WebSocket> {
  // Chromium writes the port it chose into the profile.
  let port = 0;
  for (let i = 0; i < 200 && !port; i++) {
    await new Promise((r) => setTimeout(r, 100));
    port = Number(
      (await Deno.readTextFile(`${profile}/DevToolsActivePort`).catch(() => "")).split("\n")[0],
    );
  }
  if (!port) throw new Error("chromium did not open its DevTools port");
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const page = targets.find((t: { type: string }) => t.type === "page");
  const socket = new WebSocket(page.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  return socket;
}

/**
 * Stops the browser and removes its profile. Its helper processes may still write into the
 * profile for a moment after the main one exits: the removal is retried until the folder is gone
 * (one removal left 2 profiles of 10 behind).
 */
async function stopAndRemove(process: Deno.ChildProcess, profile: string): Promise<void> {
  try {
    process.kill("SIGTERM");
  } catch { /* gone */ }
  await process.status;
  for (let attempt = 0; attempt < 50; attempt++) {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
    if (!(await Deno.stat(profile).then(() => true, () => false))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the browser profile ${profile} could not be removed`);
}

/** `deno task web` (cli/web.ts) on a free loopback port: its address, and how to stop it. */
export async function serveWebPage(): Promise<
  { url: string; pid: number; stop: () => Promise<void> }
> {
  const server = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-net",
      "--allow-run",
      "cli/web.ts",
      "--port",
      "0",
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stop = async () => {
    server.kill("SIGTERM");
    reader.cancel().catch(() => {});
    await server.status;
    await server.stderr.cancel().catch(() => {});
  };
  let text = "";
  while (!/http:\/\/127\.0\.0\.1:\d+\//.test(text)) {
    const { value, done } = await reader.read();
    if (done) {
      await stop();
      throw new Error(`deno task web ended: ${text}`);
    }
    text += value;
  }
  return { url: /http:\/\/127\.0\.0\.1:\d+\//.exec(text)![0], pid: server.pid, stop };
}
