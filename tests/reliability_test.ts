// Reliability, round two: odd files never hang a command, decompression and downloads stop at the
// size a file may have, paths are paths (a checkout whose path needs escaping works), the web
// server ends with the signal's code and leaves no temp folder, and a resumed run's settings and
// progress are checked as flags are.
import { assert, assertEquals, assertMatch, assertRejects, assertThrows } from "./_assert.ts";
import { encodeSafetensors } from "../lib/io/safetensors.ts";
import { lenet5 } from "../lib/nn/lenet.ts";
import { decodeImage } from "../cli/_decode.ts";
import { run } from "./_cli.ts";
import { fileTuningStore } from "../deno/tuning_store.ts";
import { gunzip } from "../data/idx.ts";
import { fetchBytes } from "../data/download.ts";
import { decodeTrainingState, encodeTrainingState } from "../lib/io/training_state.ts";
import { fileURLToPath } from "node:url";
import { checkGpu } from "../lib/gpu/device.ts";
import {
  Adam,
  evaluate,
  GpuFaultError,
  Model,
  requestGpu,
  SGD,
  splitFromArrays,
  train,
} from "../mod.ts";
import { testGpu } from "./_gpu.ts";

const root = fileURLToPath(new URL("../", import.meta.url));

const gzip = async (bytes: Uint8Array) =>
  new Uint8Array(
    await new Response(
      new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
        new CompressionStream("gzip"),
      ),
    ).arrayBuffer(),
  );

Deno.test("a FIFO or unreadable tuning cache is reported and ignored, never blocks; a read-only cache says where picks were not stored", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/tuning.json`;
  await new Deno.Command("mkfifo", { args: [path] }).output();
  const warnings: string[] = [];
  const store = fileTuningStore(path, (line) => warnings.push(line));
  assertEquals(await store.load("adapter"), {}); // returns at once: a FIFO is not read
  assertMatch(warnings[0], /tuning\.json.*not a regular file.*ignored/);
  await Deno.remove(path);
  // A cache that cannot be written (here its folder is a file: read-only for root too).
  await Deno.writeTextFile(`${dir}/file`, "");
  const unwritable = fileTuningStore(`${dir}/file/tuning.json`, (line) => warnings.push(line));
  await unwritable.save("adapter", { "matmul 8x8x8": "storage tile 4x8" });
  assertMatch(warnings.at(-1)!, /picks could not be stored in .*file\/tuning\.json/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("train with a FIFO as the tuning cache starts at once", async () => {
  const cache = await Deno.makeTempDir();
  await Deno.mkdir(`${cache}/lenet-webgpu`);
  await new Deno.Command("mkfifo", { args: [`${cache}/lenet-webgpu/tuning.json`] }).output();
  const out = await Deno.makeTempDir();
  const args = ["--epochs", "1", "--subset", "64", "--batch-size", "64", "--out", `${out}/r`];
  const { code, stderr } = await run("cli/train.ts", args, { XDG_CACHE_HOME: cache });
  assertEquals(code, 0, stderr);
  assertMatch(stderr, /tuning\.json.*not a regular file/);
  await Deno.remove(cache, { recursive: true });
  await Deno.remove(out, { recursive: true });
});

Deno.test("decompression stops at what the IDX header (or the known file) allows", async () => {
  // 64 MiB of zeros: no IDX header, refused after the first chunk.
  const zeros = await gzip(new Uint8Array(64 * 2 ** 20));
  await assertRejects(() => gunzip(zeros, "train-images-idx3-ubyte.gz"), Error, "not an IDX file");
  // A header that declares 1×2×2 bytes followed by 1 MiB: refused past 4 + 12 + 4 bytes.
  const header = Uint8Array.of(0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2);
  const long = new Uint8Array(header.length + 2 ** 20);
  long.set(header);
  await assertRejects(
    async () => gunzip(await gzip(long), "x.gz"),
    Error,
    "more than the 20 bytes",
  );
  // A known file's size caps it too.
  const declared = Uint8Array.of(0, 0, 8, 1, 0, 1, 0, 0); // 65,536 labels declared
  const labels = new Uint8Array(8 + 65536);
  labels.set(declared);
  await assertRejects(async () => gunzip(await gzip(labels), "l.gz", 60008), Error, "60008 bytes");
  assertEquals((await gunzip(await gzip(labels), "l.gz")).length, 8 + 65536);
});

Deno.test("a download is refused past the size the file may have", async () => {
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
    () => new Response(new Uint8Array(2 ** 20)),
  );
  const url = `http://127.0.0.1:${server.addr.port}/x.gz`;
  await assertRejects(() => fetchBytes(url, "x.gz", () => {}, 5000, 1000), Error, "more than");
  assertEquals((await fetchBytes(url, "x.gz", () => {}, 5000, 2 ** 21)).length, 2 ** 20);
  ac.abort();
  await server.finished;
});

/** A copy of the module's sources (not the data) under a folder whose name needs escaping. */
async function oddCheckout(): Promise<string> {
  const dir = `${await Deno.makeTempDir()}/a folder with spaces & #hash`;
  await Deno.mkdir(dir, { recursive: true });
  for (const entry of ["cli", "data", "deno", "lib", "kernels", "examples"]) {
    await new Deno.Command("cp", { args: ["-r", `${root}${entry}`, `${dir}/`] }).output();
  }
  await Deno.remove(`${dir}/data/fashion-mnist`, { recursive: true });
  for (const f of ["mod.ts", "engine.ts", "errors.ts", "deno.json", "deno.lock"]) {
    await Deno.copyFile(`${root}${f}`, `${dir}/${f}`);
  }
  return dir;
}

Deno.test("deno task web works from a path that needs escaping, exits 143 on SIGTERM and 2 on a taken port, leaving no temp folder", async () => {
  const dir = await oddCheckout();
  const tmp = await Deno.makeTempDir();
  const env = { FASHION_MNIST_DIR: `${root}data/fashion-mnist`, TMPDIR: tmp, NO_COLOR: "1" };
  const web = (port: string) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "cli/web.ts", "--port", port],
      cwd: dir,
      env,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  const child = web("0");
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/http:\/\/127\.0\.0\.1:(\d+)\//.test(text)) {
    const { value, done } = await reader.read();
    assert(!done, "the server ended before listening");
    text += value;
  }
  const port = text.match(/127\.0\.0\.1:(\d+)/)![1];
  for (const path of ["/", "/main.js", "/data/t10k-labels-idx1-ubyte.gz"]) {
    const response = await fetch(`http://127.0.0.1:${port}${path}`);
    assertEquals(response.status, 200, path);
    await response.body?.cancel();
  }
  const taken = await web(port).output();
  assertEquals(taken.code, 2);
  assertMatch(new TextDecoder().decode(taken.stderr), /--port \d+ is in use/);
  child.kill("SIGTERM");
  reader.releaseLock();
  await child.stdout.cancel().catch(() => {});
  const status = await child.status;
  await child.stderr.cancel().catch(() => {});
  assertEquals(status.code, 143);
  assertEquals([...Deno.readDirSync(tmp)].map((e) => e.name), []);
  await Deno.remove(tmp, { recursive: true });
  await Deno.remove(dir.replace(/\/a folder.*$/, ""), { recursive: true });
});

Deno.test("train --resume checks the state's settings and progress as it checks flags", async () => {
  const out = await Deno.makeTempDir();
  const quick = ["--epochs", "1", "--subset", "128", "--batch-size", "64"];
  const first = await run("cli/train.ts", [...quick, "--out", `${out}/r`]);
  assertEquals(first.code, 0, first.stderr);
  const path = `${out}/r/training_state.safetensors`;
  const state = decodeTrainingState(await Deno.readFile(path), path);
  const cases: [string, (s: typeof state) => void, RegExp][] = [
    [
      "lr −5",
      (s) => (s.settings as Record<string, unknown>).lr = -5,
      /lr expects .*greater than 0/,
    ],
    ["batch 9999", (s) => (s.progress.batch = 9999), /batch 9999 is not a batch of an epoch of 2/],
    [
      "activation swish",
      (s) => (s.settings as Record<string, unknown>).activation = "swish",
      /activation/,
    ],
  ];
  for (const [name, change, message] of cases) {
    const bad = structuredClone(state);
    change(bad);
    await Deno.writeFile(path, encodeTrainingState(bad));
    const { code, stderr } = await run("cli/train.ts", ["--resume", `${out}/r`, "--epochs", "2"]);
    assertEquals(code, 1, `${name}: ${stderr}`);
    assertMatch(stderr, /training_state\.safetensors: /, name);
    assertMatch(stderr, message, name);
  }
  await Deno.remove(out, { recursive: true });
});

Deno.test("sizes are checked in arithmetic before anything is built: summary, train, eval and lenet5 refuse at once, naming what fits", async () => {
  const t0 = performance.now();
  for (const args of [["--resize", "4096"], ["--resize", "600"]]) {
    const summary = await run("cli/summary.ts", args);
    assertEquals(summary.code, 2, summary.stderr);
    assertMatch(
      summary.stderr,
      /--resize \d+ needs \d+ MiB of parameters.*--resize 539 or less fits/,
    );
    const train = await run("cli/train.ts", [...args, "--batch-size", "1", "--epochs", "1"]);
    assertEquals(train.code, 2, train.stderr);
    assertMatch(train.stderr, /--resize 539 or less fits/);
  }
  const dir = await Deno.makeTempDir();
  const net = lenet5();
  const tensors = Object.fromEntries(
    net.namedParameters().map((p) => [p.qualifiedName, { shape: p.shape, data: p.data }]),
  );
  const meta = { activation: "sigmoid", pool: "avg", input_size: "4096" };
  await Deno.writeFile(`${dir}/big.safetensors`, encodeSafetensors(tensors, meta));
  const evaluation = await run("cli/eval.ts", ["--checkpoint", `${dir}/big.safetensors`]);
  assertEquals(evaluation.code, 1, evaluation.stderr);
  assertMatch(evaluation.stderr, /big\.safetensors: input_size 4096 in its metadata: .* 539/);
  assertThrows(
    () => lenet5({ inputSize: 4096 }),
    RangeError,
    "the largest input size that fits is 539",
  );
  // Each refusal takes a process start, not minutes.
  assert(performance.now() - t0 < 60_000, `${performance.now() - t0} ms`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("pictures: the size is read from the header and capped before decoding (text PGM, PNG)", () => {
  const text = (s: string) => new TextEncoder().encode(s);
  // 10,000 × 10,000 declared: refused from the header, whatever follows.
  assertThrows(
    () => decodeImage(text("P2\n10000 10000\n255\n0 0 0\n"), "huge.pgm"),
    Error,
    "huge.pgm: a PGM of 10000×10000 pixels is larger than the 16.8 megapixels (4096×4096)",
  );
  const png = new Uint8Array(64);
  png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  new DataView(png.buffer).setUint32(16, 8000);
  new DataView(png.buffer).setUint32(20, 12000);
  assertThrows(() => decodeImage(png, "big.png"), Error, "a PNG of 8000×12000 pixels");
  // A plain PGM is read value by value, comments and any whitespace between them.
  const small = decodeImage(text("P2\n# c\n3 2\n# max\n10\n0 5 10\n10\t5 # end\n0\n"), "s.pgm");
  assertEquals([small.width, small.height], [3, 2]);
  assertEquals([...small.data].filter((_, i) => i % 4 === 0), [0, 128, 255, 255, 128, 0]);
  assertThrows(
    () => decodeImage(text("P2\n2 2\n10\n0 5 11 3\n"), "bad.pgm"),
    Error,
    "expected 4 values",
  );
});

Deno.test("a save killed midway leaves temp files and older files: resume continues, clearing them", async () => {
  const out = await Deno.makeTempDir();
  const quick = ["--subset", "128", "--batch-size", "64"];
  const first = await run("cli/train.ts", [...quick, "--epochs", "1", "--out", `${out}/r`]);
  assertEquals(first.code, 0, first.stderr);
  // As `kill -9` between the temp files and the renames of the next save leaves it.
  for (const name of ["metrics.jsonl", "model.safetensors", "training_state.safetensors"]) {
    await Deno.writeTextFile(`${out}/r/${name}.0badcafe.tmp`, "partial");
  }
  const resumed = await run("cli/train.ts", ["--resume", `${out}/r`, "--epochs", "2"]);
  assertEquals(resumed.code, 0, resumed.stderr);
  const names = [...Deno.readDirSync(`${out}/r`)].map((e) => e.name).sort();
  assertEquals(names, [
    "loss.svg",
    "metrics.jsonl",
    "model.safetensors",
    "training_state.safetensors",
  ]);
  const metrics = (await Deno.readTextFile(`${out}/r/metrics.jsonl`)).trim().split("\n");
  assertEquals(metrics.map((l) => JSON.parse(l).epoch), [1, 2]);
  await Deno.remove(out, { recursive: true });
});

Deno.test("a device fault stops the run that saw it, not the next model on the same device", async () => {
  const gpu = await requestGpu();
  gpu.device.createBuffer({ size: 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.MAP_WRITE });
  await gpu.device.queue.onSubmittedWorkDone();
  assertThrows(() => checkGpu(gpu), GpuFaultError);
  using model = new Model(gpu, lenet5());
  const images = Uint8Array.from({ length: 32 * 28 * 28 }, (_, k) => k % 251);
  const split = splitFromArrays(images, Uint8Array.from({ length: 32 }, (_, k) => k % 10), 28, 28);
  const result = await evaluate(model, split);
  assert(Number.isFinite(result.accuracy));
  gpu.device.destroy();
});

Deno.test("a signal aborted before train() takes no step; Adam and SGD refuse what PyTorch refuses", async () => {
  using model = new Model(await testGpu(), lenet5());
  const before = await model.stateDict();
  const images = Uint8Array.from({ length: 64 * 784 }, (_, k) => k % 251);
  const split = splitFromArrays(images, Uint8Array.from({ length: 64 }, (_, k) => k % 10), 28, 28);
  const history = await train(model, { train: split }, {
    epochs: 1,
    batchSize: 16,
    signal: AbortSignal.abort(),
  });
  assert(history.stopped);
  assertEquals(history.progress.step, 0);
  assertEquals(await model.stateDict(), before);
  assertThrows(
    () => new Adam({ lr: -5 }),
    RangeError,
    "Adam: lr must be a finite number at least 0",
  );
  assertThrows(() => new Adam({ betas: [0.9, 1] }), RangeError, "betas[1]");
  assertThrows(() => new SGD({ momentum: -0.1 }), RangeError, "SGD: momentum");
  assertThrows(() => new SGD({ lr: NaN }), RangeError, "SGD: lr");
});
