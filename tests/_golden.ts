// The golden files: the step plans of both LeNet variants (train and eval, batch 256, the
// built-in CPU rules) as `formatPlan` prints them, every op's candidates, the WGSL of the kernels
// the rules pick, and a manifest with the SHA-256 of every other candidate's kernels. Built without a device: layers are bound to placeholder buffers and
// the plan is described, not allocated, so a change to a kernel or to the plan shows as a diff.
import type { ActivationKind } from "../kernels/activation.ts";
import type { PoolKind } from "../kernels/pool.ts";
import { createHash } from "node:crypto";
import { kernelSource } from "../kernels/spec.ts";
import { CPU_RULES, type Tuning } from "../lib/nn/choose.ts";
import { lenet5 } from "../lib/nn/lenet.ts";
import { DEFAULTS } from "../lib/defaults.ts";
import { type LayoutModel, type Mode, stepLayout } from "../lib/train/layout.ts";
import { describeStep, formatPlan, type PlanOp } from "../lib/train/plan.ts";
import { bindSegments, parameterLayout } from "../lib/train/segments.ts";

/** Where the golden files live, relative to the repository root. */
export const GOLDEN_DIR = "tests/fixtures/golden";

/** LeNet's two variants: the reference and the modern one. */
export const VARIANTS: readonly [ActivationKind, PoolKind][] = [["sigmoid", "avg"], [
  "relu",
  "max",
]];

// A plan described without a device needs buffers only as names: formatPlan never reads them.
const placeholder = (label: string) => ({ label, size: 0 }) as unknown as GPUBuffer;

/**
 * LeNet on 28×28 inputs bound to placeholder buffers, with WebGPU's default limits (256-byte
 * storage offsets, 64 KiB uniform bindings: lavapipe's and llvmpipe's).
 */
function lenetModel(activation: ActivationKind, pool: PoolKind, tuning: Tuning): LayoutModel {
  const network = lenet5({ activation, pool });
  const { segments } = parameterLayout(network, 256 / 4);
  const states = parameterLayout(network, 256 / 4, "buffers").segments;
  bindSegments(segments, placeholder("parameters"), placeholder("gradients"), 65536, {
    segments: states,
    buffer: placeholder("state"),
  });
  return {
    layers: network.flat(),
    inputShape: [1, 28, 28],
    classes: 10,
    tuning,
    noise: { buffer: placeholder("noise") },
  };
}

function describe(model: LayoutModel, mode: Mode): PlanOp[] {
  const plan = describeStep(
    model,
    stepLayout(model, DEFAULTS.batchSize, mode),
    {},
    (t) => ({ buffer: placeholder(t.name) }),
  );
  return [...plan.forward, ...plan.loss, ...plan.backward];
}

const fileName = (s: string) => s.replace(/[^A-Za-z0-9.+-]+/g, "_").replace(/_+$/, "");

/** The manifest of the candidates' kernels not kept as files: a line each, `<sha256>  <path>`. */
export const MANIFEST = "kernels/manifest.txt";

/**
 * The WGSL of every kernel of every candidate of every op (path → text), and which of those the
 * built-in CPU rules pick.
 */
export function candidateKernels(): { kernels: Map<string, string>; picked: Set<string> } {
  const kernels = new Map<string, string>(), picked = new Set<string>();
  for (const [activation, pool] of VARIANTS) {
    for (const mode of ["train", "eval"] as const) {
      const base = lenetModel(activation, pool, CPU_RULES);
      const ops = describe(base, mode);
      const alternatives = new Map<string, readonly string[]>();
      for (const op of ops) if (op.tuning) alternatives.set(op.tuning.key, op.tuning.alternatives);
      const add = (op: PlanOp, rules: boolean) => {
        const dir = fileName(`${op.layer} ${op.name}`);
        const texts = [...new Set(op.calls.map((c) => kernelSource(c.kernel)))];
        // Train and eval share most ops: one file per variant of the network, the same text.
        const path = `kernels/${activation}_${pool}/${dir}/${fileName(op.variant)}.wgsl`;
        const text = texts.map((k, i) => `// kernel ${i + 1} of ${texts.length}\n${k}`).join("\n");
        if ((kernels.get(path) ?? text) !== text) throw new Error(`${path}: two texts`);
        kernels.set(path, text);
        if (rules) picked.add(path);
      };
      for (const op of ops) add(op, true);
      // Round r runs every op's r-th candidate: together the rounds run every candidate.
      const rounds = Math.max(...[...alternatives.values()].map((a) => a.length));
      for (let round = 0; round < rounds; round++) {
        const picks: Record<string, string> = {};
        for (const [key, names] of alternatives) {
          if (round < names.length) picks[key] = names[round];
        }
        for (const op of describe(lenetModel(activation, pool, { picks, defaults: "cpu" }), mode)) {
          add(op, false);
        }
      }
    }
  }
  return { kernels, picked };
}

/**
 * Every golden file (path relative to {@linkcode GOLDEN_DIR} → text), in a stable order: the
 * plans and candidate lists, the WGSL of the kernels the rules pick, and the {@linkcode MANIFEST}
 * naming every other candidate's kernels by their SHA-256 (`deno task golden --show PATH` prints
 * one), so that a change to any kernel still fails the test.
 */
export function goldenFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const [activation, pool] of VARIANTS) {
    for (const mode of ["train", "eval"] as const) {
      const name = `${activation}_${pool}_${mode}`;
      const base = lenetModel(activation, pool, CPU_RULES);
      const plan = stepLayout(base, DEFAULTS.batchSize, mode);
      const described = describeStep(base, plan, {}, (t) => ({ buffer: placeholder(t.name) }));
      const ops = [...described.forward, ...described.loss, ...described.backward];
      files.set(`plans/${name}.txt`, formatPlan(ops, described.tensors) + "\n");
      const alternatives = new Map<string, readonly string[]>();
      for (const op of ops) if (op.tuning) alternatives.set(op.tuning.key, op.tuning.alternatives);
      files.set(
        `plans/${name}.candidates.txt`,
        [...alternatives].map(([key, names]) => `${key}\n${names.map((v) => `  ${v}\n`).join("")}`)
          .join(""),
      );
    }
  }
  const { kernels, picked } = candidateKernels();
  const manifest: string[] = [];
  for (const [path, text] of [...kernels].sort(([a], [b]) => a.localeCompare(b))) {
    if (picked.has(path)) files.set(path, text);
    else manifest.push(`${createHash("sha256").update(text).digest("hex")}  ${path}\n`);
  }
  files.set(MANIFEST, manifest.join(""));
  return new Map([...files].sort(([a], [b]) => a.localeCompare(b)));
}
