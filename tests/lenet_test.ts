import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { lenet5, shapeSummary } from "../lib/nn/lenet.ts";

Deno.test("lenet5 has the reference's layers, shapes and state_dict names", () => {
  const net = lenet5();
  assertEquals(shapeSummary(net, [1, 28, 28]), [
    "Conv2d output shape:\t [1, 6, 28, 28]",
    "Sigmoid output shape:\t [1, 6, 28, 28]",
    "AvgPool2d output shape:\t [1, 6, 14, 14]",
    "Conv2d output shape:\t [1, 16, 10, 10]",
    "Sigmoid output shape:\t [1, 16, 10, 10]",
    "AvgPool2d output shape:\t [1, 16, 5, 5]",
    "Flatten output shape:\t [1, 400]",
    "Linear output shape:\t [1, 120]",
    "Sigmoid output shape:\t [1, 120]",
    "Linear output shape:\t [1, 84]",
    "Sigmoid output shape:\t [1, 84]",
    "Linear output shape:\t [1, 10]",
  ]);
  const named = net.namedParameters().map((p) => [p.qualifiedName, p.shape.join("x")]);
  assertEquals(named, [
    ["0.weight", "6x1x5x5"],
    ["0.bias", "6"],
    ["3.weight", "16x6x5x5"],
    ["3.bias", "16"],
    ["7.weight", "120x400"],
    ["7.bias", "120"],
    ["9.weight", "84x120"],
    ["9.bias", "84"],
    ["11.weight", "10x84"],
    ["11.bias", "10"],
  ]);
  assert(String(net).includes("(0): Conv2d(1, 6, kernel_size=(5, 5), padding=(2, 2))"));
  const variant = lenet5({ activation: "relu", pool: "max" });
  assert(
    String(variant).includes("(1): ReLU()") &&
      String(variant).includes("(2): MaxPool2d(kernel_size=2"),
  );
  assertEquals(lenet5({ inputSize: 32 }).outputShape([1, 32, 32]), [10]);
  assertThrows(
    () => net.outputShape([3, 28, 28]),
    /Conv2d\(1, 6.*input shape \[3, 28, 28\] does not fit, expected \[1, H, W\]/,
  );
});

Deno.test("lenet5 uses PyTorch's default initialisation U(±1/√fan_in), reproducibly per seed", () => {
  const [a, b, c] = [lenet5({ seed: 1 }), lenet5({ seed: 1 }), lenet5({ seed: 2 })];
  for (const [i, p] of a.namedParameters().entries()) {
    const fanIn = p.qualifiedName.startsWith("0.")
      ? 25
      : p.qualifiedName.startsWith("3.")
      ? 150
      : { "7": 400, "9": 120, "11": 84 }[p.qualifiedName.split(".")[0]]!;
    const bound = 1 / Math.sqrt(fanIn);
    const max = p.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assert(max <= bound, `${p.qualifiedName}: max |w| ${max}, bound ${bound}`);
    if (p.data.length >= 100) {
      assert(max > 0.9 * bound, `${p.qualifiedName}: max |w| ${max} fills too little of ±${bound}`);
    }
    assertEquals(p.data, b.namedParameters()[i].data);
    assert(p.data.some((v, k) => v !== c.namedParameters()[i].data[k]));
  }
});
