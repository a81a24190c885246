#!/usr/bin/python3
"""Produces tests/data/refine/: reference numbers for camkit's CAM refinement (include/camkit/refine/).

Each step of High-Resolution Class Activation Mapping's post-processing (Tagaris et al., ICIP 2019,
github.com/djib2011/high-res-mapping) calls a library function; this script calls the same library
functions with the same arguments on small random inputs and saves their results:

  box filter         scipy.ndimage.convolve(x, ones(k^rank) / k^rank)      (default mode 'reflect')
  Sobel magnitude    skimage.filters.sobel(x)
  percentile         numpy.percentile (linear) and the original's min + scipy.stats.iqr(rng=(0, p))
  local maxima       skimage.morphology.local_maxima(x)
  hole filling       skimage.morphology.remove_small_holes(mask, area_threshold)
  region growing     SimpleITK.ConnectedThreshold(image, seedList, lower, upper, replaceValue=1)
  bilinear resize    PIL Image.fromarray(x).resize((W, H), Image.BILINEAR)  (mode F)
  nearest resize     PIL Image.fromarray(x).resize((W, H), Image.NEAREST)

and the whole pipeline written out step by step from those calls (this script's own code, not the
original's), for two option sets. The refined CAM ('merged') is computed as camkit defines it
(float maps); the original's 8-bit variant is saved as *_merged_8bit.npy so that the tests can
bound the difference.

Environment: Debian bookworm /usr/bin/python3 with python3-numpy, python3-scipy, python3-skimage,
python3-pil, and SimpleITK from pip in a virtual environment that sees the system packages:
  /usr/bin/python3 -m venv --system-site-packages /tmp/venv && /tmp/venv/bin/pip install SimpleITK
  /tmp/venv/bin/python tools/reference/make_refine_reference.py [--out tests/data/refine]
The inputs come from numpy.random.default_rng with fixed seeds; the run is deterministic.
Real-valued results are float64, masks and points float32 (camkit's npy reader decodes both).
"""
import argparse
import os

import numpy as np
import PIL
import scipy
import skimage
import SimpleITK as sitk
from PIL import Image
from scipy import ndimage, stats
from skimage import filters, morphology


def save(out, name, arr, dtype=np.float64):
    np.save(os.path.join(out, name + '.npy'), np.ascontiguousarray(np.asarray(arr, dtype=dtype)))


def normalize(x):
    return (x - x.min()) / (x.max() - x.min())


def pil_resize(x, shape, resample):
    return np.array(Image.fromarray(x).resize((shape[1], shape[0]), resample=resample)).astype(np.float64)


def original_percentile(x, p):
    return x.min() + stats.iqr(x, rng=(0, p))


def connected_threshold(image, seeds_rc, lower, upper):
    # SimpleITK takes (x, y[, z]) seeds: the reverse of camkit's row-then-column points.
    seeds = [tuple(int(c) for c in reversed(s)) for s in seeds_rc]
    segm = sitk.ConnectedThreshold(image1=sitk.GetImageFromArray(image), seedList=seeds, lower=float(lower),
                                   upper=float(upper), replaceValue=1)
    return sitk.GetArrayFromImage(segm)


def steps(out, rng):
    # Box filter: odd and even widths in 2-D, width 3 in 3-D.
    x2 = rng.random((7, 9))
    x3 = rng.random((5, 6, 7))
    save(out, 'box_2d_in', x2)
    save(out, 'box_3d_in', x3)
    for k in (5, 4):
        save(out, f'box_2d_size{k}', ndimage.convolve(x2, np.ones((k, k)) / k ** 2))
    save(out, 'box_3d_size3', ndimage.convolve(x3, np.ones((3, 3, 3)) / 27))
    save(out, 'sobel_2d', filters.sobel(x2))
    save(out, 'sobel_3d', filters.sobel(x3))

    # Percentiles of 37 values: numpy's linear method and the original's formula.
    v = rng.random(37)
    ps = [0, 12.5, 25, 50, 75, 85, 99, 100]
    save(out, 'percentile_in', v)
    save(out, 'percentile_out', [[p, np.percentile(v, p), original_percentile(v, p)] for p in ps])

    # Local maxima of small integer values (many plateaus).
    m2 = rng.integers(0, 4, (10, 12)).astype(np.float64)
    m3 = rng.integers(0, 4, (6, 7, 8)).astype(np.float64)
    save(out, 'maxima_2d_in', m2)
    save(out, 'maxima_3d_in', m3)
    save(out, 'maxima_2d', morphology.local_maxima(m2), np.float32)
    save(out, 'maxima_3d', morphology.local_maxima(m3), np.float32)

    # Hole filling.
    h2 = rng.random((20, 20)) < 0.55
    h3 = rng.random((8, 8, 8)) < 0.6
    save(out, 'holes_2d_in', h2, np.float32)
    save(out, 'holes_3d_in', h3, np.float32)
    save(out, 'holes_2d_a5', morphology.remove_small_holes(h2, area_threshold=5), np.float32)
    save(out, 'holes_3d_a4', morphology.remove_small_holes(h3, area_threshold=4), np.float32)

    # Region growing from seeds (one seed deliberately outside [lower, upper]).
    for name, shape in (('grow_2d', (16, 16)), ('grow_3d', (8, 8, 8))):
        g = ndimage.uniform_filter(rng.random(shape), 3)
        lower, upper = np.percentile(g, 30), np.percentile(g, 80)
        inside = np.argwhere((g >= lower) & (g <= upper))
        outside = np.argwhere(g > upper)
        seeds = np.concatenate([inside[rng.choice(len(inside), 3, replace=False)], outside[:1]])
        save(out, name + '_in', g)
        save(out, name + '_seeds', seeds, np.float32)
        save(out, name + '_bounds', [lower, upper])
        save(out, name, connected_threshold(g, seeds, lower, upper), np.float32)

    # PIL's resizes (the original's utils.resize), 5x5 -> 40x40 and 3x4 -> 7x10.
    for name, src, dst in (('resize_a', (5, 5), (40, 40)), ('resize_b', (3, 4), (7, 10))):
        s = rng.random(src).astype(np.float32)
        save(out, name + '_in', s)
        save(out, name + '_bilinear', pil_resize(s, dst, Image.BILINEAR))
        save(out, name + '_nearest', pil_resize((s > 0.5).astype(np.float32), dst, Image.NEAREST), np.float32)


def pipeline(out, prefix, low, high, roi_percentile=85, focal='global', n_points=None, merge='blend', alpha=0.5,
             keep='percentage', keep_percentage=15, keep_threshold=0.6):
    """The refinement step by step with the original's calls (maxima_areas 'large' for local)."""
    blurred = ndimage.convolve(normalize(high), np.zeros((5, 5)) + 1 / 5 ** 2)
    edges = normalize(filters.sobel(blurred))
    low_resized = pil_resize(low.astype(np.float32), high.shape, Image.BILINEAR)
    roi = low_resized > np.percentile(low_resized, roi_percentile)
    lower, upper = np.percentile(edges[roi], 25), np.percentile(edges[roi], 75)
    if focal == 'global':
        n = n_points or int(round(np.sqrt(max(high.shape))))
        top = np.argpartition(low_resized.ravel(), -n)[-n:]
        points = np.array(np.unravel_index(top, high.shape)).T
        points = points[np.lexsort(points.T[::-1])]  # a fixed order: the tests compare sets
    else:
        cand = morphology.local_maxima(low)
        thr = (low[cand].max() + low[cand].min()) / 2
        strong = (cand & (low > thr)).astype(np.float32)
        points = np.argwhere(pil_resize(strong, high.shape, Image.NEAREST) > 0)
    segmented = connected_threshold(edges, points, lower, upper)
    with_edges = segmented + ((edges >= upper) & roi)
    full = morphology.remove_small_holes(with_edges > 0, area_threshold=256).astype(np.float64)
    seg_n, low_n = normalize(full), normalize(low_resized)
    merged = alpha * seg_n + (1 - alpha) * low_n if merge == 'blend' else seg_n * low_n
    # The original's merge: both maps to uint8 (truncated), low resized by PIL's 8-bit bilinear.
    low8 = (normalize(low) * 255).astype(np.uint8)
    low8 = normalize(np.array(Image.fromarray(low8).resize(high.shape[::-1], Image.BILINEAR)).astype(np.float64))
    seg8 = normalize((normalize(full) * 255).astype(np.uint8).astype(np.float64))
    merged8 = alpha * seg8 + (1 - alpha) * low8 if merge == 'blend' else seg8 * low8
    if keep == 'percentage':
        threshold = np.sort(merged.flatten())[int((1 - keep_percentage / 100) * merged.size)]
    else:
        threshold = keep_threshold
    kept = normalize(merged) > threshold
    for name, arr in (('blurred', blurred), ('edges', edges), ('low_resized', low_resized), ('merged', merged),
                      ('merged_8bit', merged8), ('bounds', [lower, upper])):
        save(out, f'{prefix}_{name}', arr)
    for name, arr in (('roi', roi), ('focal_points', points), ('segmented', segmented), ('full_segment', full),
                      ('keep', kept)):
        save(out, f'{prefix}_{name}', arr, np.float32)
    return {k: int(np.sum(v)) for k, v in (('roi', roi), ('segmented', segmented), ('full', full), ('kept', kept))}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=os.path.join(os.path.dirname(__file__), '..', '..', 'tests', 'data', 'refine'))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    steps(args.out, np.random.default_rng(11))

    rng = np.random.default_rng(2019)
    yy, xx = np.mgrid[0:40, 0:40]
    high = ndimage.gaussian_filter(rng.random((40, 40)), 1.5) + np.exp(-((yy - 14) ** 2 + (xx - 24) ** 2) / 60.0)
    low = ndimage.gaussian_filter(rng.random((5, 5)), 0.7) + np.exp(-((np.mgrid[0:5, 0:5][0] - 1.6) ** 2 +
                                                                    (np.mgrid[0:5, 0:5][1] - 2.9) ** 2) / 2.0)
    save(args.out, 'pipeline_low', low)
    save(args.out, 'pipeline_high', high)
    counts = [pipeline(args.out, 'default', low, high),
              pipeline(args.out, 'local', low, high, roi_percentile=70, focal='local', merge='multiply',
                       keep='threshold', keep_threshold=0.3)]
    with open(os.path.join(args.out, 'generation.txt'), 'w') as f:
        f.write(f'numpy {np.__version__}, scipy {scipy.__version__}, scikit-image {skimage.__version__}, '
                f'Pillow {PIL.__version__}, SimpleITK {sitk.Version_VersionString()}\n')
        f.write(f'pixel counts (default, local): {counts}\n')


if __name__ == '__main__':
    main()
