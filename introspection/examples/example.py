#!/usr/bin/python3
"""Disco from Python: list node types, load and change a pipeline, follow its
progress, define a node type in Python, and read tensors as numpy arrays.

Run from the build tree:  meson devenv -C build python3 ../introspection/examples/example.py
"""
import os
import sys
import tempfile

import gi
gi.require_version("Disco", "1.0")
from gi.repository import Disco, GLib, GObject  # noqa: E402
import numpy as np  # noqa: E402


class Square(Disco.Node):
    """A node written in Python: squares its input element-wise."""
    __gtype_name__ = "ExampleSquare"

    offset = GObject.Property(type=float, default=0.0, minimum=-1e6, maximum=1e6,
                              nick="Offset", blurb="Added after squaring")

    def do_process(self, tick):
        x = self.get_input("input")
        values = x.to_numpy()    # a view of the tensor's memory: no copy
        y = (values * values + self.offset).astype(np.float32)
        self.set_output("output", Disco.Tensor.new_from_numpy(y))
        return Disco.FlowReturn.OK


Disco.Node.type_add_port(Square, Disco.PortDirection.INPUT, "input", 0, "any tensor")
Disco.Node.type_add_port(Square, Disco.PortDirection.OUTPUT, "output", 0, "input² + offset")
Disco.Node.type_set_metadata(Square, "Square (Python)", "Filter/Math", "x² + offset")
Disco.registry_register("square", Square)


def main():
    print("node types:", ", ".join(Disco.registry_list_names()))

    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "..", "pipelines", "quickstart.pipeline")
    pipeline = Disco.Pipeline.new_from_file(path, ["numbers.ticks=6"])
    pipeline.set_node_property("scaled.scale", "3")
    pipeline.props.output_dir = tempfile.mkdtemp(prefix="disco-example-")

    # Put the Python node between "scaled" and a second recorder.
    pipeline.make_node("square", "squared").props.offset = 1.0
    pipeline.link("squared.input", "scaled")
    pipeline.make_node("recorder", "log2")
    pipeline.link("log2.input", "squared.output")

    epochs = []
    pipeline.connect("tick", lambda p, tick: print(f"tick {tick.index} epoch {tick.epoch}"))
    pipeline.connect("epoch-finished", lambda p, epoch: epochs.append(epoch))
    pipeline.run(None)

    last = pipeline.get_node("log2").get_input("input")
    array = np.asarray(last)     # shaped as the tensor
    print("epochs finished:", epochs)
    with open(os.path.join(pipeline.props.output_dir, "quickstart.csv")) as csv:
        print("quickstart.csv:", csv.read().splitlines()[-1])
    print("last squared tensor:\n", array)
    # Last tick: value 0.5 + 5 × 0.25 = 1.75; 3 × 1.75 − 1 = 4.25; 4.25² + 1 = 19.0625
    assert np.allclose(array, 19.0625), array
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except GLib.Error as error:
        print("example.py:", error.message, file=sys.stderr)
        sys.exit(1)
