import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { loadFashionMnist, loadIdxDataset } from "../deno/locate.ts";
import { classCounts } from "../data/dataset.ts";
import { gzip, tinySpec } from "./_idx.ts";

async function tinyServed() {
  const { spec, tr, te } = await tinySpec(20, 6);
  const raw = { ti: tr.images, tl: tr.labels, si: te.images, sl: te.labels };
  const gz: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(raw)) gz[`${k}.gz`] = await gzip(v);
  const hits: string[] = [];
  // /good/ serves the files, /missing/ answers 404, /corrupt/ serves other bytes.
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const [, mirror, file] = new URL(req.url).pathname.split("/");
    hits.push(`${mirror}/${file}`);
    const body = gz[file];
    if (mirror === "missing" || !body) return new Response("no", { status: 404 });
    if (mirror === "corrupt") {
      return new Response(
        (body === gz["ti.gz"] ? gz["tl.gz"] : gz["ti.gz"]) as Uint8Array<ArrayBuffer>,
      );
    }
    return new Response(body as Uint8Array<ArrayBuffer>);
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  return { spec, server, base, hits, gz };
}

const isolated = { useEnv: false, useCheckout: false, systemDirs: [], onProgress: () => {} };

async function files(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("download: fetches every file into the cache and then loads it from there", async () => {
  const { spec, server, base, hits } = await tinyServed();
  const cacheDir = await Deno.makeTempDir();
  try {
    const progress: number[] = [];
    const ds = await loadIdxDataset({
      ...isolated,
      spec,
      cacheDir,
      mirrors: [`${base}/good/`],
      onProgress: (p) => progress.push(p.received),
    });
    assertEquals([ds.train.count, ds.test.count, ds.source], [20, 6, cacheDir]);
    assertEquals(await files(cacheDir), ["si.gz", "sl.gz", "ti.gz", "tl.gz"]);
    assert(progress.length >= 4);
    const again = await loadIdxDataset({ ...isolated, spec, cacheDir, mirrors: [`${base}/good/`] });
    assertEquals(again.train.count, 20);
    assertEquals(hits.length, 4, "the second load must come from the cache");
  } finally {
    await server.shutdown();
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("download: a 404 and a checksum mismatch fall through to the next mirror", async () => {
  const { spec, server, base, hits } = await tinyServed();
  const cacheDir = await Deno.makeTempDir();
  try {
    const mirrors = [`${base}/missing/`, `${base}/corrupt/`, `${base}/good/`];
    const ds = await loadIdxDataset({ ...isolated, spec, cacheDir, mirrors });
    assertEquals(ds.train.count, 20);
    assertEquals(hits.slice(0, 3), ["missing/ti.gz", "corrupt/ti.gz", "good/ti.gz"]);
  } finally {
    await server.shutdown();
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("download: when every mirror fails, the error lists them and no file is left", async () => {
  const { spec, server, base } = await tinyServed();
  const cacheDir = await Deno.makeTempDir();
  try {
    const err = await loadIdxDataset({
      ...isolated,
      spec,
      cacheDir,
      mirrors: [`${base}/missing/`, `${base}/corrupt/`],
    }).catch((e) => e);
    assert(err instanceof Error);
    assert(!err.message.includes("\n"), err.message);
    assert(/HTTP 404/.test(err.message), err.message);
    assert(/SHA-256 of the decompressed data/.test(err.message), err.message);
    assert(/looked in: .*download/.test(err.message), err.message);
    assertEquals(await files(cacheDir), [], "no partial or temp file may remain");
  } finally {
    await server.shutdown();
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("an explicit dataDir is used alone, and a missing file there is named", async () => {
  const { spec, server, gz } = await tinyServed();
  await server.shutdown();
  const dir = await Deno.makeTempDir();
  try {
    for (const [name, bytes] of Object.entries(gz)) await Deno.writeFile(`${dir}/${name}`, bytes);
    const ds = await loadIdxDataset({ ...isolated, spec, dataDir: dir, download: false });
    assertEquals(ds.test.count, 6);
    await Deno.remove(`${dir}/sl.gz`);
    await assertRejects(
      () => loadIdxDataset({ ...isolated, spec, dataDir: dir }),
      new RegExp(`${dir}/sl\\.gz: not found`),
    );
    await Deno.writeFile(`${dir}/sl.gz`, gz["sl.gz"].subarray(0, 12));
    await assertRejects(
      () => loadIdxDataset({ ...isolated, spec, dataDir: dir }),
      new RegExp(`${dir}/sl\\.gz: gzip data is truncated or corrupt`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("with nothing found and no download, the error says where it looked", async () => {
  const { spec, server } = await tinyServed();
  await server.shutdown();
  await assertRejects(
    () =>
      loadIdxDataset({
        ...isolated,
        spec,
        cacheDir: "/nonexistent/cache",
        systemDirs: ["/nonexistent/system"],
        download: false,
      }),
    /looked in: \/nonexistent\/cache; \/nonexistent\/system\. Pass --data-dir/,
  );
});

Deno.test("the committed Fashion-MNIST: 60,000 + 10,000 images, 6,000 / 1,000 per class", async () => {
  const ds = await loadFashionMnist({ useEnv: false, download: false });
  assert(ds.source.endsWith("data/fashion-mnist/"), ds.source);
  assertEquals([ds.train.count, ds.test.count, ds.train.rows, ds.train.cols], [
    60000,
    10000,
    28,
    28,
  ]);
  assertEquals(classCounts(ds.train, 10), new Array(10).fill(6000));
  assertEquals(classCounts(ds.test, 10), new Array(10).fill(1000));
  assertEquals(ds.classNames.length, 10);
});

const debian = "/usr/share/datasets/fashion-mnist";
Deno.test({
  name: "Debian's dataset-fashion-mnist folder loads to the same data",
  ignore: !(await Deno.stat(debian).then(() => true, () => false)),
  async fn() {
    const a = await loadFashionMnist({ dataDir: debian });
    const b = await loadFashionMnist({ useEnv: false, download: false });
    assertEquals([a.train.count, a.test.count], [60000, 10000]);
    assertEquals(a.train.labels, b.train.labels);
    assertEquals(a.test.images, b.test.images);
  },
});

Deno.test("download: a server that accepts but never answers, or stops mid-body, times out with a message", async () => {
  const { spec } = await tinySpec(20, 6);
  // Silent: accepts connections and reads nothing. Stalling: sends headers and 10 bytes of 100.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const stalling = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accept = async (listener: Deno.Listener, reply?: string) => {
    for await (const conn of listener) {
      held.push(conn);
      if (reply) await conn.write(new TextEncoder().encode(reply));
    }
  };
  const loops = [
    accept(silent),
    accept(stalling, "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789"),
  ];
  const cacheDir = await Deno.makeTempDir();
  try {
    const port = (l: Deno.Listener) => (l.addr as Deno.NetAddr).port;
    for (const [listener, what] of [[silent, "no response"], [stalling, "no data"]] as const) {
      const t0 = performance.now();
      await assertRejects(
        () =>
          loadIdxDataset({
            ...isolated,
            spec,
            cacheDir,
            mirrors: [`http://127.0.0.1:${port(listener)}/`],
            timeoutMs: 300,
          }),
        new RegExp(`${what} for 0\\.3 s`),
      );
      assert(performance.now() - t0 < 20_000, "the timeout must end the wait");
    }
    assertEquals(await files(cacheDir), [], "no partial file");
  } finally {
    silent.close();
    stalling.close();
    held.forEach((c) => c.close());
    await Promise.allSettled(loops);
    await Deno.remove(cacheDir, { recursive: true });
  }
});
