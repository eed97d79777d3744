#!/usr/bin/python3
"""Writes the PyTorch parity fixtures of tests/parity_test.ts (run by hand, then commit):

    /usr/bin/python3 tools/make_parity_fixtures.py        # Debian's python3-torch (1.13)

For each LeNet-5 variant: fixed weights (torch.manual_seed), a batch of 8 real Fashion-MNIST test
images, the logits, the mean cross-entropy, every parameter gradient, and the parameters after one
Adam step (lr 1e-3) and after one SGD step (lr 0.1, momentum 0.9, weight decay 5e-4). Stored as
float32 safetensors (the writer is in pytorch_interop.py: Debian has no safetensors package).
"""
import json
import os

import numpy as np
import torch
from torch import nn

from pytorch_interop import build_from_description, lenet, read_idx, save_safetensors

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures")
BATCH = [0, 1, 2, 3, 1000, 2000, 5000, 9999]  # test-set indices


def fixture(act, pool, seed):
    images = read_idx("t10k-images-idx3-ubyte.gz")[BATCH]
    labels = read_idx("t10k-labels-idx1-ubyte.gz")[BATCH]
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    torch.manual_seed(seed)
    net = lenet(act, pool)
    start = {k: v.clone() for k, v in net.state_dict().items()}
    logits = net(x)
    loss = nn.CrossEntropyLoss()(logits, y)
    loss.backward()
    out = {"input": x, "labels": y.float(), "logits": logits, "loss": loss.reshape(1)}
    out.update({f"weight.{k}": v for k, v in start.items()})
    out.update({f"grad.{k}": p.grad.clone() for k, p in net.named_parameters()})
    for name, make in [("adam", lambda ps: torch.optim.Adam(ps, lr=1e-3)),
                       ("sgd", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=5e-4))]:
        net.load_state_dict(start)
        net.zero_grad()
        opt = make(net.parameters())
        nn.CrossEntropyLoss()(net(x), y).backward()
        opt.step()
        out.update({f"{name}.{k}": v.clone() for k, v in net.state_dict().items()})
    path = os.path.join(OUT, f"parity_{act}_{pool}.safetensors")
    save_safetensors(path, out, {"torch": torch.__version__, "seed": str(seed), "images": json.dumps(BATCH)})
    print(f"{path}: loss {loss.item():.6f}")


# Networks that are not LeNet-5, as lib/nn/network.ts describes them: every activation kind, stride 2,
# global average pooling, and tanh where the engine fuses it (conv epilogue, folded pooling backward).
NETWORKS = {
    "every_layer": [
        {"type": "Conv2d", "in_channels": 1, "out_channels": 8, "kernel_size": 3, "stride": 2, "padding": 1},
        {"type": "GELU"},
        {"type": "Conv2d", "in_channels": 8, "out_channels": 16, "kernel_size": 3, "padding": 1},
        {"type": "SiLU"},
        {"type": "MaxPool2d", "kernel_size": 2},
        {"type": "Conv2d", "in_channels": 16, "out_channels": 16, "kernel_size": 3, "stride": 2, "padding": 1},
        {"type": "LeakyReLU", "negative_slope": 0.1},
        {"type": "AdaptiveAvgPool2d", "output_size": 1},
        {"type": "Flatten"},
        {"type": "Linear", "in_features": 16, "out_features": 32},
        {"type": "Sigmoid"},
        {"type": "Linear", "in_features": 32, "out_features": 24},
        {"type": "ReLU"},
        {"type": "Linear", "in_features": 24, "out_features": 10},
    ],
    "tanh_fused": [
        {"type": "Conv2d", "in_channels": 1, "out_channels": 4, "kernel_size": 5, "padding": 2},
        {"type": "Tanh"},
        {"type": "AvgPool2d", "kernel_size": 2},
        {"type": "Conv2d", "in_channels": 4, "out_channels": 8, "kernel_size": 3},
        {"type": "Tanh"},
        {"type": "MaxPool2d", "kernel_size": 2},
        {"type": "Flatten"},
        {"type": "Linear", "in_features": 288, "out_features": 32},
        {"type": "Tanh"},
        {"type": "Linear", "in_features": 32, "out_features": 10},
    ],
    "batchnorm": [
        {"type": "Conv2d", "in_channels": 1, "out_channels": 6, "kernel_size": 5, "padding": 2},
        {"type": "BatchNorm2d", "num_features": 6},
        {"type": "Sigmoid"},
        {"type": "AvgPool2d", "kernel_size": 2},
        {"type": "Conv2d", "in_channels": 6, "out_channels": 16, "kernel_size": 5},
        {"type": "BatchNorm2d", "num_features": 16, "momentum": 0.3},
        {"type": "ReLU"},
        {"type": "MaxPool2d", "kernel_size": 2},
        {"type": "Flatten"},
        {"type": "Linear", "in_features": 400, "out_features": 120},
        {"type": "BatchNorm1d", "num_features": 120},
        {"type": "Tanh"},
        {"type": "Linear", "in_features": 120, "out_features": 10},
    ],
}


def network_fixture(name, seed):
    """As fixture(), for a described network: also its description in the file's metadata."""
    desc = {"format": "lenet-webgpu.network", "version": 1, "input_shape": [1, 28, 28], "layers": NETWORKS[name]}
    images = read_idx("t10k-images-idx3-ubyte.gz")[BATCH]
    labels = read_idx("t10k-labels-idx1-ubyte.gz")[BATCH]
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    torch.manual_seed(seed)
    net = build_from_description(desc)
    start = {k: v.clone() for k, v in net.state_dict().items()}
    logits = net(x)
    loss = nn.CrossEntropyLoss()(logits, y)
    loss.backward()
    out = {"input": x, "labels": y.float(), "logits": logits, "loss": loss.reshape(1)}
    out.update({f"weight.{k}": v for k, v in start.items()})
    out.update({f"grad.{k}": p.grad.clone() for k, p in net.named_parameters()})
    # One SGD step from the same start (BatchNorm's running statistics too), then the evaluation
    # mode's logits with the statistics that step left.
    net.load_state_dict(start)
    net.zero_grad()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    nn.CrossEntropyLoss()(net(x), y).backward()
    opt.step()
    out.update({f"sgd.{k}": v.clone() for k, v in net.state_dict().items()})
    # Evaluation mode from there: the logits, and the gradients through the running statistics.
    net.eval()
    net.zero_grad()
    eval_logits = net(x)
    eval_loss = nn.CrossEntropyLoss()(eval_logits, y)
    eval_loss.backward()
    out["eval_logits"] = eval_logits
    out["eval_loss"] = eval_loss.reshape(1)
    out.update({f"evalgrad.{k}": p.grad for k, p in net.named_parameters()})
    path = os.path.join(OUT, f"parity_{name}.safetensors")
    save_safetensors(path, out, {"torch": torch.__version__, "seed": str(seed), "images": json.dumps(BATCH),
                                 "network": json.dumps(desc)})
    print(f"{path}: loss {loss.item():.6f}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    fixture("sigmoid", "avg", 1234)
    fixture("relu", "max", 4321)
    network_fixture("every_layer", 99)
    network_fixture("tanh_fused", 7)
    network_fixture("batchnorm", 11)
