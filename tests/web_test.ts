// The browser page, served by `deno task web` on 127.0.0.1 and opened with ?auto in headless
// Chromium (WebGPU on SwiftShader), trains a short run and reports an accuracy well above chance;
// a click on a test image then shows its inspection.
// Skipped, saying why, without Chromium.
import { assert } from "./_assert.ts";
import { Chromium, chromiumPath, serveWebPage } from "./_chromium.ts";

const chromium = chromiumPath();
if (!chromium) console.log("browser test skipped: no chromium (Debian: apt-get install chromium)");

Deno.test({
  name: "the page trains in headless Chromium and writes its test accuracy into #result",
  ignore: !chromium,
  fn: async () => {
    const { url, stop } = await serveWebPage();
    let browser: Chromium | undefined;
    try {
      browser = await Chromium.launch(chromium!);
      await browser.send("Page.navigate", { url: `${url}?auto&subset=2048` });
      const result = JSON.parse(
        await browser.waitFor("document.getElementById('result')?.textContent", 300_000),
      );
      console.log("the page reports", result);
      assert(result.test_accuracy > 0.3, JSON.stringify(result));
      const shown = await browser.evaluate("document.querySelectorAll('#predictions img').length");
      assert(shown === 48, `${shown} test images shown`);
      // A click on a test image shows what the network makes of it.
      await browser.evaluate("document.querySelectorAll('#predictions figure')[3].click()");
      const title = await browser.waitFor(
        "document.querySelector('#inspection h2')?.textContent",
        240_000,
      );
      assert(title === "Test image 3", title);
      const pictures = await browser.evaluate(
        "document.querySelectorAll('#inspection image').length",
      );
      assert(pictures === 2 + 6 + 6 + 16 + 16 + 6 + 96, `${pictures} pictures in the inspection`);
    } finally {
      await browser?.close();
      await stop();
    }
  },
});

Deno.test({
  name:
    "the page checks its numbers where they enter: ?subset=-1 and ?epochs=1.5 are named, nothing trains",
  ignore: !chromium,
  fn: async () => {
    const { url, stop } = await serveWebPage();
    let browser: Chromium | undefined;
    try {
      browser = await Chromium.launch(chromium!);
      for (
        const [query, message] of [
          ["subset=-1", /\?subset= expects a whole number from 1 to 60000, got "-1"/],
          ["epochs=1.5", /\?epochs= expects a whole number from 1 to 1000, got "1\.5"/],
        ] as const
      ) {
        await browser.send("Page.navigate", { url: `${url}?auto&${query}` });
        const result = JSON.parse(
          await browser.waitFor("document.getElementById('result')?.textContent", 60_000),
        );
        assert(message.test(result.error ?? ""), JSON.stringify(result));
      }
    } finally {
      await browser?.close();
      await stop();
    }
  },
});

/**
 * A process's peak resident memory in MB (Linux's VmHWM), read by a subprocess: Deno reads
 * /proc/<pid>/ only with --allow-all.
 */
async function peakMb(pid: number): Promise<number> {
  const out = await new Deno.Command("grep", { args: ["VmHWM", `/proc/${pid}/status`] }).output();
  return Number(/VmHWM:\s+(\d+) kB/.exec(new TextDecoder().decode(out.stdout))![1]) / 1024;
}

Deno.test("the page's server streams its files: 60 concurrent downloads of the training images in bounded memory", async () => {
  const { url, pid, stop } = await serveWebPage();
  try {
    const before = await peakMb(pid);
    const file = `${url}data/train-images-idx3-ubyte.gz`;
    const size = Number((await fetch(file, { method: "HEAD" })).headers.get("content-length"));
    assert(size > 20e6, `${size} bytes`);
    const answers = await Promise.all(
      Array.from({ length: 60 }, async () => {
        const r = await fetch(file);
        return { status: r.status, bytes: (await r.arrayBuffer()).byteLength };
      }),
    );
    const served = answers.filter((a) => a.status === 200);
    // Every request is served whole, or told to come back (at most 16 at once).
    assert(served.length >= 16 && served.every((a) => a.bytes === size), JSON.stringify(answers));
    assert(answers.every((a) => a.status === 200 || a.status === 503), JSON.stringify(answers));
    const grown = (await peakMb(pid)) - before;
    console.log(
      `${served.length} served whole, ${answers.length - served.length} told to retry; peak grew ${
        grown.toFixed(0)
      } MB`,
    );
    // Read whole, 16 requests at once would hold ~16 × 26 MB and more.
    assert(grown < 150, `the server's peak memory grew ${grown.toFixed(0)} MB`);
    // Every slot came back: the next requests are served, one after another.
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`${url}data/t10k-labels-idx1-ubyte.gz`);
      assert(r.status === 200, `request ${i} after the burst: ${r.status}`);
      await r.arrayBuffer();
    }
  } finally {
    await stop();
  }
});

Deno.test({
  name: "the Chromium helper leaves no browser profile behind",
  ignore: !chromium,
  fn: async () => {
    const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
    const profiles = async () => {
      const names = new Set<string>();
      for await (const e of Deno.readDir(tmp)) {
        if (e.name.startsWith("lenet-webgpu-chromium-")) names.add(e.name);
      }
      return names;
    };
    const before = await profiles();
    for (let i = 0; i < 4; i++) {
      const browser = await Chromium.launch(chromium!);
      await browser.send("Page.navigate", { url: "about:blank" });
      await browser.close();
    }
    const left = [...await profiles()].filter((name) => !before.has(name));
    assert(left.length === 0, `profiles left: ${left.join(", ")}`);
  },
});
