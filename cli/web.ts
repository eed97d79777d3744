/**
 * `deno task web [--port N]`: builds the browser page (`examples/web/`, bundled with
 * `deno bundle --platform browser`) and serves it on 127.0.0.1, with the Fashion-MNIST files from
 * wherever the data module finds them. Open the printed address; `?auto` trains a short run.
 *
 * @module
 */
import { helpText, numberFlag, parseFlags, runCli } from "./_args.ts";
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

async function main() {
  const flags = parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(helpText("Usage: deno task web [--port N]", FLAGS));
    return;
  }
  const port = numberFlag("port", flags.port, 8000, { integer: true, min: 0, max: 65535 });
  const out = await Deno.makeTempDir({ prefix: "lenet-webgpu-web-" });
  const bundle = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--platform",
      "browser",
      "--quiet",
      new URL("main.ts", PAGE).pathname,
      "--output",
      `${out}/main.js`,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (bundle.code !== 0) throw new Error("deno bundle of examples/web/main.ts failed");
  const data = await loadFashionMnist({ verify: false });
  const files = new Map(
    Object.values(FASHION_MNIST.files).map((
      f,
    ) => [`/data/${f.file}`, `${data.source.replace(/\/$/, "")}/${f.file}`]),
  );
  const types: Record<string, string> = {
    html: "text/html",
    js: "text/javascript",
    gz: "application/gzip",
  };
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port,
    onListen: ({ port }) =>
      console.log(`serving the page on http://127.0.0.1:${port}/ (Ctrl-C stops)`),
  }, async (request) => {
    const path = new URL(request.url).pathname;
    const file = path === "/" || path === "/index.html"
      ? new URL("index.html", PAGE).pathname
      : path === "/main.js"
      ? `${out}/main.js`
      : files.get(path);
    if (!file) return new Response("not found", { status: 404 });
    try {
      const body = await Deno.readFile(file);
      return new Response(body, {
        headers: { "content-type": types[file.split(".").at(-1)!] ?? "application/octet-stream" },
      });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  Deno.addSignalListener("SIGINT", () => server.shutdown());
  Deno.addSignalListener("SIGTERM", () => server.shutdown());
  await server.finished;
  await Deno.remove(out, { recursive: true });
}

await runCli(main, "Run `deno task web --help` for the options.");
