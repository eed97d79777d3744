/**
 * `deno task web [--port N]`: builds the browser page (`examples/web/`, bundled with
 * `deno bundle --platform browser`) and serves it on 127.0.0.1, with the Fashion-MNIST files from
 * wherever the data module finds them. Open the printed address; `?auto` trains a short run.
 *
 * @module
 */
import {
  atExit,
  exit,
  helpText,
  numberFlag,
  parseFlags,
  runCli,
  SIGNAL_EXIT,
  UsageError,
} from "./_args.ts";
import { openRegularFile, pathOf } from "../deno/files.ts";
import { FASHION_MNIST, loadFashionMnist } from "../mod.ts";

const FLAGS = {
  port: {
    type: "string",
    value: "N",
    help: "port on 127.0.0.1 (0: any free one)",
    default: "8000",
  },
  help: { type: "boolean", help: "show this help" },
} as const;

const PAGE = new URL("../examples/web/", import.meta.url);

/** Bundles the page's script into `out/main.js`. */
async function bundlePage(out: string): Promise<void> {
  const bundle = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--platform",
      "browser",
      "--quiet",
      pathOf(new URL("main.ts", PAGE)),
      "--output",
      `${out}/main.js`,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (bundle.code !== 0) throw new Error("deno bundle of examples/web/main.ts failed");
}

/** The server's routes: URL path → file on disk (regular files only are served). */
async function routes(out: string): Promise<Map<string, string>> {
  const data = await loadFashionMnist({ verify: false });
  const page = pathOf(new URL("index.html", PAGE));
  return new Map([
    ["/", page],
    ["/index.html", page],
    ["/main.js", `${out}/main.js`],
    ...Object.values(FASHION_MNIST.files).map((f) =>
      [`/data/${f.file}`, `${data.source.replace(/\/$/, "")}/${f.file}`] as [string, string]
    ),
  ]);
}

const TYPES: Record<string, string> = {
  html: "text/html",
  js: "text/javascript",
  gz: "application/gzip",
};

/** Requests served at once; more wait for a 503 and retry (each holds an open file). */
const MAX_REQUESTS = 16;
let active = 0;

/**
 * A file as a streamed response: read from its open handle as the client takes it, so a request
 * holds a chunk, not the file (100 concurrent requests for the 26 MB training images held 4.5 GB
 * when each was read whole). At most {@linkcode MAX_REQUESTS} at once.
 */
async function serveFile(path: string | undefined): Promise<Response> {
  if (!path) return new Response("not found", { status: 404 });
  if (active >= MAX_REQUESTS) {
    return new Response("busy: try again", { status: 503, headers: { "retry-after": "1" } });
  }
  active++;
  let opened: { file: Deno.FsFile; size: number };
  try {
    opened = await openRegularFile(path);
  } catch {
    active--;
    return new Response("not found", { status: 404 });
  }
  const type = TYPES[path.split(".").at(-1)!] ?? "application/octet-stream";
  return new Response(streamed(opened.file, () => active--), {
    headers: { "content-type": type, "content-length": String(opened.size) },
  });
}

/** The file's bytes as a stream that calls `done` once, when it ends, fails or is cancelled. */
function streamed(file: Deno.FsFile, done: () => void): ReadableStream<Uint8Array> {
  const reader = file.readable.getReader();
  let open = true;
  const finish = () => {
    if (open) done();
    open = false;
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await reader.read();
        if (next.done) {
          finish();
          controller.close();
        } else controller.enqueue(next.value);
      } catch (e) {
        finish();
        controller.error(e);
      }
    },
    async cancel(reason) {
      finish();
      await reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

async function main() {
  const flags = parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(helpText("Usage: deno task web [--port N]", FLAGS));
    return;
  }
  const port = numberFlag("port", flags.port, 8000, { integer: true, min: 0, max: 65535 });
  const out = await Deno.makeTempDir({ prefix: "lenet-webgpu-web-" });
  // The bundle's folder goes whatever ends the server: an error, a port taken, a signal.
  atExit(() => Deno.removeSync(out, { recursive: true }));
  await bundlePage(out);
  const files = await routes(out);
  let server: Deno.HttpServer;
  try {
    server = Deno.serve({
      hostname: "127.0.0.1",
      port,
      onListen: ({ port }) =>
        console.log(`serving the page on http://127.0.0.1:${port}/ (Ctrl-C stops)`),
    }, (request) => serveFile(files.get(new URL(request.url).pathname)));
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      throw new UsageError(`--port ${port} is in use on 127.0.0.1: choose another (0: any)`);
    }
    throw e;
  }
  let stopped: keyof typeof SIGNAL_EXIT | undefined;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      stopped ??= signal;
      server.shutdown();
    });
  }
  await server.finished;
  exit(stopped ? SIGNAL_EXIT[stopped] : 0);
}

await runCli(main, "Run `deno task web --help` for the options.");
