#!/usr/bin/env python3
"""Reference for src/model/pos-resize.ts: open_clip's resize_pos_embed on seeded random tables.

Writes test/fixtures/pos-resize.expected.json: for a few grid sizes up and down, a [1 + g², C]
table (class row first) and the table PyTorch makes of it at the new grid, as open_clip's
resize_pos_embed does (class row kept; the g×g grid, as [1, C, g, g], through
F.interpolate(size=(g', g'), mode='bicubic', align_corners=False, antialias=True)), in float64;
and how far PyTorch's float32 result (what open_clip computes on a float32 checkpoint) is from it.

Needs PyTorch (Debian: apt-get install python3-torch). Run from the repository root:
    python3 tools/make-pos-resize-fixture.py
"""
import json

import torch
import torch.nn.functional as F

OUT = 'test/fixtures/pos-resize.expected.json'
CASES = [(4, 6), (7, 5), (14, 16), (16, 14), (3, 8), (24, 7), (2, 1), (14, 24)]
CHANNELS = 3


def resize_pos_embed(table, new_grid):
    """open_clip's resize_pos_embed for one table with one class token."""
    tok, img = table[:1], table[1:]
    g = int(round(len(img) ** 0.5))
    img = img.reshape(1, g, g, -1).permute(0, 3, 1, 2)
    img = F.interpolate(img, size=(new_grid, new_grid), mode='bicubic', antialias=True, align_corners=False)
    img = img.permute(0, 2, 3, 1).reshape(new_grid * new_grid, -1)
    return torch.cat([tok, img], dim=0)


def main():
    gen = torch.Generator().manual_seed(20261202)
    cases = []
    for g, h in CASES:
        table = torch.randn(1 + g * g, CHANNELS, generator=gen, dtype=torch.float64)
        # a smooth part as well, as learned tables are, so that interpolation matters beside the noise
        r = torch.arange(g, dtype=torch.float64)
        smooth = torch.sin(r[:, None] / g * 3) + torch.cos(r[None, :] / g * 2)
        table[1:, 0] += 3 * smooth.reshape(-1)
        out64 = resize_pos_embed(table, h)
        out32 = resize_pos_embed(table.float(), h).double()
        cases.append({
            'grid': g,
            'newGrid': h,
            'channels': CHANNELS,
            'table': table.reshape(-1).tolist(),
            'expected': out64.reshape(-1).tolist(),
            'float32MaxAbsDiff': float((out32 - out64).abs().max()),
        })
    note = ("open_clip's resize_pos_embed (F.interpolate bicubic, align_corners=False, antialias=True) in "
            f'float64 by PyTorch {torch.__version__} (tools/make-pos-resize-fixture.py); tables [1 + g^2, C] '
            'row-major, class row first; float32MaxAbsDiff: PyTorch float32 against float64.')
    with open(OUT, 'w') as f:
        json.dump({'note': note, 'cases': cases}, f)
        f.write('\n')
    print(f'wrote {OUT}: {len(cases)} cases')


if __name__ == '__main__':
    main()
