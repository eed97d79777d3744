// What the layers test reads of the source without running it: the import graph (from
// `deno info --json`, which resolves every static and type import as Deno does) and the length
// of every function body (a small scanner: comments and quoted strings blanked, braces matched).
import { relative } from "node:path";
import { fileURLToPath as fromFileUrl, pathToFileURL } from "node:url";

/** Source folders and files of the module (not tests, not fixtures). */
export const SOURCE_ROOTS = ["mod.ts", "engine.ts", "errors.ts", "cli", "data", "deno", "lib"]
  .concat(["kernels", "examples/web", "tools"]);

const root = fromFileUrl(new URL("../", import.meta.url));

/** Every `.ts` file under the source roots, relative to the repository root. */
export async function sourceFiles(): Promise<string[]> {
  const out: string[] = [];
  const walk = async (path: string) => {
    const info = await Deno.stat(`${root}${path}`);
    if (info.isFile) {
      if (path.endsWith(".ts")) out.push(path);
      return;
    }
    for await (const entry of Deno.readDir(`${root}${path}`)) await walk(`${path}/${entry.name}`);
  };
  for (const r of SOURCE_ROOTS) await walk(r);
  return out.sort();
}

/** The import graph of `files`: each file → the local files it imports (code or types). */
export async function importGraph(files: string[]): Promise<Map<string, Set<string>>> {
  // One `deno info` over a module that imports every file resolves the whole graph at once.
  const dir = await Deno.makeTempDir();
  const entry = `${dir}/all.ts`;
  await Deno.writeTextFile(
    entry,
    files.map((f) => `import "${pathToFileURL(`${root}${f}`).href}";\n`).join(""),
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: root,
    stderr: "inherit",
  }).output();
  await Deno.remove(dir, { recursive: true });
  if (!out.success) throw new Error("deno info failed");
  const info = JSON.parse(new TextDecoder().decode(out.stdout));
  const local = (specifier?: string) =>
    specifier?.startsWith("file://") && fromFileUrl(specifier).startsWith(root)
      ? relative(root, fromFileUrl(specifier))
      : undefined;
  const graph = new Map<string, Set<string>>();
  for (const m of info.modules) {
    const from = local(m.specifier);
    if (!from || !files.includes(from)) continue;
    const deps = new Set<string>();
    for (const d of m.dependencies ?? []) {
      for (const to of [local(d.code?.specifier), local(d.type?.specifier)]) if (to) deps.add(to);
    }
    graph.set(from, deps);
  }
  return graph;
}

/**
 * The non-local imports (`node:`, `npm:`, `jsr:`, URLs) of every module reachable from `entry`,
 * as `importer → specifier`.
 */
export async function externalImports(entry: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: root,
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("deno info failed");
  const info = JSON.parse(new TextDecoder().decode(out.stdout));
  const found: string[] = [];
  for (const m of info.modules) {
    if (!m.specifier?.startsWith("file://")) continue;
    for (const d of m.dependencies ?? []) {
      if (!d.specifier.startsWith(".") && !d.specifier.startsWith("file:")) {
        found.push(`${relative(root, fromFileUrl(m.specifier))} → ${d.specifier}`);
      }
    }
  }
  return found;
}

/** The cycles of a graph (its strongly connected components of more than one file). */
export function cycles(graph: Map<string, Set<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>(), low = new Map<string, number>();
  const stack: string[] = [], onStack = new Set<string>(), found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** The text with comments and quoted strings blanked (template literals kept: code runs in them). */
export function blankCommentsAndStrings(text: string): string {
  let out = "";
  for (let i = 0; i < text.length;) {
    const two = text.slice(i, i + 2);
    const end = two === "//"
      ? text.indexOf("\n", i)
      : two === "/*"
      ? text.indexOf("*/", i) + 2
      : text[i] === '"' || text[i] === "'"
      ? closingQuote(text, i)
      : -2;
    if (end === -2) {
      out += text[i++];
      continue;
    }
    const stop = end < i ? text.length : end;
    out += text.slice(i, stop).replace(/[^\n]/g, " ");
    i = stop;
  }
  return out;
}

function closingQuote(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === text[start] || text[i] === "\n") return i + 1;
  }
  return text.length;
}

/** A function body's extent: where it starts (1-based line) and how many lines it spans. */
export interface FunctionExtent {
  /** The function's first line (its header). */
  line: number;
  /** Lines from the header to the closing brace, both included. */
  lines: number;
  /** The header, trimmed. */
  header: string;
}

const KEYWORDS = /^(if|for|while|switch|catch|return|await|new|typeof|function)$/;

/** Every function, method and braced arrow function of a file, with its length in lines. */
export function functionExtents(text: string): FunctionExtent[] {
  const code = blankCommentsAndStrings(text);
  const lineOf = (offset: number) => code.slice(0, offset).split("\n").length;
  const lines = text.split("\n");
  const out: FunctionExtent[] = [];
  const add = (start: number, open: number) => {
    const close = matching(code, open, "{", "}");
    if (close < 0) return;
    const line = lineOf(start);
    out.push({ line, lines: lineOf(close) - line + 1, header: lines[line - 1].trim() });
  };
  // `function name(...) ... {` and methods `name(...) ... {` at the start of a line.
  const named =
    /\bfunction\b\s*\*?\s*[\w$]*\s*(<[^>(]*>)?\s*\(|^[ \t]*(?:(?:public|private|static|async|override|get|set|readonly)\s+)*(#?[\w$]+|\[[\w$.]+\])\s*(<[^>(]*>)?\s*\(/gm;
  for (const m of code.matchAll(named)) {
    if (m[2] && KEYWORDS.test(m[2])) continue;
    const paren = m.index! + m[0].length - 1;
    const closeParen = matching(code, paren, "(", ")");
    if (closeParen < 0) continue;
    const brace = code.indexOf("{", closeParen);
    const between = code.slice(closeParen + 1, brace);
    if (brace < 0 || /[;=]|=>/.test(between)) continue;
    add(m.index!, brace);
  }
  for (const m of code.matchAll(/=>\s*\{/g)) add(m.index!, m.index! + m[0].length - 1);
  return out;
}

function matching(code: string, open: number, a: string, b: string): number {
  let depth = 0;
  for (let i = open; i < code.length; i++) {
    if (code[i] === a) depth++;
    else if (code[i] === b && --depth === 0) return i;
  }
  return -1;
}

/** Reads a source file by its path relative to the repository root. */
export function readSource(path: string): Promise<string> {
  return Deno.readTextFile(`${root}${path}`);
}
