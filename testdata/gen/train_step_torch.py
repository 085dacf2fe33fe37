#!/usr/bin/python3
"""PyTorch's side of `make bench-peers` (run by hand, never by CI).

Times training steps of the same architectures and data as the engine's side
(train/peers_bench_test.go): the MNIST fixtures' MLP (784-800-800-10) and BN
CNN, Adam, cross-entropy, on the first BATCH images of the MNIST test set with
the same preprocessing (pixel/255, NCHW).

    /usr/bin/python3 testdata/gen/train_step_torch.py MODEL MNIST_DIR THREADS BATCH

MODEL is mlp or cnn_bn. The script warms up, prints "ready", then for each
line N read from stdin runs N steps and prints their wall time in seconds, so
the Go side can alternate with its own steps in one run.
"""
import gzip
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


# The architectures of gen_mnist.py (which needs the onnx package; this
# script needs only torch and numpy).
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


def read_idx(path, ndim):
    with gzip.open(path, "rb") as f:
        b = f.read()
    dims = struct.unpack(">" + "I" * ndim, b[4:4 + 4 * ndim])
    return np.frombuffer(b, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    name, data, threads, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    x_u8 = read_idx(os.path.join(data, "t10k-images-idx3-ubyte.gz"), 3)[:batch]
    y = read_idx(os.path.join(data, "t10k-labels-idx1-ubyte.gz"), 1)[:batch]
    x = torch.from_numpy(x_u8.copy()).float().div(255).unsqueeze(1)
    t = torch.from_numpy(y.astype("int64"))
    model = {"mlp": MLP, "cnn_bn": CNN}[name]()
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), t)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    print("ready", flush=True)
    for line in sys.stdin:
        n = int(line)
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        print(f"{time.perf_counter() - t0:.6f}", flush=True)


if __name__ == "__main__":
    main()
