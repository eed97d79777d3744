import { assert, assertMatch } from "./_assert.ts";
import { describeGpu, requestGpu, WebGpuUnavailableError } from "../lib/gpu/device.ts";

Deno.test("requestGpu gives a device with the limits asked for, and describes its adapter", async () => {
  const gpu = await requestGpu({ storageBufferBytes: 60000 * 784 });
  assert(gpu.device.limits.maxStorageBufferBindingSize >= 60000 * 784);
  assert(gpu.info.description.length > 0);
  console.log(`adapter: ${describeGpu(gpu)}`);
  gpu.device.destroy();
});

Deno.test("without navigator.gpu the error says how to get WebGPU", async () => {
  const saved = Object.getOwnPropertyDescriptor(navigator, "gpu") ??
    Object.getOwnPropertyDescriptor(Object.getPrototypeOf(navigator), "gpu")!;
  Object.defineProperty(navigator, "gpu", { value: undefined, configurable: true });
  try {
    const err = await requestGpu().catch((e) => e);
    assert(err instanceof WebGpuUnavailableError);
    assertMatch(
      err.message,
      /navigator\.gpu is missing.*mesa-vulkan-drivers.*DENO_WEBGPU_BACKEND=gl/,
    );
  } finally {
    delete (navigator as { gpu?: unknown }).gpu;
    if (Object.getOwnPropertyDescriptor(navigator, "gpu") === undefined && saved.value) {
      Object.defineProperty(navigator, "gpu", saved);
    }
  }
});

Deno.test("a storage size beyond the adapter's is refused with a clear error", async () => {
  const err = await requestGpu({ storageBufferBytes: 2 ** 52 }).catch((e) => e);
  assert(err instanceof WebGpuUnavailableError);
  assertMatch(err.message, /allows storage buffers of \d+ bytes, \d+ are needed/);
});

Deno.test("the module imports where WebGPU is missing, and requestGpu then explains", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "tests/_no_webgpu.ts"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert(out.success, text);
  assertMatch(text, /^WebGPU is not available here \(navigator\.gpu is missing\)/);
});
