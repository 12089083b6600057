#!/usr/bin/env python3
"""PyTorch reference for the GPU benchmark: the same OpenVision encoder (conv patch embed without
bias, class token, fixed 2-D sin-cos table, pre-norm blocks with LayerNorm eps 1e-6 and exact GELU,
ln_post on the mean of the patch tokens, proj without bias) with random weights, fp32 with TF32
off, eager (nn.MultiheadAttention's inference path), timed on the GPU the WebGPU rows run on.

    python3 bench/peers/pytorch_vit.py --presets presets.json --rows b-16@224x32,l-14@224x32 --out torch.json

presets.json maps preset names to src/model/config.ts's ViTConfig (tools/gpu/device-run.sh writes it from
the built library, so both sides use the same shapes). Prints one line per row; the JSON holds
img/s per row, for bench/run.ts --torch.
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def sincos_2d(width: int, grid: int) -> torch.Tensor:
    """The fixed table of the fixtures' README: class row zero, then y-major sin/cos of x and y."""
    assert width % 4 == 0
    omega = 1.0 / (10000 ** (torch.arange(width // 4, dtype=torch.float64) / (width // 4 - 1 if width > 4 else 1)))
    y, x = torch.meshgrid(torch.arange(grid, dtype=torch.float64), torch.arange(grid, dtype=torch.float64), indexing="ij")
    ox = x.flatten()[:, None] * omega[None]
    oy = y.flatten()[:, None] * omega[None]
    table = torch.cat([torch.sin(ox), torch.cos(ox), torch.sin(oy), torch.cos(oy)], dim=1)
    return torch.cat([torch.zeros(1, width, dtype=torch.float64), table]).float()


class Block(nn.Module):
    def __init__(self, w: int, heads: int, mlp: int, eps: float):
        super().__init__()
        self.ln_1 = nn.LayerNorm(w, eps=eps)
        self.attn = nn.MultiheadAttention(w, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(w, eps=eps)
        self.c_fc = nn.Linear(w, mlp)
        self.c_proj = nn.Linear(mlp, w)

    def forward(self, x):
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        return x + self.c_proj(F.gelu(self.c_fc(self.ln_2(x))))


class ViT(nn.Module):
    def __init__(self, c: dict, resolution: int):
        super().__init__()
        w, p = c["width"], c["patchSize"]
        self.conv1 = nn.Conv2d(3, w, p, p, bias=False)
        self.class_embedding = nn.Parameter(torch.randn(w) * 0.02)
        self.register_buffer("pos", sincos_2d(w, resolution // p))
        self.blocks = nn.Sequential(*[Block(w, c["heads"], c["mlpWidth"], c["eps"]) for _ in range(c["layers"])])
        self.ln_post = nn.LayerNorm(w, eps=c["eps"])
        self.proj = nn.Parameter(torch.randn(w, c["embedDim"]) * w ** -0.5)

    def forward(self, img):
        x = self.conv1(img).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_embedding.expand(x.shape[0], 1, -1), x], dim=1) + self.pos
        x = self.blocks(x)
        return self.ln_post(x[:, 1:].mean(dim=1)) @ self.proj


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", required=True)
    ap.add_argument("--rows", default="ti-16@224x32,s-16@224x32,b-16@224x32,b-8@224x32,l-14@224x32,so400m-14@224x32,h-14@224x32")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--out")
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    presets = json.load(open(a.presets))
    dev = torch.device("cuda")
    results = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "tf32": False, "rows": []}
    for spec in a.rows.split(","):
        name, rest = spec.split("@")
        res, batch = (int(v) for v in rest.split("x"))
        c = presets[name]
        torch.manual_seed(0)
        model = ViT(c, res).to(dev).eval()
        x = torch.randn(batch, 3, res, res, device=dev)
        with torch.inference_mode():
            for _ in range(3):
                model(x)
            torch.cuda.synchronize()
            times = []
            for _ in range(a.iters):
                t = time.perf_counter()
                model(x).cpu()  # the embedding back on the host, as the WebGPU rows do
                times.append(time.perf_counter() - t)
        times.sort()
        ms = 1000 * times[len(times) // 2]
        row = {"model": name, "resolution": res, "batch": batch, "msPerBatch": ms, "imagesPerSec": 1000 * batch / ms}
        results["rows"].append(row)
        print(f"pytorch {name}@{res}x{batch}: {row['imagesPerSec']:.1f} img/s ({ms:.2f} ms/batch)", flush=True)
        del model, x
        torch.cuda.empty_cache()
    if a.out:
        json.dump(results, open(a.out, "w"), indent=2)


if __name__ == "__main__":
    main()
