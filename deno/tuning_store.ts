/**
 * The tuner's picks in a JSON file of the user cache
 * (`$XDG_CACHE_HOME/lenet-webgpu/tuning.json` or `~/.cache/...`), one object of picks per
 * adapter. An unreadable or malformed file is reported in one line and treated as empty (it is a
 * cache: the next `full` run rewrites it); writes go to a temp file, then rename.
 *
 * @module
 */
import type { TuningStore } from "../lib/train/tune.ts";
import { defaultCacheDir } from "./locate.ts";
import { errorText, readRegularFile, writeAtomic } from "./files.ts";

/** Largest tuning file read: picks for many adapters are a few KiB each. */
const MAX_TUNING_BYTES = 16 * 2 ** 20;

/** The file's layout. */
interface TuningFile {
  version: 1;
  adapters: Record<string, Record<string, string>>;
}

/** `tuning.json` in the user cache, or undefined without a home. */
export function defaultTuningPath(): string | undefined {
  return defaultCacheDir("tuning.json");
}

function parse(text: string, path: string): TuningFile {
  const data = JSON.parse(text);
  const ok = data && data.version === 1 && typeof data.adapters === "object" &&
    Object.values(data.adapters).every((picks) =>
      picks && typeof picks === "object" &&
      Object.values(picks as object).every((v) => typeof v === "string")
    );
  if (!ok) throw new Error(`${path}: not a tuning file (version 1, adapters → op → variant)`);
  return data;
}

/**
 * A store in a JSON file; `warn` receives one line when the file cannot be read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileTuningStore } from "./tuning_store.ts";
 * const dir = await Deno.makeTempDir();
 * const store = fileTuningStore(`${dir}/tuning.json`);
 * await store.save("adapter", { "matmul 8x8x8": "storage tile 4x8" });
 * assert.deepEqual(await store.load("adapter"), { "matmul 8x8x8": "storage tile 4x8" });
 * await Deno.writeTextFile(`${dir}/tuning.json`, "{ broken");
 * const warnings: string[] = [];
 * assert.deepEqual(await fileTuningStore(`${dir}/tuning.json`, (w) => warnings.push(w)).load("adapter"), {});
 * assert.match(warnings[0], /tuning\.json/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function fileTuningStore(
  path: string | undefined = defaultTuningPath(),
  warn: (line: string) => void = (line) => console.error(`warning: ${line}`),
): TuningStore {
  const read = async (): Promise<TuningFile> => {
    const empty: TuningFile = { version: 1, adapters: {} };
    if (!path) return empty;
    let text: string;
    try {
      // A regular file only (a FIFO would block the run), and of a tuning file's size.
      text = new TextDecoder().decode(await readRegularFile(path, MAX_TUNING_BYTES));
    } catch (e) {
      if (!/no such file/.test(errorText(e))) {
        warn(`${errorText(e).replace(`${path}: `, `cannot read ${path}: `)}; it is ignored`);
      }
      return empty;
    }
    try {
      return parse(text, path);
    } catch (e) {
      warn(
        `${errorText(e).startsWith(path) ? "" : `${path}: `}${errorText(e)}; it will be rewritten`,
      );
      return empty;
    }
  };
  return {
    load: async (adapter) => ({ ...(await read()).adapters[adapter] }),
    save: async (adapter, picks) => {
      if (!path) {
        warn("no cache folder (neither XDG_CACHE_HOME nor HOME): the picks are not stored");
        return;
      }
      const file = await read();
      file.adapters[adapter] = { ...file.adapters[adapter], ...picks };
      try {
        await Deno.mkdir(path.replace(/\/[^/]*$/, ""), { recursive: true });
        await writeAtomic(path, JSON.stringify(file, null, 2) + "\n");
      } catch (e) {
        // The run goes on with the picks it measured; only later runs lose them.
        warn(
          `the tuned picks could not be stored in ${path} (${
            errorText(e)
          }); this run uses them, later runs will tune again`,
        );
      }
    },
  };
}
