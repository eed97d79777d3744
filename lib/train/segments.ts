/**
 * Where a network's parameters live: one flat buffer with each layer's weights then bias in a
 * segment of its own (aligned so that it can be bound), and the same layout for the gradients;
 * and, laid out alike in a buffer of their own, the layers' buffers (running statistics).
 * Pure arithmetic here; {@linkcode bindSegments} hands each layer its slices.
 *
 * @module
 */
import { type Layer, ParametricLayer } from "../nn/layer.ts";
import type { Sequential } from "../nn/sequential.ts";
import type { Shape } from "../tensor.ts";

/** Where one named parameter sits in the flat buffer. */
export interface ParameterInfo {
  /** `state_dict` name, e.g. `0.weight`. */
  name: string;
  /** Shape. */
  shape: Shape;
  /** Offset in floats. */
  offset: number;
}

/** A layer's segment of the flat buffers, in floats. */
export interface Segment {
  /** The layer. */
  layer: Layer;
  /** First float. */
  offset: number;
  /** Floats of its parameters (weights then bias). */
  size: number;
}

/** The flat layout of a network's parameters. */
export interface ParameterLayout {
  /** Floats of the flat buffer (at least 4). */
  flatSize: number;
  /** The initial values, laid out. */
  flat: Float32Array;
  /** Every parameter's place, in `state_dict` order. */
  parameters: ParameterInfo[];
  /** Each layer's segment. */
  segments: Segment[];
}

/**
 * Lays out a network's parameters, each layer's segment starting at a multiple of `alignFloats`
 * (the device's storage offset alignment, in floats).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parameterLayout } from "./segments.ts";
 * import { lenet5 } from "../nn/lenet.ts";
 * const { flatSize, segments } = parameterLayout(lenet5(), 64);
 * assert.deepEqual(segments.map((s) => s.offset).slice(0, 2), [0, 192]); // conv1's 156, aligned
 * assert.ok(flatSize >= 61706);
 * ```
 */
export function parameterLayout(
  network: Sequential,
  alignFloats: number,
  kind: "parameters" | "buffers" = "parameters",
): ParameterLayout {
  const named = kind === "parameters" ? network.namedParameters() : network.namedBuffers();
  const segments: Segment[] = [];
  let cursor = 0;
  for (const layer of new Set(named.map((p) => p.layer))) {
    const size = (layer[kind] ?? []).reduce((s, p) => s + p.data.length, 0);
    segments.push({ layer, offset: cursor, size });
    cursor += Math.ceil(size / alignFloats) * alignFloats;
  }
  const flatSize = Math.max(cursor, 4);
  const flat = new Float32Array(flatSize);
  const parameters: ParameterInfo[] = [];
  const within = new Map<Layer, number>();
  for (const p of named) {
    const segment = segments.find((s) => s.layer === p.layer)!;
    const offset = segment.offset + (within.get(p.layer) ?? 0);
    within.set(p.layer, (within.get(p.layer) ?? 0) + p.data.length);
    flat.set(p.data, offset);
    parameters.push({ name: p.qualifiedName, shape: p.shape, offset });
  }
  return { flatSize, flat, parameters, segments };
}

/**
 * Binds each layer to its slices of `params` and `grads`, to a uniform view of its parameters
 * when that fits `maxUniformBytes` (uniform reads are much cheaper on CPU adapters), and to its
 * slice of `state` (from `stateSegments`, the buffers' layout) when it has buffers.
 */
export function bindSegments(
  segments: readonly Segment[],
  params: GPUBuffer,
  grads: GPUBuffer,
  maxUniformBytes: number,
  states: { segments: readonly Segment[]; buffer: GPUBuffer },
): void {
  for (const { layer, offset, size } of segments) {
    if (!(layer instanceof ParametricLayer)) {
      throw new Error(`${layer} has parameters but cannot bind them`);
    }
    const uniformBytes = Math.ceil(size / 4) * 16; // within the segment's alignment padding
    layer.bind({
      params: { buffer: params, offset: offset * 4, size: size * 4 },
      grads: { buffer: grads, offset: offset * 4, size: size * 4 },
      uniformParams: uniformBytes <= maxUniformBytes
        ? { buffer: params, offset: offset * 4, size: uniformBytes }
        : undefined,
      state: stateOf(layer, states),
    });
  }
  for (const { layer } of states.segments) {
    if (!segments.some((s) => s.layer === layer)) {
      throw new Error(`${layer} has buffers but no parameters: it cannot bind them`);
    }
  }
}

function stateOf(layer: Layer, states: { segments: readonly Segment[]; buffer: GPUBuffer }) {
  const segment = states.segments.find((s) => s.layer === layer);
  return segment
    ? { buffer: states.buffer, offset: segment.offset * 4, size: segment.size * 4 }
    : undefined;
}
