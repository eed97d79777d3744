#!/usr/bin/python3
"""Writes tests/fixtures/pytorch_trained_relu_max.safetensors (run by hand, then commit):

    /usr/bin/python3 tools/make_onnx_fixture.py        # Debian's python3-torch (1.13)

A checkpoint as a PyTorch user would bring it: the reference nn.Sequential with ReLU and max
pooling, trained one epoch in PyTorch (Adam 1e-3, batch 256, seed 0), its state_dict saved with
no metadata; beside it (`.logits.safetensors`), PyTorch's logits for the first 256 test images,
so the ONNX test compares onnxruntime with PyTorch as well as with this project.
"""
import os

import numpy as np
import torch
from torch import nn

from pytorch_interop import lenet, save_safetensors, split

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "pytorch_trained_relu_max.safetensors")


def main():
    torch.manual_seed(0)
    x, y = split("train")
    net = lenet("relu", "max")
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    order = torch.randperm(len(x))
    for i in range(0, len(x), 256):
        batch = order[i:i + 256]
        opt.zero_grad()
        nn.CrossEntropyLoss()(net(x[batch]), y[batch]).backward()
        opt.step()
    tx, ty = split("t10k")
    with torch.no_grad():
        logits = net(tx[:256])
    accuracy = (logits.argmax(1) == ty[:256]).float().mean().item()
    save_safetensors(OUT, dict(net.state_dict()), {})
    meta = {"torch": torch.__version__, "first_256_accuracy": f"{accuracy:.4f}"}
    save_safetensors(OUT.replace(".safetensors", ".logits.safetensors"), {"logits": logits}, meta)
    print(f"{OUT}: accuracy on the first 256 test images {accuracy:.4f}")


if __name__ == "__main__":
    main()
