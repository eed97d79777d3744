// The device for the commands: the environment checked and tidied before asking for an adapter.
import { type Gpu, type GpuOptions, requestGpu } from "../mod.ts";
import { atExit } from "./_args.ts";

/** The values of DENO_WEBGPU_BACKEND that wgpu understands (a comma-separated list of them). */
const BACKENDS = [
  "vulkan",
  "vk",
  "gl",
  "gles",
  "opengl",
  "metal",
  "mtl",
  "dx12",
  "d3d12",
  "webgpu",
];

/**
 * Requests the device for a command. A DENO_WEBGPU_BACKEND that names no backend is reported as
 * such (not as a missing driver); an unset or unusable XDG_RUNTIME_DIR is replaced by a private
 * folder first, which silences the Vulkan loader's "XDG_RUNTIME_DIR is invalid" lines.
 */
export async function commandGpu(options: GpuOptions = {}): Promise<Gpu> {
  privateRuntimeDir();
  const backend = Deno.env.get("DENO_WEBGPU_BACKEND");
  if (backend !== undefined) {
    const unknown = backend.split(",").map((b) => b.trim().toLowerCase()).filter((b) =>
      !BACKENDS.includes(b)
    );
    if (unknown.length || !backend.trim()) {
      throw new Error(
        `DENO_WEBGPU_BACKEND=${backend} names no WebGPU backend: use vulkan, gl, metal or dx12, or unset it`,
      );
    }
  }
  try {
    return await requestGpu(options);
  } catch (e) {
    if (backend && e instanceof Error && e.name === "WebGpuUnavailableError") {
      throw new Error(
        `no WebGPU adapter with DENO_WEBGPU_BACKEND=${backend}: unset it to let Deno choose, or install that backend's driver`,
      );
    }
    throw e;
  }
}

function privateRuntimeDir(): void {
  const current = Deno.env.get("XDG_RUNTIME_DIR");
  try {
    if (current && Deno.statSync(current).isDirectory) return;
  } catch { /* missing: replaced below */ }
  const dir = Deno.makeTempDirSync({ prefix: "lenet-webgpu-runtime-" });
  Deno.chmodSync(dir, 0o700);
  Deno.env.set("XDG_RUNTIME_DIR", dir);
  atExit(() => {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* gone */ }
  });
}
