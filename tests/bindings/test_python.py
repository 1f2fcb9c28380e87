#!/usr/bin/python3
"""Python-GI tests: everything issue #2 promises a Python user."""
import os
import subprocess
import sys
import tempfile
import unittest

import gi
gi.require_version("Disco", "1.0")
from gi.repository import Disco, Gio, GLib, GObject  # noqa: E402
import numpy as np  # noqa: E402

SOURCE_ROOT = os.environ.get("DISCO_SOURCE_ROOT",
                             os.path.join(os.path.dirname(__file__), "..", ".."))

PIPELINE = """
[src]
node = constant-source
shape = 2,3
value = 1
step = 1
ticks = 4
ticks-per-epoch = 2
[triple]
node = py-triple
input = src
[log]
node = recorder
input = triple
"""


class Triple(Disco.Node):
    __gtype_name__ = "TestPyTriple"
    fail_at = GObject.Property(type=int, default=-1, minimum=-1, maximum=1000,
                               nick="Fail at", blurb="Raise at this tick (-1: never)")

    def do_process(self, tick):
        if tick.index == self.fail_at:
            raise GLib.Error("triple failed on purpose")
        x = self.get_input("input")
        a = np.frombuffer(x.get_bytes().get_data(), np.float32).reshape(x.get_shape())
        self.set_output("output", Disco.Tensor.new_from_data(a.shape, (3 * a).tobytes()))
        return Disco.FlowReturn.OK


Disco.Node.type_add_port(Triple, Disco.PortDirection.INPUT, "input", 0, "any tensor")
Disco.Node.type_add_port(Triple, Disco.PortDirection.OUTPUT, "output", 0, "3 × input")
Disco.registry_register("py-triple", Triple)


class TensorTests(unittest.TestCase):
    def test_numpy_round_trip(self):
        a = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7
        t = Disco.Tensor.new_from_data(a.shape, a.tobytes())
        self.assertEqual(t.get_shape(), [2, 3, 4])
        b = np.frombuffer(t.get_bytes().get_data(), np.float32).reshape(t.get_shape())
        np.testing.assert_array_equal(a, b)

    def test_values(self):
        t = Disco.Tensor.new_from_values([2, 2], [1.0, -2.0, 3.5, 0.25])
        self.assertEqual(t.get_values(), [1.0, -2.0, 3.5, 0.25])
        self.assertEqual(t.get_value(2), 3.5)
        self.assertEqual(t.get_n_elements(), 4)

    def test_png_of_a_tensor(self):
        t = Disco.Tensor.new_from_values([2, 3], [0, 1, 2, 3, 4, 5])
        png = t.render_png(Disco.Colormap.VIRIDIS, float("nan"), float("nan"), 4).get_data()
        self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
        # IHDR: width 3 × 4, height 2 × 4, 8-bit RGB
        self.assertEqual(int.from_bytes(png[16:20], "big"), 12)
        self.assertEqual(int.from_bytes(png[20:24], "big"), 8)
        self.assertEqual((png[24], png[25]), (8, 2))
        png16 = t.render_png16(0, 5).get_data()
        self.assertEqual((png16[24], png16[25]), (16, 0))
        with self.assertRaises(GLib.Error):
            t.render_png16(1, 1)

    def test_wrong_size_is_an_error(self):
        with self.assertRaises(GLib.Error) as caught:
            Disco.Tensor.new_from_data([2, 2], b"\0" * 12)
        self.assertEqual(caught.exception.domain, "disco-error-quark")
        self.assertEqual(caught.exception.code, Disco.Error.SHAPE)


class PipelineTests(unittest.TestCase):
    def test_registry_lists_c_and_python_types(self):
        names = Disco.registry_list_names()
        for name in ("constant-source", "affine", "recorder", "py-triple"):
            self.assertIn(name, names)
        self.assertEqual(Disco.registry_lookup("py-triple"), Triple.__gtype__)

    def test_python_node_runs_between_c_nodes(self):
        p = Disco.Pipeline.new_from_string(PIPELINE, None)
        ticks, epochs = [], []
        p.connect("tick", lambda _p, tick: ticks.append((tick.index, tick.epoch)))
        p.connect("epoch-finished", lambda _p, epoch: epochs.append(epoch))
        p.run(None)
        self.assertEqual(ticks, [(0, 1), (1, 1), (2, 2), (3, 2)])
        self.assertEqual(epochs, [1, 2])
        log = p.get_node("log")
        # 6 values × 3 × (1 + 2 + 3 + 4)
        self.assertAlmostEqual(log.props.sum, 180.0)
        last = log.get_input("input")
        np.testing.assert_array_equal(
            np.frombuffer(last.get_bytes().get_data(), np.float32), np.full(6, 12.0))

    def test_build_in_code_and_set_properties(self):
        p = Disco.Pipeline.new()
        src = p.make_node("constant-source", "src")
        src.props.ticks = 3
        src.props.value = 2.0
        p.make_node("affine", "f").set_property("scale", -1.0)
        p.link("f.input", "src")
        node = Triple(name="t")
        p.add_node(node)
        p.link("t.input", "f.output")
        p.make_node("recorder", "log")
        p.set("log.input=t")
        p.run(None)
        self.assertAlmostEqual(p.get_node("log").props.sum, -18.0)
        self.assertEqual(p.get_tick_order(), ["src", "f", "t", "log"])

    def test_python_exception_becomes_error(self):
        p = Disco.Pipeline.new_from_string(PIPELINE, ["triple.fail-at=2"])
        with self.assertRaises(GLib.Error) as caught:
            p.run(None)
        self.assertIn("triple failed on purpose", caught.exception.message)
        self.assertEqual(p.get_node("log").props.ticks, 2)

    def test_cancellation(self):
        p = Disco.Pipeline.new_from_string(PIPELINE, ["src.ticks=100"])
        cancellable = Gio.Cancellable()
        p.connect("tick", lambda _p, tick: tick.index == 4 and cancellable.cancel())
        with self.assertRaises(GLib.Error) as caught:
            p.run(cancellable)
        self.assertTrue(caught.exception.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED))
        self.assertEqual(p.get_node("log").props.ticks, 5)

    def test_bad_input_errors(self):
        cases = [
            ("[x]\nnode = nope\n", Disco.Error.NO_SUCH_NODE_TYPE, "<string>:2:"),
            ("[x]\nnode = affine\nscale = big\n", Disco.Error.BAD_VALUE, "<string>:3:"),
            ("[x]\nnode = affine\ninput = y\n", Disco.Error.NO_SUCH_NODE, "<string>:3:"),
        ]
        for text, code, where in cases:
            with self.subTest(text=text):
                with self.assertRaises(GLib.Error) as caught:
                    Disco.Pipeline.new_from_string(text, None)
                self.assertEqual(caught.exception.code, code)
                self.assertTrue(caught.exception.message.startswith(where),
                                caught.exception.message)

    def test_load_file_with_overrides(self):
        path = os.path.join(SOURCE_ROOT, "pipelines", "quickstart.pipeline")
        p = Disco.Pipeline.new_from_file(path, ["numbers.ticks=2", "log.path=q.csv"])
        with tempfile.TemporaryDirectory() as out:
            p.props.output_dir = out
            p.run(None)
            with open(os.path.join(out, "q.csv")) as f:
                self.assertEqual(len(f.read().splitlines()), 3)


class ExampleTest(unittest.TestCase):
    def test_example_runs(self):
        example = os.path.join(SOURCE_ROOT, "introspection", "examples", "example.py")
        result = subprocess.run([sys.executable, example], capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("epochs finished: [1, 2]", result.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
