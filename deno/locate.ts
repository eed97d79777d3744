/**
 * Finding the dataset files on this machine (Deno only): an explicit folder, the
 * `FASHION_MNIST_DIR` variable, the copy in this checkout, the user cache, system folders, and
 * last a verified download into the cache (fetched by `data/download.ts`).
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { errorText, pathOf, readRegularFile, writeAtomic } from "./files.ts";
import {
  datasetFromBytes,
  decodeVerified,
  type IdxFileBytes,
  type ImageDataset,
} from "../data/dataset.ts";
import {
  DOWNLOAD_TIMEOUT_MS,
  downloadLimit,
  type DownloadProgress,
  fetchBytes,
} from "../data/download.ts";
import { FASHION_MNIST, type IdxDatasetSpec } from "../data/spec.ts";

/** Where to look for the files, and how to download them. */
export interface LoadOptions {
  /** The dataset; default Fashion-MNIST. */
  spec?: IdxDatasetSpec;
  /** An explicit folder (`--data-dir`): when given, only this folder is used. */
  dataDir?: string;
  /** Read `FASHION_MNIST_DIR` (default true); like `dataDir` when set. */
  useEnv?: boolean;
  /** Look in this module's checkout (`data/<name>/`) when it runs from files (default true). */
  useCheckout?: boolean;
  /** Cache folder; default `$XDG_CACHE_HOME/lenet-webgpu/<name>` or `~/.cache/...`. */
  cacheDir?: string;
  /** System folders to look in; default `/usr/share/datasets/<name>` (Debian). */
  systemDirs?: string[];
  /** Download when no folder has the files (default true). */
  download?: boolean;
  /** Base URLs to download from, in order; default `spec.mirrors`. */
  mirrors?: readonly string[];
  /** Progress of a download; default prints to stderr. */
  onProgress?: (p: DownloadProgress) => void;
  /** Check SHA-256 of the decoded files (default true). */
  verify?: boolean;
  /**
   * Only the test split (`["test"]`): the training files are neither read nor needed, and the
   * train split is empty. Default both.
   */
  splits?: readonly ("train" | "test")[];
  /**
   * Give up on a mirror after this many milliseconds without progress: no response headers, or
   * no bytes of the body (default 30,000). A connection that is accepted but never answered
   * fails with a message instead of waiting forever.
   */
  timeoutMs?: number;
}

const ALL_FILES = ["trainImages", "trainLabels", "testImages", "testLabels"] as const;
type FileKey = (typeof ALL_FILES)[number];

/** The files of the splits asked for. */
function fileKeys(options: LoadOptions): readonly FileKey[] {
  const splits = options.splits ?? ["train", "test"];
  if (!splits.includes("test")) throw new RangeError("splits must include the test split");
  return ALL_FILES.filter((k) => splits.some((s) => k.startsWith(s)));
}

function envVar(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined; // no --allow-env: behave as if unset
  }
}

/** The default cache folder for a dataset name. */
export function defaultCacheDir(name: string): string | undefined {
  const base = envVar("XDG_CACHE_HOME") ??
    (envVar("HOME") ? `${envVar("HOME")}/.cache` : undefined);
  return base ? `${base}/lenet-webgpu/${name}` : undefined;
}

function checkoutDir(name: string): string | undefined {
  const url = new URL(`../data/${name}/`, import.meta.url);
  return url.protocol === "file:" ? pathOf(url) : undefined;
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

async function readFolder(
  spec: IdxDatasetSpec,
  dir: string,
  verify: boolean,
  keys: readonly FileKey[],
): Promise<ImageDataset> {
  const entries = await Promise.all(keys.map(async (k) => {
    const path = `${dir.replace(/\/$/, "")}/${spec.files[k].file}`;
    let bytes: Uint8Array;
    try {
      bytes = await readRegularFile(path, downloadLimit(spec.files[k]));
    } catch (e) {
      throw new DataError(path, errorText(e).replace(`${path}: `, ""));
    }
    return [k, [path, bytes]] as const;
  }));
  return await datasetFromBytes(
    spec,
    Object.fromEntries(entries) as unknown as IdxFileBytes,
    dir,
    verify,
  );
}

async function hasAll(
  spec: IdxDatasetSpec,
  dir: string,
  keys: readonly FileKey[],
): Promise<boolean> {
  for (const k of keys) {
    if (!await exists(`${dir}/${spec.files[k].file}`)) return false;
  }
  return true;
}

/**
 * Loads an IDX dataset from the first place that has it (see {@linkcode LoadOptions}), verifying
 * every file. When nothing is found, the error lists each place tried and what to do.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadIdxDataset } from "./locate.ts";
 * // Nothing in these places and no download: the error says where it looked.
 * await assert.rejects(
 *   loadIdxDataset({ useCheckout: false, useEnv: false, systemDirs: [], cacheDir: "/nonexistent", download: false }),
 *   /looked in: \/nonexistent/,
 * );
 * ```
 */
export async function loadIdxDataset(options: LoadOptions = {}): Promise<ImageDataset> {
  const spec = options.spec ?? FASHION_MNIST;
  const verify = options.verify ?? true;
  const keys = fileKeys(options);
  const explicit = options.dataDir ??
    ((options.useEnv ?? true) ? envVar("FASHION_MNIST_DIR") : undefined);
  if (explicit !== undefined) {
    const dir = explicit.replace(/\/$/, "");
    for (const k of keys) {
      const path = `${dir}/${spec.files[k].file}`;
      if (!await exists(path)) {
        throw new DataError(
          path,
          `not found (the ${spec.name} folder given must hold all four files)`,
        );
      }
    }
    return await readFolder(spec, dir, verify, keys);
  }
  const tried: string[] = [];
  const cacheDir = options.cacheDir ?? defaultCacheDir(spec.name);
  const folders = [
    (options.useCheckout ?? true) ? checkoutDir(spec.name) : undefined,
    cacheDir,
    ...(options.systemDirs ?? [`/usr/share/datasets/${spec.name}`]),
  ];
  for (const dir of folders) {
    if (dir === undefined) continue;
    if (await hasAll(spec, dir, keys)) return await readFolder(spec, dir, verify, keys);
    tried.push(dir);
  }
  if ((options.download ?? true) && cacheDir !== undefined) {
    const mirrors = options.mirrors ?? spec.mirrors;
    try {
      await downloadAll(
        spec,
        cacheDir,
        mirrors,
        options.onProgress ?? printProgress,
        options.timeoutMs,
        keys,
      );
      return await readFolder(spec, cacheDir, verify, keys);
    } catch (e) {
      tried.push(`download (${errorText(e)})`);
    }
  }
  throw new DataError(
    spec.name,
    `dataset files not found; looked in: ${tried.join("; ")}. ` +
      `Pass --data-dir DIR (or set FASHION_MNIST_DIR) to a folder with ${
        keys.map((k) => spec.files[k].file).join(", ")
      }, or on Debian run: apt-get install dataset-${spec.name}`,
  );
}

/**
 * Loads Fashion-MNIST; the same as {@linkcode loadIdxDataset} with the default spec.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadFashionMnist } from "./locate.ts";
 * const { train, test, classNames } = await loadFashionMnist({ download: false });
 * assert.deepEqual([train.count, test.count, train.rows, train.cols], [60000, 10000, 28, 28]);
 * assert.equal(classNames[9], "Ankle boot");
 * ```
 */
export function loadFashionMnist(options: LoadOptions = {}): Promise<ImageDataset> {
  return loadIdxDataset({ ...options, spec: FASHION_MNIST });
}

/**
 * Downloads every missing file of `spec` into `dir`, trying each mirror in turn. Each file is
 * verified after decompression, written to a temp file and renamed: never a partial file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { downloadAll } from "./locate.ts";
 * import { FASHION_MNIST } from "../data/spec.ts";
 * const dir = await Deno.makeTempDir();
 * // A mirror that refuses the connection: the error names it, and no file is left behind.
 * const mirror = "http://127.0.0.1:59999/";
 * await assert.rejects(downloadAll(FASHION_MNIST, dir, [mirror], () => {}), /127\.0\.0\.1:59999/);
 * assert.deepEqual([...Deno.readDirSync(dir)], []);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function downloadAll(
  spec: IdxDatasetSpec,
  dir: string,
  mirrors: readonly string[],
  onProgress: (p: DownloadProgress) => void,
  timeoutMs: number = DOWNLOAD_TIMEOUT_MS,
  keys: readonly FileKey[] = ALL_FILES,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  for (const k of keys) {
    const fileSpec = spec.files[k];
    const target = `${dir}/${fileSpec.file}`;
    if (await exists(target)) continue;
    const failures: string[] = [];
    let done = false;
    for (const base of mirrors) {
      const url = new URL(fileSpec.file, base).href;
      try {
        const limit = downloadLimit(fileSpec);
        const bytes = await fetchBytes(url, fileSpec.file, onProgress, timeoutMs, limit);
        await decodeVerified(url, bytes, fileSpec);
        await writeAtomic(target, bytes);
        done = true;
        break;
      } catch (e) {
        const text = errorText(e);
        failures.push(text.includes(url) ? text : `${url}: ${text}`);
      }
    }
    if (!done) {
      throw new DataError(
        fileSpec.file,
        `download failed from every mirror: ${failures.join("; ")}`,
      );
    }
  }
}

let lastPrint = 0;
function printProgress(p: DownloadProgress): void {
  const now = Date.now();
  const finished = p.total !== undefined && p.received === p.total;
  if (!finished && now - lastPrint < 500) return;
  lastPrint = now;
  const mb = (n: number) => (n / 1e6).toFixed(1);
  const pct = p.total ? ` ${(100 * p.received / p.total).toFixed(0)}%` : "";
  const text = `downloading ${p.file}: ${mb(p.received)}${
    p.total ? `/${mb(p.total)}` : ""
  } MB${pct}`;
  const tty = Deno.stderr.isTerminal();
  Deno.stderr.writeSync(
    new TextEncoder().encode(tty ? `\r${text}${finished ? "\n" : ""}` : `${text}\n`),
  );
}
