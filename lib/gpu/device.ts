/**
 * The WebGPU device: one call that finds an adapter, asks for the limits this project needs, and
 * explains how to get WebGPU when there is none.
 *
 * @module
 */

import { GpuFaultError } from "../../errors.ts";

/** What the adapter says about itself, for logs. */
export interface AdapterSummary {
  /** Adapter description, e.g. `llvmpipe (LLVM 15.0.6, 256 bits)` or the GPU's name. */
  description: string;
  /** Vendor id or name. */
  vendor: string;
  /** Architecture, when reported. */
  architecture: string;
  /** True for a software (CPU) adapter such as lavapipe or llvmpipe. */
  isFallbackAdapter: boolean;
}

/** A device ready for this project's kernels. */
export interface Gpu {
  /** The adapter it came from. */
  adapter: GPUAdapter;
  /** The device. */
  device: GPUDevice;
  /** The adapter's self-description. */
  info: AdapterSummary;
  /**
   * Validation and out-of-memory errors the device reported since the last check, in order: any
   * entry means results since are not to be trusted. {@linkcode checkGpu} throws on them and
   * clears them (they belong to the run that saw them, not to the next model on this device).
   */
  faults: string[];
  /** Why the device was lost, if it was: every later use fails, so every check throws. */
  lost?: string;
}

/** Options of {@linkcode requestGpu}. */
export interface GpuOptions {
  /** `high-performance` (default) or `low-power`. */
  powerPreference?: GPUPowerPreference;
  /** Storage-buffer size the caller needs in bytes (the whole training set sits in one). */
  storageBufferBytes?: number;
}

/**
 * Thrown when WebGPU, or any adapter, is missing; the message says how to fix it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu, WebGpuUnavailableError } from "./device.ts";
 * // Asking for more storage than any adapter has is one way to meet it.
 * const error = await requestGpu({ storageBufferBytes: 2 ** 52 }).catch((e) => e);
 * assert.ok(error instanceof WebGpuUnavailableError);
 * assert.match(error.message, /storage buffers of \d+ bytes/);
 * ```
 */
export class WebGpuUnavailableError extends Error {
  /**
   * An error with its fix.
   *
   * @param message the reason and the fix
   */
  constructor(message: string) {
    super(message);
    this.name = "WebGpuUnavailableError";
  }
}

const HOW_TO_FIX = "Install a Vulkan driver (Debian/Ubuntu: apt-get install mesa-vulkan-drivers, " +
  "which gives the lavapipe CPU adapter), or use OpenGL with DENO_WEBGPU_BACKEND=gl; " +
  "in a browser, use one with WebGPU enabled.";

/**
 * Requests a WebGPU adapter and device with the limits this project needs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu } from "./device.ts";
 * const gpu = await requestGpu();
 * assert.ok(gpu.device.limits.maxStorageBufferBindingSize >= 128 * 2 ** 20);
 * ```
 */
export async function requestGpu(options: GpuOptions = {}): Promise<Gpu> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) {
    throw new WebGpuUnavailableError(
      `WebGPU is not available here (navigator.gpu is missing). ${HOW_TO_FIX}`,
    );
  }
  const adapter = await gpu.requestAdapter({
    powerPreference: options.powerPreference ?? "high-performance",
  });
  if (!adapter) {
    throw new WebGpuUnavailableError(`No WebGPU adapter was found. ${HOW_TO_FIX}`);
  }
  const want = options.storageBufferBytes ?? 0;
  const limits = adapter.limits;
  if (want > limits.maxStorageBufferBindingSize) {
    throw new WebGpuUnavailableError(
      `The adapter allows storage buffers of ${limits.maxStorageBufferBindingSize} bytes, ` +
        `${want} are needed.`,
    );
  }
  const device = await adapter.requestDevice({
    // Timestamps let the tuner time kernels on the device itself (lib/gpu/timing.ts).
    requiredFeatures: adapter.features.has("timestamp-query") ? ["timestamp-query"] : [],
    requiredLimits: {
      // The training set is one storage buffer (47 MB for Fashion-MNIST): ask for all there is.
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxStorageBuffersPerShaderStage: Math.min(limits.maxStorageBuffersPerShaderStage, 10),
    },
  });
  // A validation or out-of-memory error leaves work silently undone: record it, so that every run
  // stops at its next check instead of reporting numbers computed on partial data.
  const faults: string[] = [];
  device.addEventListener("uncapturederror", (event) => {
    faults.push((event as GPUUncapturedErrorEvent).error.message.trim());
  });
  const info = adapter.info;
  const result: Gpu = {
    faults,
    adapter,
    device,
    info: {
      description: info.description || info.device || "unknown adapter",
      vendor: info.vendor,
      architecture: info.architecture,
      isFallbackAdapter: Boolean(
        (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter ??
          (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter,
      ),
    },
  };
  device.lost.then((lost) => {
    if (lost.reason !== "destroyed") result.lost = `the device was lost: ${lost.message}`;
  });
  return result;
}

/**
 * Throws {@linkcode GpuFaultError} when the device reported an error since the last check (and
 * clears it) or was lost (for good): called by every run at its sync points and before it
 * reports a result.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkGpu, requestGpu } from "./device.ts";
 * const gpu = await requestGpu();
 * checkGpu(gpu); // healthy: nothing happens
 * gpu.device.createBuffer({ size: 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.MAP_WRITE });
 * await gpu.device.queue.onSubmittedWorkDone();
 * assert.throws(() => checkGpu(gpu), /WebGPU reported an error/);
 * checkGpu(gpu); // the fault was reported: the next run on this device starts clean
 * ```
 */
export function checkGpu(gpu: Gpu): void {
  const faults = [...(gpu.lost ? [gpu.lost] : []), ...gpu.faults.splice(0)];
  if (faults.length === 0) return;
  const more = faults.length > 1 ? ` (and ${faults.length - 1} more)` : "";
  const first = faults[0].split("\n")[0];
  throw new GpuFaultError(
    `WebGPU reported an error, so results cannot be trusted: ${first}${more}`,
  );
}

/**
 * One line naming the adapter, e.g. for the first line of a training log.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeGpu, requestGpu } from "./device.ts";
 * const gpu = await requestGpu();
 * assert.ok(describeGpu(gpu).startsWith(gpu.info.description)); // e.g. "llvmpipe (...) [fallback adapter: ...]"
 * ```
 */
export function describeGpu(gpu: Gpu): string {
  const { description, vendor, architecture, isFallbackAdapter } = gpu.info;
  const extra = [architecture, vendor && `vendor ${vendor}`].filter(Boolean).join(", ");
  return `${description}${extra ? ` (${extra})` : ""}${
    isFallbackAdapter ? " [fallback adapter: software, runs on the CPU]" : ""
  }`;
}
