/**
 * File access for the Deno edges (`deno/locate.ts` and `cli/`): reading only regular files (a
 * FIFO or a device would block forever), writing through a temp file and a rename (a reader never
 * sees half a file), and error messages that say what happened to which path.
 *
 * @module
 */

/**
 * The message of any thrown value; Deno's file errors get a plain reason instead of their
 * syscall text (and no advice about `--allow-all`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorText } from "./files.ts";
 * assert.equal(errorText(new Deno.errors.NotFound("stat '/x'")), "no such file or folder");
 * assert.equal(errorText("plain"), "plain");
 * ```
 */
export function errorText(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "no such file or folder";
  if (e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotCapable) {
    return "permission denied";
  }
  if (e instanceof Deno.errors.IsADirectory) return "it is a folder";
  if (e instanceof Deno.errors.AlreadyExists) return "it already exists";
  if (e instanceof Deno.errors.NotADirectory) return "a part of the path is not a folder";
  const message = e instanceof Error ? e.message : String(e);
  return message.split("\n")[0];
}

/**
 * The path of a `file:` URL, decoded (spaces and other escaped characters as they are on disk).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pathOf } from "./files.ts";
 * assert.equal(pathOf(new URL("file:///tmp/a%20b/c.ts")), "/tmp/a b/c.ts");
 * ```
 */
export function pathOf(url: URL): string {
  if (url.protocol !== "file:") throw new TypeError(`${url.href} is not a file URL`);
  // No node:url here: this module is in mod.ts's graph, which the browser page bundles.
  const path = decodeURIComponent(url.pathname);
  return Deno.build.os === "windows"
    ? path.replace(/^\/([A-Za-z]:)/, "$1").replaceAll("/", "\\")
    : path;
}

/**
 * Reads a regular file whole, refusing anything else (a FIFO would block, a folder cannot be
 * read) and files larger than `maxBytes`. Errors name the path.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readRegularFile } from "./files.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeFile(path, Uint8Array.of(1, 2, 3));
 * assert.deepEqual([...await readRegularFile(path)], [1, 2, 3]);
 * await assert.rejects(readRegularFile("/"), /not a regular file/);
 * await Deno.remove(path);
 * ```
 */
export async function readRegularFile(
  path: string,
  maxBytes: number = 2 ** 31,
): Promise<Uint8Array> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    throw new Error(`${path}: cannot be read (${errorText(e)})`);
  }
  if (!info.isFile) throw new Error(`${path}: not a regular file`);
  if (info.size > maxBytes) {
    throw new Error(`${path}: ${info.size} bytes, more than the ${maxBytes} expected of this file`);
  }
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw new Error(`${path}: cannot be read (${errorText(e)})`);
  }
}

/**
 * Opens `path` for reading when it is a regular file (checked on the open handle, so a file
 * swapped for a FIFO in between is refused too); the caller closes it, or streams
 * `file.readable`, which closes it at the end.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openRegularFile } from "./files.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeFile(path, Uint8Array.of(1, 2, 3));
 * const { file, size } = await openRegularFile(path);
 * assert.equal(size, 3);
 * file.close();
 * await assert.rejects(openRegularFile("/"), /not a regular file/);
 * await Deno.remove(path);
 * ```
 */
export async function openRegularFile(path: string): Promise<{ file: Deno.FsFile; size: number }> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    throw new Error(`${path}: cannot be read (${errorText(e)})`);
  }
  const info = await file.stat();
  if (!info.isFile) {
    file.close();
    throw new Error(`${path}: not a regular file`);
  }
  return { file, size: info.size };
}

/**
 * Writes all of `bytes` to `writer` (standard output, say), however many writes that takes.
 *
 * @example
 * ```ts
 * import { writeAllTo } from "./files.ts";
 * await writeAllTo(Deno.stdout, new TextEncoder().encode(""));
 * ```
 */
export async function writeAllTo(
  writer: { write(p: Uint8Array): Promise<number> },
  bytes: Uint8Array,
): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await writer.write(bytes.subarray(done));
}

/**
 * Writes `bytes` to `path` through a temp file in the same folder and a rename, so a reader never
 * sees a partial file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeAtomic } from "./files.ts";
 * const dir = await Deno.makeTempDir();
 * await writeAtomic(`${dir}/out.txt`, "hello");
 * assert.equal(await Deno.readTextFile(`${dir}/out.txt`), "hello");
 * assert.deepEqual([...Deno.readDirSync(dir)].length, 1); // no temp file left
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    if (typeof bytes === "string") await Deno.writeTextFile(tmp, bytes);
    else await Deno.writeFile(tmp, bytes);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/**
 * Writes several files as one commit: every file to its temp file first, then the renames in the
 * order given, so that a crash (even `kill -9`) leaves each file whole, old or new, and only the
 * last ones older. Put the file that says what the others hold last. Temp files are named
 * `<file>.<8 hex>.tmp`: {@linkcode removeStaleTemps} clears what a killed writer left.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeAllAtomic } from "./files.ts";
 * const dir = await Deno.makeTempDir();
 * await writeAllAtomic([[`${dir}/a.txt`, "a"], [`${dir}/b.txt`, "b"]]);
 * assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["a.txt", "b.txt"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeAllAtomic(
  files: readonly (readonly [string, Uint8Array | string])[],
): Promise<void> {
  const temps = files.map(([path]) => `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`);
  try {
    for (const [k, [, bytes]] of files.entries()) {
      if (typeof bytes === "string") await Deno.writeTextFile(temps[k], bytes);
      else await Deno.writeFile(temps[k], bytes);
    }
    for (const [k, [path]] of files.entries()) await Deno.rename(temps[k], path);
  } catch (e) {
    for (const tmp of temps) await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/**
 * Removes the temp files a killed {@linkcode writeAtomic} or {@linkcode writeAllAtomic} left in
 * `dir` for the files `names` (call it while holding the folder).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { removeStaleTemps } from "./files.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/model.safetensors.0a1b2c3d.tmp`, "partial");
 * assert.deepEqual(await removeStaleTemps(dir, ["model.safetensors"]), ["model.safetensors.0a1b2c3d.tmp"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function removeStaleTemps(dir: string, names: readonly string[]): Promise<string[]> {
  const removed: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const stale = names.some((n) =>
      entry.name.startsWith(`${n}.`) && /^\.[0-9a-f]{8}\.tmp$/.test(entry.name.slice(n.length))
    );
    if (stale && entry.isFile) {
      await Deno.remove(`${dir}/${entry.name}`);
      removed.push(entry.name);
    }
  }
  return removed;
}

/**
 * Whether two paths name the same file (through links and `..` too); a path that does not exist
 * yet is compared by its folder's real path and its name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sameFile } from "./files.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a`, "x");
 * assert.ok(await sameFile(`${dir}/a`, `${dir}/../${dir.split("/").at(-1)}/a`));
 * assert.ok(!(await sameFile(`${dir}/a`, `${dir}/b`)));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function sameFile(a: string, b: string): Promise<boolean> {
  const real = async (path: string) => {
    try {
      return await Deno.realPath(path);
    } catch {
      const cut = path.lastIndexOf("/");
      const dir = cut < 0 ? "." : path.slice(0, cut) || "/";
      const folder = await Deno.realPath(dir).catch(() => dir);
      return `${folder}/${path.slice(cut + 1)}`;
    }
  };
  return (await real(a)) === (await real(b));
}
