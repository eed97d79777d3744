// Where the commands write: checked before any work, so that a bad path fails first; a training
// run's folder is never another run's files and never shared by two runs.
import { errorText, readRegularFile, removeStaleTemps, sameFile } from "../deno/files.ts";
import { atExit, UsageError } from "./_args.ts";

/** The files a run leaves in its folder. */
export const RUN_FILES = [
  "metrics.jsonl",
  "loss.svg",
  "model.safetensors",
  "training_state.safetensors",
  "best.safetensors",
  "selection.json",
] as const;

const LOCK = ".lock";

/**
 * Claims the folder of a run: `out`, or a new `runs/<time>` (`-2`, `-3`... when taken). The folder
 * is created and locked (a second run on it is refused until this one exits), which also proves
 * it writable before any training. A folder that holds an earlier run is refused unless
 * `overwrite`, which removes that run's files now, so that an interrupted run never leaves old
 * metrics beside new weights. With `resume`, the run in `out` goes on: its files are kept.
 */
export async function claimRunDir(
  out: string | undefined,
  overwrite: boolean,
  resume = false,
): Promise<string> {
  const dir = out ?? await freshDefault();
  let created = out === undefined;
  try {
    await Deno.lstat(dir);
  } catch {
    created = true;
  }
  await outputFolder("--out", dir);
  // A folder this run created and left empty (it failed before writing anything) goes again.
  if (created) atExit(() => Deno.removeSync(dir));
  await lock(dir);
  // A run killed while saving leaves temp files: the lock says no writer is left to finish them.
  await removeStaleTemps(dir, RUN_FILES);
  const existing = [];
  for (const name of RUN_FILES) {
    try {
      await Deno.lstat(`${dir}/${name}`);
      existing.push(name);
    } catch { /* absent */ }
  }
  if (resume) return dir; // the run goes on in its own files
  if (existing.length && !overwrite) {
    throw new UsageError(
      `--out ${dir} already holds a run (${
        existing.join(", ")
      }): pass --overwrite to replace it, or choose another folder`,
    );
  }
  for (const name of existing) await Deno.remove(`${dir}/${name}`);
  return dir;
}

async function freshDefault(): Promise<string> {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  try {
    await Deno.lstat("runs");
  } catch {
    await Deno.mkdir("runs", { recursive: true });
    atExit(() => Deno.removeSync("runs")); // only while empty: removeSync is not recursive
  }
  for (let n = 1;; n++) {
    const dir = `runs/${stamp}${n > 1 ? `-${n}` : ""}`;
    try {
      await Deno.mkdir(dir); // fails when another run took this name first
      return dir;
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
  }
}

/**
 * Holds an OS lock on `dir/.lock` until the process exits (the OS drops it if the process dies,
 * so a lock file left by a crash does not block the folder).
 */
async function lock(dir: string): Promise<void> {
  const path = `${dir}/${LOCK}`;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true, write: true, create: true });
  } catch (e) {
    throw new UsageError(`--out ${dir}: cannot write there (${errorText(e)})`);
  }
  if (!await file.tryLock(true)) {
    const pid = new TextDecoder().decode(
      await readRegularFile(path, 64).catch(() => new Uint8Array()),
    )
      .trim();
    file.close();
    throw new UsageError(
      `--out ${dir} is in use by another run${
        pid ? ` (process ${pid})` : ""
      }; wait for it, or choose another folder`,
    );
  }
  await file.truncate(0);
  await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
  atExit(() => {
    Deno.removeSync(path);
    file.close();
  });
}

/** Creates the folder `dir` named by `flag` (and its parents); anything in the way is a usage error. */
export async function outputFolder(flag: string, dir: string): Promise<void> {
  const info = await Deno.stat(dir).catch(() => undefined);
  if (info && !info.isDirectory) throw new UsageError(`${flag} ${dir} is a file, not a folder`);
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (e) {
    throw new UsageError(`${flag} ${dir}: cannot create the folder (${errorText(e)})`);
  }
}

/**
 * The one rule for a file a command writes, `path`, named by `flag`, checked before any work:
 * never one of the command's `inputs` nor a training run's file (a file of `RUN_FILES` in a folder
 * that holds a run), compared through `..` and symbolic links; an existing FIFO, device or socket
 * only as `-`, standard output, where `stdout` allows it (then `-` is returned); its folder must
 * exist and be writable, and it must not be a folder. Temp files a killed writer of `path` left
 * beside it are removed. Returns the path to write, or `-`.
 */
export async function outputPath(
  flag: string,
  path: string,
  options: { inputs?: readonly string[]; stdout?: boolean } = {},
): Promise<string> {
  if (path === "-") {
    if (options.stdout) return "-";
    throw new UsageError(`${flag} - (standard output) is not possible here: give a file`);
  }
  const cut = path.lastIndexOf("/");
  const folder = cut < 0 ? "." : path.slice(0, cut) || "/";
  const name = path.slice(cut + 1);
  await existingFolder(flag, path, folder);
  for (const input of options.inputs ?? []) {
    if (await sameFile(path, input)) {
      throw new UsageError(
        `${flag} ${path} is ${input}, which this command reads: choose another file`,
      );
    }
  }
  if ((RUN_FILES as readonly string[]).includes(name) && await holdsRun(folder)) {
    throw new UsageError(
      `${flag} ${path} is a file of the training run in ${folder}: choose another file`,
    );
  }
  const info = await Deno.stat(path).catch(() => undefined);
  if (info?.isDirectory) throw new UsageError(`${flag} ${path} is a folder, not a file`);
  if (info && !info.isFile) {
    throw new UsageError(
      `${flag} ${path} is not a regular file (a FIFO, device or socket)${
        options.stdout ? ": for standard output give -" : ""
      }`,
    );
  }
  await provenWritable(flag, path, folder);
  await removeStaleTemps(folder, [name]).catch(() => {});
  return path;
}

/** Whether `folder` holds a training run (its state or its lock). */
async function holdsRun(folder: string): Promise<boolean> {
  for (const marker of ["training_state.safetensors", LOCK]) {
    if (await Deno.stat(`${folder}/${marker}`).then(() => true, () => false)) return true;
  }
  return false;
}

/** Throws a usage error naming the real cause unless `folder`, where `path` goes, is a folder. */
async function existingFolder(flag: string, path: string, folder: string): Promise<void> {
  let parent: Deno.FileInfo;
  try {
    parent = await Deno.stat(folder);
  } catch (e) {
    throw new UsageError(
      e instanceof Deno.errors.NotFound
        ? `${flag} ${path}: the folder ${folder} does not exist`
        : `${flag} ${path}: cannot use the folder ${folder} (${errorText(e)})`,
    );
  }
  if (!parent.isDirectory) throw new UsageError(`${flag} ${path}: ${folder} is not a folder`);
}

/** Proves the folder writable without touching `path` itself. */
async function provenWritable(flag: string, path: string, folder: string): Promise<void> {
  try {
    const probe = await Deno.makeTempFile({
      dir: folder,
      prefix: ".lenet-webgpu-",
      suffix: ".tmp",
    });
    await Deno.remove(probe);
  } catch (e) {
    throw new UsageError(`${flag} ${path}: cannot write in ${folder} (${errorText(e)})`);
  }
}
