// The library's training speed in headless Chromium (WebGPU on SwiftShader there): serves the
// page as `deno task web` does and runs it with ?auto three times, with `?tune=off` (the rules),
// `?tune=full` (every candidate timed, picks kept in the page's localStorage) and `?tune=cached`
// (those picks), printing what each reports, then the picks the full run stored (op key → variant,
// as JSON: SWIFTSHADER_PICKS in lib/nn/choose.ts is this, for the page's plan).
//
//   deno run -A tools/browser_bench.ts [--subset N]
import { Chromium, chromiumPath, serveWebPage } from "../tests/_chromium.ts";

const subset = Deno.args[0] === "--subset" ? Number(Deno.args[1]) : 2048;
const chromium = chromiumPath();
if (!chromium) {
  console.error("error: no chromium found (Debian: apt-get install chromium)");
  Deno.exit(1);
}
const { url, stop } = await serveWebPage();
const browser = await Chromium.launch(chromium);
try {
  for (const tune of ["off", "full", "cached"]) {
    await browser.send("Page.navigate", { url: `${url}?auto&subset=${subset}&tune=${tune}` });
    const t0 = performance.now();
    const result = await browser.waitFor(
      "document.getElementById('result')?.textContent",
      1_800_000,
    );
    console.log(
      `tune=${tune}: ${result} (${((performance.now() - t0) / 1000).toFixed(0)} s in all)`,
    );
  }
  const stored = await browser.evaluate(
    `JSON.stringify(Object.fromEntries(Object.keys(localStorage)
      .filter((k) => k.startsWith("lenet-webgpu tuning")).map((k) => [k, JSON.parse(localStorage[k])])), null, 1)`,
  );
  console.log(`stored picks: ${stored}`);
} finally {
  await browser.close();
  await stop();
}
