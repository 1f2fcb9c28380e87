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

    def test_to_numpy_is_a_view(self):
        a = np.arange(12, dtype=np.float32).reshape(3, 4)
        t = Disco.Tensor.new_from_numpy(a)
        view = t.to_numpy()
        self.assertEqual(view.shape, (3, 4))
        self.assertEqual(view.dtype, np.float32)
        self.assertFalse(view.flags.writeable)
        np.testing.assert_array_equal(view, a)
        # The same memory: the address is the tensor's, and a write through a
        # writable view is the tensor's value.
        self.assertEqual(view.__array_interface__["data"][0], t.get_host_address(False))
        t.to_numpy(writable=True)[1, 2] = -7.5
        self.assertEqual(t.get_value(6), -7.5)
        self.assertEqual(view[1, 2], -7.5)
        np.testing.assert_array_equal(np.asarray(t), view)
        self.assertIs(np.asarray(t, dtype=np.float64).dtype, np.dtype(np.float64))

    def test_view_outlives_the_tensor(self):
        import gc
        t = Disco.Tensor.new_from_numpy(np.full((64, 64), 3.25, np.float32))
        view = t.to_numpy()
        del t
        gc.collect()
        # Other allocations would reuse freed memory.
        others = [Disco.Tensor.new_from_numpy(np.zeros((64, 64), np.float32))
                  for _ in range(50)]
        self.assertEqual(float(view.sum()), 3.25 * 64 * 64)
        self.assertEqual(len(others), 50)

    def test_numpy_conveniences(self):
        t = Disco.Tensor.new_from_numpy(np.zeros((5, 2, 3), np.float32))
        self.assertEqual(t.shape, (5, 2, 3))
        self.assertEqual(len(t), 5)
        self.assertEqual(repr(t), "<Disco.Tensor 5×2×3 float32 on cpu>")

    def test_new_from_numpy_bad_input(self):
        good = np.zeros((2, 3), np.float32)
        with self.assertRaisesRegex(TypeError, "float32; got float64"):
            Disco.Tensor.new_from_numpy(good.astype(np.float64))
        with self.assertRaisesRegex(TypeError, "float32; got int32"):
            Disco.Tensor.new_from_numpy(good.astype(np.int32))
        with self.assertRaisesRegex(TypeError, "expected a numpy.ndarray, got list"):
            Disco.Tensor.new_from_numpy([1.0, 2.0])
        with self.assertRaisesRegex(ValueError, "not C-contiguous"):
            Disco.Tensor.new_from_numpy(good.T)
        with self.assertRaisesRegex(ValueError, "1 to 4 dimensions"):
            Disco.Tensor.new_from_numpy(np.ones((), np.float32))
        with self.assertRaisesRegex(ValueError, "1 to 4 dimensions"):
            Disco.Tensor.new_from_numpy(np.zeros((1, 1, 1, 1, 2), np.float32))
        with self.assertRaisesRegex(ValueError, "none of size 0"):
            Disco.Tensor.new_from_numpy(np.zeros((0, 3), np.float32))

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


DIGITS = os.path.join(SOURCE_ROOT, "pipelines", "digits-1x64-linear-threshold.pipeline")


class ThreadedRunTests(unittest.TestCase):
    def test_run_in_thread_gives_each_epoch_as_a_dict(self):
        import json
        with tempfile.TemporaryDirectory() as out:
            pipeline = Disco.Pipeline.new_from_file(
                DIGITS, ["settle.method=equilibrium", "data.epochs=3", "data.limit=100",
                         "pipeline.output-dir=" + out])
            seen = []
            run = pipeline.run_in_thread(
                on_epoch=lambda epoch, results: seen.append((epoch, threading_name())))
            self.assertTrue(run.wait(timeout=120))
            self.assertEqual([epoch for epoch, _ in seen], [1, 2, 3])
            # The callback runs on the run's thread, not on this one.
            self.assertTrue(all(name == "disco-pipeline-run" for _, name in seen))
            with open(os.path.join(out, "results.json")) as f:
                report = json.load(f)["epochs"]
            self.assertEqual(len(run.results), 3)
            for results, line in zip(run.results, report):
                self.assertEqual(results["epoch"], line["epoch"])
                for phase in ("train", "validation", "test"):
                    self.assertAlmostEqual(results[phase]["accuracy"], line[phase]["accuracy"],
                                           places=5)
                    self.assertAlmostEqual(results[phase]["loss"], line[phase]["loss"], places=5)

    def test_cancel_stops_the_run(self):
        with tempfile.TemporaryDirectory() as out:
            pipeline = Disco.Pipeline.new_from_file(
                DIGITS, ["settle.method=equilibrium", "data.epochs=50", "data.limit=100",
                         "pipeline.output-dir=" + out])
            run = pipeline.run_in_thread(on_epoch=lambda epoch, results: run.cancel())
            with self.assertRaises(GLib.Error) as caught:
                run.wait(timeout=120)
        self.assertTrue(caught.exception.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED))
        self.assertEqual(len(run.results), 1)

    def test_an_error_comes_back_from_wait(self):
        pipeline = Disco.Pipeline.new_from_string(PIPELINE, ["triple.fail-at=1"])
        run = pipeline.run_in_thread()
        with self.assertRaises(GLib.Error) as caught:
            run.wait(timeout=60)
        self.assertIn("triple failed on purpose", caught.exception.message)

    def test_live_curves_example(self):
        example = os.path.join(SOURCE_ROOT, "introspection", "examples", "live-curves.py")
        with tempfile.TemporaryDirectory() as out:
            png = os.path.join(out, "curves.png")
            result = subprocess.run([sys.executable, example, png], capture_output=True,
                                    text=True, timeout=300)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertIn("epoch 4: train", result.stdout)
            try:
                import matplotlib  # noqa: F401
                with open(png, "rb") as f:
                    self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
            except ImportError:
                self.assertIn("matplotlib is not installed", result.stdout)


def threading_name():
    import threading
    return threading.current_thread().name


class ExampleTest(unittest.TestCase):
    def test_example_runs(self):
        example = os.path.join(SOURCE_ROOT, "introspection", "examples", "example.py")
        result = subprocess.run([sys.executable, example], capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("epochs finished: [1, 2]", result.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
