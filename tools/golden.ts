// `deno task golden`: regenerates the golden files under tests/fixtures/golden/ (the step plans,
// every op's candidates, the WGSL of the kernels the rules pick, and a manifest with the SHA-256
// of every other candidate's kernels; see tests/_golden.ts) and removes stale ones.
// `tests/golden_test.ts` fails until they are regenerated after a change to a kernel or to the
// plan, so the change shows in review as a diff.
//
// `deno task golden --show PATH` prints the WGSL of any candidate's kernels, by the path the
// manifest names (or a unique part of it), without writing anything.
import { parseArgs } from "node:util";
import { candidateKernels, GOLDEN_DIR, goldenFiles } from "../tests/_golden.ts";

const { values } = parseArgs({ args: Deno.args, options: { show: { type: "string" } } });
if (values.show !== undefined) {
  const { kernels } = candidateKernels();
  const matches = [...kernels.keys()].filter((p) => p === values.show || p.includes(values.show!));
  const exact = matches.find((p) => p === values.show);
  if (!exact && matches.length !== 1) {
    console.error(
      `error: --show ${values.show} names ${matches.length} kernel files${
        matches.length
          ? `: ${matches.slice(0, 5).join(", ")}${matches.length > 5 ? ", ..." : ""}`
          : ""
      }; give a path from ${GOLDEN_DIR}/kernels/manifest.txt`,
    );
    Deno.exit(2);
  }
  console.log(kernels.get(exact ?? matches[0]));
  Deno.exit(0);
}

const root = new URL("../", import.meta.url);
const dir = new URL(`${GOLDEN_DIR}/`, root);
const files = goldenFiles();
await Deno.remove(dir, { recursive: true }).catch(() => {});
for (const [path, text] of files) {
  const url = new URL(path, dir);
  await Deno.mkdir(new URL("./", url), { recursive: true });
  await Deno.writeTextFile(url, text);
}
console.log(`${files.size} golden files written to ${GOLDEN_DIR}/`);
