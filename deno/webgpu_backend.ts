/**
 * Which backend Deno's WebGPU starts. Unless `DENO_WEBGPU_BACKEND` says otherwise, wgpu brings
 * up every backend it knows in each WebGPU instance, on Linux both Vulkan and OpenGL (EGL), even
 * though it then hands out the Vulkan adapter. `deno test` gives every test module (and every
 * doc example) a worker with an instance of its own; with Mesa's lavapipe and EGL drivers both
 * loaded and unloaded in each, the process then aborts at exit with a corrupted heap (glibc:
 * "corrupted size vs. prev_size", "malloc_consolidate(): invalid chunk size") after every test has
 * passed: 6 of 40 runs of ten small GPU modules, and OpenGL alone aborts too; Vulkan alone, none
 * of 52.
 *
 * @module
 */

/** Where the Vulkan loader looks for driver manifests on Linux, besides its own variables. */
const MANIFEST_DIRS: readonly string[] = [
  "/etc/xdg/vulkan/icd.d",
  "/etc/vulkan/icd.d",
  "/usr/local/share/vulkan/icd.d",
  "/usr/share/vulkan/icd.d",
];

/** What {@linkcode chooseWebGpuBackend} looks at; tests substitute their own. */
export interface BackendProbe {
  /** The operating system (`Deno.build.os`). */
  os: string;
  /** An environment variable's value. */
  env(name: string): string | undefined;
  /** Whether `dir` holds at least one `.json` file. */
  hasManifest(dir: string): boolean;
}

/**
 * The backend to ask for: what `DENO_WEBGPU_BACKEND` already says, `"vulkan"` on Linux when a
 * Vulkan driver is installed (a manifest named by `VK_DRIVER_FILES` or `VK_ICD_FILENAMES`, or one
 * in the loader's system folders), otherwise undefined (wgpu's own choice: OpenGL on Linux).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chooseWebGpuBackend } from "./webgpu_backend.ts";
 * const probe = { os: "linux", env: () => undefined, hasManifest: (d: string) => d.startsWith("/usr/share") };
 * assert.equal(chooseWebGpuBackend(probe), "vulkan");
 * ```
 */
export function chooseWebGpuBackend(probe: BackendProbe = denoProbe()): string | undefined {
  const set = probe.env("DENO_WEBGPU_BACKEND");
  if (set) return set;
  if (probe.os !== "linux") return undefined;
  const named = probe.env("VK_DRIVER_FILES") ?? probe.env("VK_ICD_FILENAMES");
  if (named) return "vulkan";
  return MANIFEST_DIRS.some((dir) => probe.hasManifest(dir)) ? "vulkan" : undefined;
}

/**
 * Sets `DENO_WEBGPU_BACKEND` to {@linkcode chooseWebGpuBackend}'s choice when it is unset; call
 * before the first `navigator.gpu.requestAdapter()` (the test task does, through
 * `--preload tests/_preload.ts`). Returns the backend in effect, if one is named. Without
 * permission to read the environment it changes nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { useWebGpuBackend } from "./webgpu_backend.ts";
 * const backend = useWebGpuBackend();
 * assert.equal(Deno.env.get("DENO_WEBGPU_BACKEND"), backend);
 * ```
 */
export function useWebGpuBackend(): string | undefined {
  let backend: string | undefined;
  try {
    backend = chooseWebGpuBackend();
    if (backend && !Deno.env.get("DENO_WEBGPU_BACKEND")) {
      Deno.env.set("DENO_WEBGPU_BACKEND", backend);
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
      return undefined;
    }
    throw err;
  }
  return backend;
}

function denoProbe(): BackendProbe {
  return {
    os: Deno.build.os,
    env: (name) => Deno.env.get(name) || undefined,
    hasManifest: (dir) => {
      try {
        for (const entry of Deno.readDirSync(dir)) {
          if (entry.name.endsWith(".json")) return true;
        }
      } catch {
        // A folder that is missing or unreadable holds no driver we could use.
      }
      return false;
    },
  };
}
