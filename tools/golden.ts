// `deno task golden`: regenerates the golden files under tests/fixtures/golden/ (the step plans,
// every op's candidates and the WGSL of every candidate's kernels; see tests/_golden.ts) and
// removes stale ones. `tests/golden_test.ts` fails until they are regenerated after a change to a
// kernel or to the plan, so the change shows in review as a diff.
import { GOLDEN_DIR, goldenFiles } from "../tests/_golden.ts";

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
