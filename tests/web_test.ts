// The browser page, served by `deno task web` on 127.0.0.1 and opened with ?auto in headless
// Chromium (WebGPU on SwiftShader), trains a short run and reports an accuracy well above chance.
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
    } finally {
      await browser?.close();
      await stop();
    }
  },
});
