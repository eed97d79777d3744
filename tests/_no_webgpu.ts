// Run as its own process by device_test.ts: a runtime without WebGPU (like a browser that lacks
// it) must still import the module, and requestGpu must explain what is missing.
delete (globalThis as Record<string, unknown>).GPUBufferUsage;
delete (globalThis as Record<string, unknown>).GPUShaderStage;
delete (globalThis as Record<string, unknown>).GPUMapMode;
Object.defineProperty(navigator, "gpu", { value: undefined, configurable: true });
const mod = await import("../mod.ts");
try {
  await mod.requestGpu();
  console.log("requestGpu did not throw");
} catch (e) {
  console.log((e as Error).message);
}
