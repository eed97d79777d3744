// examples/lenet.ipynb, executed headless in the Deno Jupyter kernel (tools/run_notebook.py):
// every cell succeeds and the pictures are there. Skipped, saying why, without Jupyter.
import { assert, assertEquals } from "./_assert.ts";

const PYTHON = "/usr/bin/python3";

async function jupyterMissing(): Promise<string | undefined> {
  const probe = await new Deno.Command(PYTHON, {
    args: [
      "-c",
      "import jupyter_client, nbformat; from jupyter_client.kernelspec import KernelSpecManager as K; " +
      "assert 'deno' in K().find_kernel_specs(), 'no deno kernelspec (run: deno jupyter --install)'",
    ],
    stdout: "null",
    stderr: "piped",
  }).output().catch(() => undefined);
  if (!probe) return `${PYTHON} is missing`;
  if (probe.code !== 0) return new TextDecoder().decode(probe.stderr).trim().split("\n").at(-1);
}

const missing = await jupyterMissing();
if (missing) {
  console.log(
    `notebook test skipped: ${missing} (Debian: apt-get install jupyter-client python3-nbclient; deno jupyter --install)`,
  );
}

interface Output {
  type: string;
  data?: Record<string, string>;
  text?: string;
}

Deno.test({
  name: "the example notebook runs in the Deno kernel and shows its tables, curves and predictions",
  ignore: missing !== undefined,
  fn: async () => {
    const run = await new Deno.Command(PYTHON, {
      args: ["tools/run_notebook.py", "examples/lenet.ipynb", "--timeout", "600"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(run.code, 0, new TextDecoder().decode(run.stderr));
    const { cells } = JSON.parse(new TextDecoder().decode(run.stdout)) as {
      cells: { id: string; status: string; error?: string; outputs: Output[] }[];
    };
    for (const cell of cells) assertEquals(cell.status, "ok", `${cell.id}: ${cell.error}`);
    const html = (id: string, type = "execute_result") =>
      cells.find((c) => c.id === id)!.outputs.filter((o) => o.type === type).map((o) =>
        o.data?.["text/html"] ?? ""
      );
    assert(
      html("cell-03")[0].includes("<table>") && html("cell-03")[0].includes("61,706"),
      "the layer table",
    );
    assert(html("cell-05")[0].includes("<svg"), "the training curves");
    assert(html("cell-05", "update_display_data").length > 0, "progress updated in place");
    const result = html("cell-07")[0];
    assert(result.includes("Confusion matrix") && result.includes("<svg"), "the confusion matrix");
    assertEquals(result.match(/<img /g)?.length, 32, "the grid of test images");
    // The inspection and the mistakes display themselves as SVG pictures.
    const svg = (id: string) =>
      cells.find((c) => c.id === id)!.outputs.filter((o) => o.type === "execute_result").map((o) =>
        o.data?.["image/svg+xml"] ?? ""
      )[0] ?? "";
    const inspection = svg("cell-10");
    assert(/saliency: ∂ logit\[/.test(inspection), "the saliency map");
    assert((inspection.match(/<image /g)?.length ?? 0) >= 2 + 6 + 6 + 16 + 16, "the feature maps");
    assert(inspection.includes("filters 3.weight"), "the filters");
    assertEquals(svg("cell-12").match(/<image /g)?.length, 12, "the most confident mistakes");
    // The modern recipe's run with a validation split: both accuracies, in the chart and the text.
    assert(html("cell-14")[0].includes("validation accuracy"), "the validation curve");
    const modern = cells.find((c) =>
      c.id === "cell-14"
    )!.outputs.find((o) => o.type === "execute_result")!.data!["text/plain"];
    assert(/epoch 2: .*validation accuracy 0\.[5-9].*test accuracy 0\.[5-9]/.test(modern), modern);
    const accuracy = cells.at(-1)!.outputs.find((o) =>
      o.type === "execute_result"
    )!.data!["text/plain"];
    assert(/test accuracy 0\.[3-9]/.test(accuracy), accuracy);
  },
});
