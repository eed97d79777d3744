import { assert } from "./_assert.ts";
import { lossChartSvg } from "../lib/view/chart.ts";
import type { EpochMetrics } from "../lib/train/trainer.ts";

Deno.test("the loss chart is an SVG with a title, labelled axes, the loss curve and accuracy points", () => {
  const epoch = (e: number, acc: number): EpochMetrics => ({
    epoch: e,
    train_loss: 1,
    train_accuracy: acc,
    test_loss: 1,
    test_accuracy: acc,
    train_seconds: 1,
    eval_seconds: 1,
    images_per_second: 1,
  });
  const svg = lossChartSvg({
    losses: [{ step: 100, loss: 2.3 }, { step: 200, loss: 1.1 }, { step: 300, loss: 0.7 }],
    epochs: [epoch(1, 0.6), epoch(2, 0.7)],
    stepsPerEpoch: 235,
  });
  assert(svg.startsWith("<svg") && svg.trimEnd().endsWith("</svg>"));
  for (
    const text of [
      "LeNet-5 on Fashion-MNIST",
      "training step",
      "mini-batch loss",
      "test accuracy",
      "0.7000 after epoch 2",
    ]
  ) {
    assert(svg.includes(text), text);
  }
  assert((svg.match(/<path /g) ?? []).length === 2 && (svg.match(/<circle /g) ?? []).length === 2);
  assert(!svg.includes("NaN"));
});

Deno.test("degenerate curves draw at once: all-zero, empty, non-finite and single points", () => {
  for (
    const losses of [
      [{ step: 1, loss: 0 }],
      [],
      [{ step: 1, loss: NaN }, { step: 2, loss: Infinity }],
      [{ step: 0, loss: 5 }],
    ]
  ) {
    const svg = lossChartSvg({ losses, epochs: [], stepsPerEpoch: 0 });
    assert(svg.startsWith("<svg") && svg.trimEnd().endsWith("</svg>"), JSON.stringify(losses));
    assert(svg.length < 100_000, `${svg.length} characters for ${JSON.stringify(losses)}`);
  }
});
