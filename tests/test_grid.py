"""The sample grid written without torchvision is torchvision's file, byte for byte."""

import io

import numpy as np
import pytest
import torch
from torchvision.utils import save_image

from genlab.render.grid import grid_png


@pytest.mark.parametrize("n,per_row", [(64, 8), (10, 8), (1, 8), (100, 10), (7, 3)])
def test_grid_png_is_torchvisions(n, per_row):
    images = np.random.default_rng(n).integers(0, 256, (n, 28, 28), dtype=np.uint8)
    images[0, 0, :4] = [0, 1, 254, 255]
    expected = io.BytesIO()
    save_image(torch.from_numpy(images).unsqueeze(1).float() / 255, expected, format="png", nrow=per_row, padding=2)
    assert grid_png(images, per_row, 2) == expected.getvalue()
