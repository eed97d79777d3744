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
