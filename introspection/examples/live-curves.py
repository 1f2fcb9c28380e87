#!/usr/bin/python3
"""Learning curves while the network learns: the notebook way of running Disco.

The pipeline runs on a thread of its own (Pipeline.run_in_thread); each epoch's
results arrive as a dict, and the main thread draws the curves as they come,
with matplotlib when it is installed (Debian: python3-matplotlib) and as text
otherwise. In a Jupyter notebook, call draw() in a cell loop with
IPython.display instead of saving a PNG.

Run from the build tree:
    meson devenv -C build python3 ../introspection/examples/live-curves.py [OUT.png]
"""
import os
import queue
import sys
import tempfile

import gi
gi.require_version("Disco", "1.0")
from gi.repository import Disco  # noqa: E402

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    plt = None

here = os.path.dirname(os.path.abspath(__file__))
pipeline_file = os.path.join(here, "..", "..", "pipelines", "digits-1x64-linear-threshold.pipeline")
out_png = sys.argv[1] if len(sys.argv) > 1 else "live-curves.png"

out_dir = tempfile.mkdtemp(prefix="disco-live-")
pipeline = Disco.Pipeline.new_from_file(
    pipeline_file, ["settle.method=equilibrium", "data.epochs=4", "pipeline.output-dir=" + out_dir])
epochs = queue.Queue()
run = pipeline.run_in_thread(on_epoch=lambda epoch, results: epochs.put(results))

history = []


def draw():
    if plt is None:
        return
    figure, axes = plt.subplots(figsize=(6, 4))
    for phase in ("train", "validation", "test"):
        points = [(r["epoch"], r[phase]["accuracy"]) for r in history if phase in r]
        if points:
            axes.plot(*zip(*points), marker="o", label=phase)
    axes.set_xlabel("epoch")
    axes.set_ylabel("accuracy (%)")
    axes.legend()
    figure.savefig(out_png)
    plt.close(figure)


if plt is None:
    print("matplotlib is not installed (Debian: python3-matplotlib): printing the curves")
while run.is_alive() or not epochs.empty():
    try:
        results = epochs.get(timeout=0.2)
    except queue.Empty:
        continue
    history.append(results)
    print("epoch %d: %s" % (results["epoch"], ", ".join(
        "%s %.2f %%" % (phase, results[phase]["accuracy"])
        for phase in ("train", "validation", "test") if phase in results)))
    draw()
run.wait()                 # raises the run's error, if it failed
print("results.json and checkpoints in", out_dir)
if plt is not None:
    print("learning curves in", out_png)
assert len(history) == 4, history
