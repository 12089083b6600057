#!/usr/bin/env python3
"""Reads an output folder of a collection run (docs/datasets.md, "Output layout") with numpy alone.

Prints one line per .npy: "<file> <dtype> <shape> <sum as float64> <norm of row 0>", then the
manifest's finished parts. The Parquet files are listed, not read (numpy has no Parquet reader).
Used once to make test/fixtures/pipeline/read-embeddings.txt from test/fixtures/pipeline/out/:

    python3 tools/read-embeddings.py test/fixtures/pipeline/out > test/fixtures/pipeline/read-embeddings.txt
"""
import json
import os
import sys

import numpy as np


def main(out):
    for folder in ("img_emb", "text_emb"):
        d = os.path.join(out, folder)
        if not os.path.isdir(d):
            continue
        names = [n for n in os.listdir(d) if n.endswith(".npy") and not n.startswith(".")]
        for name in sorted(names, key=lambda n: int(n.rsplit("_", 1)[1].split(".")[0])):
            a = np.load(os.path.join(d, name))
            shape = "(" + ",".join(str(s) for s in a.shape) + ")"
            total = a.astype(np.float64).sum()
            norm0 = float(np.linalg.norm(a[0].astype(np.float64))) if a.shape[0] else 0.0
            print(f"{folder}/{name} {a.dtype} {shape} {float(total)!r} {norm0!r}")
    with open(os.path.join(out, "manifest.json")) as f:
        m = json.load(f)
    for n, part in m["parts"].items():
        print(f"part {n}: {part['rows']} rows, {part['failed']} failed, files {' '.join(part['files'])}")


if __name__ == "__main__":
    main(sys.argv[1])
