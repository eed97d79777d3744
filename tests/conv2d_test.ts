import { assert, assertEquals } from "./_assert.ts";
import { maxAbs, maxAbsDiff, randomFloats, runKernel, testGpu } from "./_gpu.ts";
import { constantBuffer, readFloats, storageBuffer } from "../lib/gpu/buffers.ts";
import { KernelRunner } from "../lib/gpu/kernel_runner.ts";
import * as ref from "./_reference.ts";
import { conv2dBackwardInput, conv2dForward, type Conv2dShape } from "../kernels/conv2d.ts";
import {
  conv2dBackwardWeight,
  conv2dWeightGradPlan,
  conv2dWeightGradViews,
} from "../kernels/conv2d_weight.ts";
import { sumRows } from "../kernels/reduce.ts";
import { blockSize, type KernelSpec } from "../kernels/spec.ts";
import { convTile, correlationTiles, MAX_ACCUMULATORS } from "../lib/nn/conv_candidates.ts";
import { chunkConstants, type ChunkPlan, uniformChunks } from "../kernels/views.ts";
import { candidateCalls } from "../lib/nn/_chunked.ts";
import type { BufferSlice, KernelCall } from "../lib/gpu/kernel_runner.ts";

/** The calls of `kernel` with operands read through views (name → plan, tensor, constants). */
function viewedCalls(
  kernel: KernelSpec,
  operands: Record<string, { plan: ChunkPlan; source: BufferSlice; constants: BufferSlice }>,
  rest: BufferSlice[],
): KernelCall[] {
  const entries = Object.entries(operands);
  return candidateCalls(
    kernel,
    { variant: kernel.name, views: entries.map(([operand, o]) => ({ operand, plan: o.plan })) },
    "test",
    Object.fromEntries(entries.map(([name, o]) => [name, o.source])),
    Object.fromEntries(entries.map(([name, o]) => [`test.${name}`, o.constants])),
    rest,
  );
}

const cases: ref.ConvDims[] = [
  { B: 3, C: 1, H: 28, W: 28, O: 6, KH: 5, KW: 5, SH: 1, SW: 1, PH: 2, PW: 2 }, // LeNet conv1
  { B: 2, C: 6, H: 14, W: 14, O: 16, KH: 5, KW: 5, SH: 1, SW: 1, PH: 0, PW: 0 }, // LeNet conv2
  { B: 2, C: 3, H: 9, W: 7, O: 5, KH: 3, KW: 2, SH: 2, SW: 3, PH: 1, PW: 2 }, // odd everything
  { B: 1, C: 20, H: 6, W: 6, O: 34, KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1 }, // channel blocks
];

function shapeOf(d: ref.ConvDims): Conv2dShape {
  return {
    batch: d.B,
    inChannels: d.C,
    height: d.H,
    width: d.W,
    outChannels: d.O,
    kernel: [d.KH, d.KW],
    stride: [d.SH, d.SW],
    padding: [d.PH, d.PW],
  };
}

for (const [n, d] of cases.entries()) {
  const uniformWeights = n % 2 === 0; // both weight bindings get exercised
  Deno.test(`conv2d forward and backward match the CPU reference (case ${n}, uniform weights ${uniformWeights})`, async () => {
    const OH = ref.outSize(d.H, d.KH, d.SH, d.PH), OW = ref.outSize(d.W, d.KW, d.SW, d.PW);
    const x = randomFloats(d.B * d.C * d.H * d.W, 1 + n);
    const wCount = d.O * d.C * d.KH * d.KW;
    const wb = randomFloats(wCount + d.O, 2 + n, -0.5, 0.5);
    const w = wb.subarray(0, wCount), bias = wb.subarray(wCount);
    const dy = randomFloats(d.B * d.O * OH * OW, 3 + n);
    const s = shapeOf(d);

    const wArg = uniformWeights ? padded(wb) : wb;
    const yRef = ref.conv2d(d, x, w, bias);
    const back = ref.conv2dBackward(d, x, w, dy);
    // Every tile the tuner may try, and a 1-channel tile of 3 columns (a guarded edge on most
    // rows).
    const forwardTiles = [...correlationTiles(d.O, OW), { channels: 1, columns: 3 }];
    const inputTiles = [...correlationTiles(d.C, d.W), { channels: 1, columns: 3 }];
    const errs: Record<string, number> = {};
    for (const tile of forwardTiles) {
      const [y] = await runKernel(conv2dForward(s, { uniformWeights, tile }), [
        x,
        wArg,
        d.B * d.O * OH * OW,
      ]);
      errs[`y tile ${tile.channels}x${tile.columns}`] = maxAbsDiff(y, yRef) / maxAbs(yRef);
    }
    for (const dxTile of inputTiles) {
      const [dx] = await runKernel(conv2dBackwardInput(s, { uniformWeights, tile: dxTile }), [
        dy,
        wArg,
        x.length,
      ]);
      errs[`dx tile ${dxTile.channels}x${dxTile.columns}`] = maxAbsDiff(dx, back.dx) /
        maxAbs(back.dx);
    }
    // The storage variant of the weight gradient, with the tuner's blocks and with 1.
    const cap = Math.floor(MAX_ACCUMULATORS / d.KW);
    for (const outBlock of new Set([blockSize(d.O, cap), blockSize(d.O, cap / 2), 1])) {
      const [partial] = await runKernel(conv2dBackwardWeight(s, { outBlock }), [
        x,
        dy,
        d.B * (wCount + d.O),
      ]);
      const [grad] = await runKernel(sumRows(d.B, wCount + d.O), [partial, wCount + d.O]);
      errs[`dw block ${outBlock}`] = maxAbsDiff(grad.subarray(0, wCount), back.dw) /
        maxAbs(back.dw);
      errs[`db block ${outBlock}`] = maxAbsDiff(grad.subarray(wCount), back.db) / maxAbs(back.db);
    }
    console.log(`conv2d case ${n}: max relative difference`, errs);
    for (const [k, e] of Object.entries(errs)) assert(e < 1e-5, `${k}: ${e}`);
  });
}

/** Uniform arrays of vec4f need a multiple of 4 floats. */
function padded(a: Float32Array): Float32Array {
  const out = new Float32Array(Math.ceil(a.length / 4) * 4);
  out.set(a);
  return out;
}

Deno.test("conv2d weight gradient read through chunked uniform views of x matches the reference", async () => {
  const { device } = await testGpu();
  const d: ref.ConvDims = {
    B: 7,
    C: 2,
    H: 9,
    W: 8,
    O: 3,
    KH: 3,
    KW: 3,
    SH: 1,
    SW: 1,
    PH: 1,
    PW: 1,
  };
  const s = shapeOf(d);
  const OH = ref.outSize(d.H, d.KH, d.SH, d.PH), OW = ref.outSize(d.W, d.KW, d.SW, d.PW);
  // A view of 384 floats (6 × 64) holds two images of x (2·9·8 = 144 floats each): 4 chunks,
  // the last clamped to end at the buffer's end.
  const plan = conv2dWeightGradPlan(s, 400)!;
  assertEquals(plan.viewFloats, 384);
  assertEquals(plan.chunks.map((c) => [c.first, c.count]), [[0, 2], [2, 2], [4, 2], [6, 1]]);
  assert(
    plan.chunks.every((c) => c.viewOffset % 64 === 0 && c.base + c.count * 144 <= plan.viewFloats),
  );
  const x = randomFloats(d.B * d.C * d.H * d.W, 31), dy = randomFloats(d.B * d.O * OH * OW, 32);
  const wCount = d.O * d.C * d.KH * d.KW, row = wCount + d.O;
  const xBuf = storageBuffer(device, x), dyBuf = storageBuffer(device, dy);
  const partial = storageBuffer(device, d.B * row * 4), grad = storageBuffer(device, row * 4);
  const constants = constantBuffer(device, chunkConstants(plan));
  const kernel = conv2dBackwardWeight(s, { plan });
  const runner = KernelRunner.for(device);
  const calls = plan.chunks.map((c, k) => ({
    kernel,
    buffers: [
      { buffer: xBuf, offset: c.viewOffset * 4, size: plan.viewFloats * 4 },
      { buffer: constants, offset: k * 256, size: 16 },
      dyBuf,
      partial,
    ],
  }));
  calls.push({ kernel: sumRows(d.B, row), buffers: [partial, grad] });
  runner.submit(await runner.prepareAll(calls));
  const back = ref.conv2dBackward(d, x, randomFloats(wCount, 0), dy);
  const error = (got: Float32Array) =>
    Math.max(
      maxAbsDiff(got.subarray(0, wCount), back.dw),
      maxAbsDiff(got.subarray(wCount), back.db),
    );
  const err = error(await readFloats(device, grad, 0, row));
  // dy through views too: its 216 floats an image allow one image a view, so x follows suit.
  const views = conv2dWeightGradViews(s, 400)!;
  assertEquals([views.plan.images, views.dyPlan.images, views.plan.chunks.length], [1, 1, 7]);
  const dyConstants = constantBuffer(device, chunkConstants(views.dyPlan));
  const xConstants = constantBuffer(device, chunkConstants(views.plan));
  const errs: Record<string, number> = { "x viewed": err };
  for (const window of [false, true]) {
    const viewed = viewedCalls(conv2dBackwardWeight(s, { ...views, window }), {
      x: { plan: views.plan, source: { buffer: xBuf }, constants: { buffer: xConstants } },
      dy: { plan: views.dyPlan, source: { buffer: dyBuf }, constants: { buffer: dyConstants } },
    }, [{ buffer: partial }]);
    // By input row, x alone viewed (the plan of 4 chunks above).
    const xViewed = viewedCalls(conv2dBackwardWeight(s, { plan, window }), {
      x: { plan, source: { buffer: xBuf }, constants: { buffer: constants } },
    }, [{ buffer: dyBuf }, { buffer: partial }]);
    for (const [name, calls] of [["x, dy viewed", viewed], ["x viewed", xViewed]] as const) {
      runner.submit(
        await runner.prepareAll([...calls, {
          kernel: sumRows(d.B, row),
          buffers: [partial, grad],
        }]),
      );
      errs[`${name}${window ? " by input row" : ""}`] = error(
        await readFloats(device, grad, 0, row),
      );
    }
  }
  console.log("chunked weight gradient: max abs difference", errs);
  for (const [k, e] of Object.entries(errs)) assert(e < 1e-5, `${k}: ${e}`);
});

Deno.test("conv2d fused epilogues: forward with an activation, dx gated by the input's derivative", async () => {
  const d: ref.ConvDims = {
    B: 2,
    C: 3,
    H: 8,
    W: 8,
    O: 4,
    KH: 3,
    KW: 3,
    SH: 1,
    SW: 1,
    PH: 1,
    PW: 1,
  };
  const s = shapeOf(d);
  const x = randomFloats(d.B * d.C * d.H * d.W, 41, 0, 1); // an activation's output
  const wCount = d.O * d.C * d.KH * d.KW;
  const wb = randomFloats(wCount + d.O, 42, -0.5, 0.5);
  const dy = randomFloats(d.B * d.O * d.H * d.W, 43);
  for (const kind of ["sigmoid", "relu"] as const) {
    const f = kind === "sigmoid" ? ref.sigmoid : (v: number) => Math.max(v, 0);
    const fprime = kind === "sigmoid" ? (y: number) => y * (1 - y) : (y: number) => (y > 0 ? 1 : 0);
    const tile = convTile(d.O, d.W);
    const [y] = await runKernel(conv2dForward(s, { activation: kind, tile }), [x, wb, dy.length]);
    const yRef = ref.conv2d(d, x, wb.subarray(0, wCount), wb.subarray(wCount)).map(f);
    const [dx] = await runKernel(conv2dBackwardInput(s, { gate: kind, tile: convTile(d.C, d.W) }), [
      dy,
      wb,
      x,
      x.length,
    ]);
    const dxRef = ref.conv2dBackward(d, x, wb.subarray(0, wCount), dy).dx.map((g, i) =>
      g * fprime(x[i])
    );
    const err = { y: maxAbsDiff(y, yRef), dx: maxAbsDiff(dx, dxRef) };
    console.log(`conv2d fused ${kind}: max abs difference`, err);
    assert(err.y < 1e-5 && err.dx < 1e-5, JSON.stringify(err));
  }
});

Deno.test("conv2d forward and input gradient read through chunked uniform views match the reference", async () => {
  const { device } = await testGpu();
  const runner = KernelRunner.for(device);
  for (const [n, d] of [cases[0], cases[1], cases[2]].entries()) {
    const s = shapeOf(d);
    const OH = ref.outSize(d.H, d.KH, d.SH, d.PH), OW = ref.outSize(d.W, d.KW, d.SW, d.PW);
    const x = randomFloats(d.B * d.C * d.H * d.W, 51 + n),
      dy = randomFloats(d.B * d.O * OH * OW, 61 + n);
    const wCount = d.O * d.C * d.KH * d.KW;
    const wb = randomFloats(wCount + d.O, 71 + n, -0.5, 0.5);
    // Views of about 1.5 images: one image per chunk, every chunk but the first off-aligned.
    const xPlan = uniformChunks(d.B, d.C * d.H * d.W, Math.ceil(1.5 * d.C * d.H * d.W) + 64)!;
    const dyPlan = uniformChunks(d.B, d.O * OH * OW, Math.ceil(1.5 * d.O * OH * OW) + 64)!;
    assert(xPlan.chunks.length === d.B && dyPlan.chunks.length === d.B);
    const [xBuf, dyBuf, wBuf] = [x, dy, wb].map((a) => storageBuffer(device, a));
    const yBuf = storageBuffer(device, dy.length * 4), dxBuf = storageBuffer(device, x.length * 4);
    const xConst = constantBuffer(device, chunkConstants(xPlan)),
      dyConst = constantBuffer(device, chunkConstants(dyPlan));
    const calls = [
      ...viewedCalls(
        conv2dForward(s, { inputPlan: xPlan, tile: convTile(d.O, OW) }),
        { x: { plan: xPlan, source: { buffer: xBuf }, constants: { buffer: xConst } } },
        [{ buffer: wBuf }, { buffer: yBuf }],
      ),
      ...viewedCalls(
        conv2dBackwardInput(s, { inputPlan: dyPlan, tile: convTile(d.C, d.W) }),
        { dy: { plan: dyPlan, source: { buffer: dyBuf }, constants: { buffer: dyConst } } },
        [{ buffer: wBuf }, { buffer: dxBuf }],
      ),
    ];
    runner.submit(await runner.prepareAll(calls));
    const y = await readFloats(device, yBuf, 0, dy.length),
      dx = await readFloats(device, dxBuf, 0, x.length);
    const yRef = ref.conv2d(d, x, wb.subarray(0, wCount), wb.subarray(wCount));
    const dxRef = ref.conv2dBackward(d, x, wb.subarray(0, wCount), dy).dx;
    const err = {
      y: maxAbsDiff(y, yRef) / maxAbs(yRef),
      dx: maxAbsDiff(dx, dxRef) / maxAbs(dxRef),
    };
    console.log(`chunked conv2d case ${n} (${d.B} chunks): max relative difference`, err);
    assert(err.y < 1e-5 && err.dx < 1e-5, JSON.stringify(err));
  }
});

Deno.test("conv2d forward with a fused 2×2 pooling matches conv, activation, then pooling", async () => {
  const shapes: ref.ConvDims[] = [
    { B: 2, C: 1, H: 28, W: 28, O: 6, KH: 5, KW: 5, SH: 1, SW: 1, PH: 2, PW: 2 }, // conv1
    { B: 2, C: 6, H: 14, W: 14, O: 16, KH: 5, KW: 5, SH: 1, SW: 1, PH: 0, PW: 0 }, // conv2
    { B: 3, C: 3, H: 10, W: 10, O: 4, KH: 3, KW: 3, SH: 1, SW: 1, PH: 0, PW: 0 }, // 8×8, ragged tiles
  ];
  for (const [n, d] of shapes.entries()) {
    const s = shapeOf(d);
    const OH = ref.outSize(d.H, d.KH, d.SH, d.PH), OW = ref.outSize(d.W, d.KW, d.SW, d.PW);
    const x = randomFloats(d.B * d.C * d.H * d.W, 81 + n);
    const wCount = d.O * d.C * d.KH * d.KW;
    const wb = randomFloats(wCount + d.O, 91 + n, -0.5, 0.5);
    // The rule's tile, a whole row, a narrow one, and a guarded last tile (6 does not divide the
    // row); the tuner's other candidates run in tune_test.ts.
    const tiles = [
      convTile(d.O, OW),
      { channels: blockSize(d.O, 96 / OW), columns: OW },
      { channels: 1, columns: 2 },
      { channels: d.O, columns: 6 },
    ];
    for (const activation of n === 2 ? ["sigmoid", undefined] as const : ["sigmoid"] as const) {
      const f = activation ? ref.sigmoid : (v: number) => v;
      const yRef = ref.conv2d(d, x, wb.subarray(0, wCount), wb.subarray(wCount)).map(f);
      const poolDims = { B: d.B, C: d.O, H: OH, W: OW, K: 2, S: 2, P: 0 };
      for (const kind of ["avg", "max"] as const) {
        const want = ref.pool(kind, poolDims, yRef);
        const outs = d.B * d.O * OH * OW / 4;
        for (const keepInput of [true, false]) {
          for (const tile of tiles) {
            const kernel = conv2dForward(s, { tile, activation, pool: { kind, keepInput } });
            const got = await runKernel(kernel, [
              x,
              wb,
              ...(keepInput ? [yRef.length] : []),
              outs,
              ...(kind === "max" && keepInput ? [outs] : []),
            ]);
            const y = keepInput ? got.shift()! : null;
            const [pooled, argmax] = got;
            const what = `shape ${n} ${
              activation ?? "no activation"
            } ${kind} tile ${tile.channels}x${tile.columns}`;
            assert(
              maxAbsDiff(pooled, want.y) < 1e-5,
              `${what}: pooled ${maxAbsDiff(pooled, want.y)}`,
            );
            if (y) assert(maxAbsDiff(y, yRef) < 1e-5, `${what}: y`);
            if (argmax) {
              const idx = new Uint32Array(argmax.buffer);
              assert(idx.every((v, i) => v === want.idx[i]), `${what}: argmax`);
            }
          }
        }
      }
    }
  }
});

Deno.test("conv2d weight gradient with a pooling's backward folded in matches pooling, gate, then the weight gradient", async () => {
  const shapes: ref.ConvDims[] = [
    { B: 2, C: 1, H: 12, W: 12, O: 3, KH: 5, KW: 5, SH: 1, SW: 1, PH: 2, PW: 2 },
    { B: 3, C: 2, H: 10, W: 10, O: 4, KH: 3, KW: 3, SH: 1, SW: 1, PH: 0, PW: 0 },
  ];
  for (const [n, d] of shapes.entries()) {
    const s = shapeOf(d);
    const OH = ref.outSize(d.H, d.KH, d.SH, d.PH), OW = ref.outSize(d.W, d.KW, d.SW, d.PW);
    const x = randomFloats(d.B * d.C * d.H * d.W, 101 + n);
    const y = randomFloats(d.B * d.O * OH * OW, 111 + n, 0, 1); // the activation's output
    const dpool = randomFloats(y.length / 4, 121 + n);
    const poolDims = { B: d.B, C: d.O, H: OH, W: OW, K: 2, S: 2, P: 0 };
    const wCount = d.O * d.C * d.KH * d.KW, row = wCount + d.O;
    const plan = uniformChunks(d.B, d.C * d.H * d.W, 16384)!;
    const xView = new Float32Array(plan.viewFloats);
    xView.set(x);
    // dpool through views chunked like x's (two images a view here).
    const paired = conv2dWeightGradViews(s, Math.ceil(2.2 * d.C * d.H * d.W) + 64, true)!;
    const variants = [
      { outBlock: 1 },
      { outBlock: d.O },
      { plan },
      { plan, window: true },
      { plan: paired.plan, view: paired.dyPlan },
      { plan: paired.plan, view: paired.dyPlan, window: true },
    ];
    for (const kind of ["avg", "max"] as const) {
      for (const gate of ["sigmoid", undefined] as const) {
        const argmax = Uint32Array.from(ref.pool(kind, poolDims, y).idx);
        const dy = ref.poolBackward(kind, poolDims, y, dpool)
          .map((g, i) => (gate ? g * y[i] * (1 - y[i]) : g));
        const want = ref.conv2dBackward(d, x, randomFloats(wCount, 0), dy);
        for (const { view, ...variant } of variants) {
          const kernel = conv2dBackwardWeight(s, variant, { kind, gate, view });
          if (view) {
            const got = await viewedWeightGradient(kernel, variant.plan!, view, x, dpool, [
              ...(kind === "max" ? [argmax] : []),
              ...(gate ? [y] : []),
            ], d.B * row);
            const [grad] = await runKernel(sumRows(d.B, row), [got, row]);
            const err = Math.max(
              maxAbsDiff(grad.subarray(0, wCount), want.dw) / maxAbs(want.dw),
              maxAbsDiff(grad.subarray(wCount), want.db) / maxAbs(want.db),
            );
            assert(err < 1e-5, `shape ${n} ${kind} ${gate} viewed dpool: ${err}`);
            continue;
          }
          const args = [
            ...("plan" in variant ? [xView, chunkConstants(plan)] : [x]),
            dpool,
            ...(kind === "max" ? [argmax] : []),
            ...(gate ? [y] : []),
            d.B * row,
          ];
          const [partial] = await runKernel(kernel, args);
          const [grad] = await runKernel(sumRows(d.B, row), [partial, row]);
          const err = Math.max(
            maxAbsDiff(grad.subarray(0, wCount), want.dw) / maxAbs(want.dw),
            maxAbsDiff(grad.subarray(wCount), want.db) / maxAbs(want.db),
          );
          assert(
            err < 1e-5,
            `shape ${n} ${kind} ${gate} ${JSON.stringify(variant).slice(0, 40)}: ${err}`,
          );
        }
      }
    }
  }
});

/** Runs a weight-gradient kernel that reads x and dpool through views, chunk by chunk. */
async function viewedWeightGradient(
  kernel: KernelSpec,
  plan: ChunkPlan,
  view: ChunkPlan,
  x: Float32Array,
  dpool: Float32Array,
  rest: ArrayBufferView[],
  partialFloats: number,
): Promise<Float32Array> {
  const { device } = await testGpu();
  const padded = (a: Float32Array) => {
    const out = new Float32Array(Math.ceil(a.length / 64) * 64 + 64);
    out.set(a);
    return out;
  };
  const xBuf = storageBuffer(device, padded(x)), pBuf = storageBuffer(device, padded(dpool));
  const partial = storageBuffer(device, partialFloats * 4);
  const calls = viewedCalls(kernel, {
    x: {
      plan,
      source: { buffer: xBuf },
      constants: { buffer: constantBuffer(device, chunkConstants(plan)) },
    },
    dpool: {
      plan: view,
      source: { buffer: pBuf },
      constants: { buffer: constantBuffer(device, chunkConstants(view)) },
    },
  }, [...rest.map((r) => ({ buffer: storageBuffer(device, r) })), { buffer: partial }]);
  const runner = KernelRunner.for(device);
  runner.submit(await runner.prepareAll(calls));
  return await readFloats(device, partial, 0, partialFloats);
}
