// The published package works outside this checkout: exactly the files `deno publish --dry-run`
// lists, copied to a temporary folder and imported by a separate consumer project, train a few
// steps with the data from a loopback mirror, and separately from FASHION_MNIST_DIR.
import { assert, assertEquals } from "./_assert.ts";
import { FASHION_MNIST } from "../data/spec.ts";

async function publishedFiles(): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, text);
  const root = new URL("../", import.meta.url).href;
  return [...text.matchAll(/(file:\/\/\S+) \(/g)].map((m) => m[1].slice(root.length));
}

const CONSUMER = `
import { evaluate, head, lenet5, loadFashionMnist, Model, requestGpu, train } from "@lenet-webgpu/lenet-webgpu";
const mirror = Deno.env.get("MIRROR");
const data = await loadFashionMnist({
  systemDirs: [],
  mirrors: mirror ? [mirror] : undefined,
  onProgress: () => {},
});
using model = new Model(await requestGpu(), lenet5({ activation: "relu", pool: "max" }));
const history = await train(model, { train: head(data.train, 512) }, { epochs: 1, batchSize: 64 });
const { accuracy } = await evaluate(model, head(data.test, 500));
console.log(JSON.stringify({ source: data.source, steps: history.progress.step, accuracy }));
`;

Deno.test("the published file set, outside the checkout, trains with data from a mirror or FASHION_MNIST_DIR", async () => {
  const files = await publishedFiles();
  assert(files.includes("mod.ts") && !files.some((f) => f.startsWith("data/fashion-mnist/")));
  const root = await Deno.makeTempDir({ prefix: "lenet-webgpu-package-" });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const name = new URL(request.url).pathname.slice(1);
    const known = Object.values(FASHION_MNIST.files).some((f) => f.file === name);
    return known
      ? new Response(await Deno.readFile(`data/fashion-mnist/${name}`))
      : new Response("no", { status: 404 });
  });
  try {
    for (const file of files) {
      await Deno.mkdir(`${root}/pkg/${file}`.replace(/\/[^/]*$/, ""), { recursive: true });
      await Deno.copyFile(file, `${root}/pkg/${file}`);
    }
    await Deno.mkdir(`${root}/app`);
    await Deno.writeTextFile(
      `${root}/app/deno.json`,
      JSON.stringify({ imports: { "@lenet-webgpu/lenet-webgpu": "../pkg/mod.ts" } }),
    );
    await Deno.writeTextFile(`${root}/app/main.ts`, CONSUMER);
    await Deno.mkdir(`${root}/fmnist`);
    for (const f of Object.values(FASHION_MNIST.files)) {
      await Deno.copyFile(`data/fashion-mnist/${f.file}`, `${root}/fmnist/${f.file}`);
    }
    const consume = async (env: Record<string, string>) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-read",
          "--allow-write",
          "--allow-env",
          "--allow-net=127.0.0.1",
          "main.ts",
        ],
        cwd: `${root}/app`,
        env: { XDG_CACHE_HOME: `${root}/cache`, NO_COLOR: "1", ...env },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
      return JSON.parse(new TextDecoder().decode(out.stdout));
    };
    const { port } = server.addr as Deno.NetAddr;
    const downloaded = await consume({ MIRROR: `http://127.0.0.1:${port}/` });
    assertEquals(downloaded.source, `${root}/cache/lenet-webgpu/fashion-mnist`);
    assertEquals(downloaded.steps, 8);
    assert(downloaded.accuracy > 0.1, JSON.stringify(downloaded));
    await Deno.remove(`${root}/cache`, { recursive: true });
    const fromEnv = await consume({ FASHION_MNIST_DIR: `${root}/fmnist` });
    assertEquals(fromEnv.source, `${root}/fmnist`);
    assertEquals(fromEnv.accuracy, downloaded.accuracy); // the same data and seed: the same run
  } finally {
    await server.shutdown();
    await Deno.remove(root, { recursive: true });
  }
});
