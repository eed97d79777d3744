// The layers of the code, enforced as Deno std's `_tools/check_circular_deps.ts` does: imports go
// down only (cli → deno → mod/engine → lib → data → kernels, errors.ts under all of them), with no
// cycle; the core (lib/, data/, kernels/) uses web APIs only; the page imports the public entry
// points only; and no function is longer than a screenful or two.
import assert from "node:assert/strict";
import {
  blankCommentsAndStrings,
  cycles,
  externalImports,
  functionExtents,
  importGraph,
  readSource,
  sourceFiles,
} from "./_source_scan.ts";

const files = await sourceFiles();
const graph = await importGraph(files);
const layer = (file: string) => file.includes("/") ? file.split("/")[0] : file;

/** Which layers each layer may import (besides itself). */
const ALLOWED: Record<string, readonly string[]> = {
  "errors.ts": [],
  kernels: [],
  data: ["errors.ts", "kernels"],
  lib: ["errors.ts", "kernels", "data"],
  "mod.ts": ["errors.ts", "kernels", "data", "lib", "deno"],
  "engine.ts": ["errors.ts", "kernels", "data", "lib", "deno"],
  deno: ["errors.ts", "kernels", "data", "lib", "mod.ts", "engine.ts"],
  cli: ["errors.ts", "kernels", "data", "lib", "mod.ts", "engine.ts", "deno"],
  examples: ["mod.ts", "engine.ts"],
  tools: ["errors.ts", "kernels", "data", "lib", "mod.ts", "engine.ts", "deno", "cli", "tests"],
};

Deno.test("layers: the scan sees every source folder and their imports", () => {
  for (const l of Object.keys(ALLOWED)) assert.ok(files.some((f) => layer(f) === l), l);
  assert.ok(graph.get("lib/nn/conv2d.ts")?.has("kernels/conv2d.ts"));
  assert.deepEqual(cycles(new Map([["a", new Set(["b"])], ["b", new Set(["a"])]])), [["a", "b"]]);
});

Deno.test("layers: no import cycle in the source", () => {
  assert.deepEqual(cycles(graph), []);
});

Deno.test("layers: imports go down only", () => {
  const wrong: string[] = [];
  for (const [from, deps] of graph) {
    for (const to of deps) {
      const a = layer(from), b = layer(to);
      if (a !== b && !ALLOWED[a]?.includes(b)) wrong.push(`${from} → ${to}`);
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("layers: the core uses web APIs only (no Deno.*, no node:)", async () => {
  const wrong: string[] = [];
  for (const file of files.filter((f) => ["lib", "data", "kernels"].includes(layer(f)))) {
    // Doc examples (in comments) may use Deno to set up; the code itself may not.
    const code = blankCommentsAndStrings(await readSource(file));
    if (/\bDeno\.|from\s+["']node:/.test(code)) wrong.push(file);
  }
  assert.deepEqual(wrong, []);
});

Deno.test("layers: the browser page's graph imports nothing a browser cannot load (node:, npm:)", async () => {
  assert.deepEqual(await externalImports("examples/web/main.ts"), []);
});

Deno.test("layers: no function is longer than 120 lines", async () => {
  const long: string[] = [];
  for (const file of files) {
    for (const f of functionExtents(await readSource(file))) {
      if (f.lines > 120) long.push(`${file}:${f.line} ${f.header} (${f.lines} lines)`);
    }
  }
  assert.deepEqual(long, []);
});

Deno.test("layers: the function scan measures bodies, headers spread over lines included", () => {
  const text = [
    "export async function f(",
    "  a: number,",
    "  { b }: { b: number },",
    "): Promise<void> {",
    "  const g = (x: number) => {",
    '    return x + "{";',
    "  };",
    "}",
    "class C {",
    "  m(x: number): number {",
    "    if (x) {",
    "      return 1;",
    "    }",
    "    return 2;",
    "  }",
    "}",
  ].join("\n");
  assert.deepEqual(
    functionExtents(text).map((e) => [e.line, e.lines]).sort((a, b) => a[0] - b[0]),
    [[1, 8], [5, 3], [10, 6]],
  );
});
