// Device buffers come back: models, optimisers and training passes free what they allocate.
import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { fashionMnist, head } from "./_data.ts";
import { requestGpu } from "../lib/gpu/device.ts";
import { lenet5 } from "../lib/nn/lenet.ts";
import { Model } from "../lib/train/model.ts";
import { Adam } from "../lib/train/optimizer.ts";
import { train } from "../lib/train/trainer.ts";
import { evaluate } from "../lib/train/evaluator.ts";

/** Wraps `device.createBuffer` so that the set returned holds every buffer not destroyed yet. */
function liveBuffers(device: GPUDevice): Set<GPUBuffer> {
  const live = new Set<GPUBuffer>();
  const create = device.createBuffer.bind(device);
  device.createBuffer = (descriptor: GPUBufferDescriptor) => {
    const buffer = create(descriptor);
    live.add(buffer);
    const destroy = buffer.destroy.bind(buffer);
    buffer.destroy = () => {
      live.delete(buffer);
      destroy();
    };
    return buffer;
  };
  return live;
}

Deno.test("training three models in one process leaves the live GPU buffers where they started", async () => {
  const gpu = await requestGpu();
  const live = liveBuffers(gpu.device);
  const data = await fashionMnist();
  const small = { train: head(data.train, 512), test: head(data.test, 300) };
  const before = live.size;
  const rss: number[] = [];
  for (const [n, activation] of (["sigmoid", "relu", "sigmoid"] as const).entries()) {
    const model = new Model(gpu, lenet5({ activation, seed: n }));
    const optimizer = new Adam();
    const history = await train(model, small, { epochs: 1, batchSize: 128, optimizer });
    assertEquals(history.epochs.length, 1);
    await evaluate(model, small.test, { batchSize: 100, predictions: true });
    await model.predict(new Float32Array(3 * 28 * 28), 3);
    assert(live.size > before, "training allocates buffers");
    optimizer.dispose();
    model.dispose();
    assertEquals(live.size, before, `buffers left after model ${n + 1}`);
    rss.push(Deno.memoryUsage().rss);
  }
  console.log(
    `live buffers: ${before} before and after; rss after each model (MB):`,
    rss.map((b) => Math.round(b / 2 ** 20)),
  );
  // A leak of the plans' buffers would grow by tens of MB a model; allow noise, not a leak.
  assert(rss[2] - rss[0] < 64 * 2 ** 20, `memory grew by ${(rss[2] - rss[0]) / 2 ** 20} MB`);
});

Deno.test("a disposed model refuses further use; an optimiser serves one model", async () => {
  const gpu = await requestGpu();
  const a = new Model(gpu, lenet5()), b = new Model(gpu, lenet5());
  const adam = new Adam();
  adam.attach(a);
  assertThrows(() => adam.attach(b), /already serves another model/);
  adam.dispose();
  a.dispose();
  b.dispose();
  assertThrows(() => a.plan(8, "eval"), /disposed/);
});
