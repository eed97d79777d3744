#!/usr/bin/python3
"""Writes tests/fixtures/recipe_pytorch.json (run by hand, then commit):

    /usr/bin/python3 tools/make_recipe_fixtures.py        # Debian's python3-torch (1.13)

What the modern recipe's parts compute in PyTorch, for tests/recipe_test.ts to compare against:
the learning rate of every step of torch.optim.lr_scheduler's LinearLR warm-up followed by
CosineAnnealingLR (SequentialLR), CosineAnnealingLR alone and OneCycleLR; three steps of
torch.optim.AdamW; nn.CrossEntropyLoss(label_smoothing=0.1)'s loss and gradient.
"""
import json
import os

import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "recipe_pytorch.json")


def lrs(make, steps, lr):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr)  # momentum 0: OneCycleLR's momentum cycling is off below
    sched = make(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def main():
    torch.manual_seed(0)
    steps = 40
    schedules = {
        "warmup_cosine": lrs(lambda o: torch.optim.lr_scheduler.SequentialLR(o, [
            torch.optim.lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=8),
            torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=steps - 8, eta_min=1e-5),
        ], milestones=[8]), steps, 0.01),
        "cosine": lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=steps, eta_min=1e-5),
                      steps, 0.01),
        "onecycle": lrs(lambda o: torch.optim.lr_scheduler.OneCycleLR(
            o, max_lr=0.01, total_steps=steps, cycle_momentum=False), steps, 0.01),
    }
    p0 = torch.randn(64)
    grads = [torch.randn(64) for _ in range(3)]
    p = torch.nn.Parameter(p0.clone())
    opt = torch.optim.AdamW([p], lr=1e-3, weight_decay=0.05)
    after = []
    for g in grads:
        p.grad = g.clone()
        opt.step()
        after.append(p.detach().clone().tolist())
    logits = torch.randn(6, 10, requires_grad=True)
    labels = torch.tensor([0, 3, 9, 9, 5, 1])
    loss = nn.CrossEntropyLoss(label_smoothing=0.1)(logits, labels)
    loss.backward()
    json.dump({
        "torch": torch.__version__,
        "schedules": schedules,
        "adamw": {"lr": 1e-3, "weight_decay": 0.05, "p0": p0.tolist(),
                  "grads": [g.tolist() for g in grads], "after": after},
        "label_smoothing": {"epsilon": 0.1, "logits": logits.detach().tolist(), "labels": labels.tolist(),
                            "loss": loss.item(), "grad": logits.grad.tolist()},
    }, open(OUT, "w"), indent=1)
    print(OUT)


if __name__ == "__main__":
    main()
