// Preloaded into every test module and doc example by the test task (deno.json): Vulkan alone
// when a Vulkan driver is installed, since a second backend in each module's worker corrupts the
// heap at exit (deno/webgpu_backend.ts).
import { useWebGpuBackend } from "../deno/webgpu_backend.ts";

useWebGpuBackend();
