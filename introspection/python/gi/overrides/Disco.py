"""PyGObject overrides for Disco: tensors as numpy arrays.

Installed where PyGObject looks for overrides (``gi/overrides/`` on
``sys.path``), so ``from gi.repository import Disco`` loads it:

    t = Disco.Tensor.new_from_numpy(np.zeros((100, 784), np.float32))
    a = t.to_numpy()          # a view of the tensor's memory, no copy
    np.asarray(t)             # the same, through __array__
    t.shape, len(t), repr(t)

and pipelines that run on a thread of their own, with each epoch's results
as a dict (for notebooks: the kernel stays free while the run goes on):

    run = pipeline.run_in_thread(on_epoch=lambda epoch, results: print(results))
    run.wait()                # raises the run's GLib.Error, if any

numpy is imported on first use, so Disco works without it.
"""
import math
import threading

from ..module import get_introspection_module
from ..overrides import override

Disco = get_introspection_module("Disco")

__all__ = []


class _HostMemory:
    """Owns a reference to the tensor whose memory a numpy view shows:
    numpy keeps this object as the view's base, so the tensor lives as long
    as any view of it."""

    def __init__(self, tensor, address, shape, writable):
        self.tensor = tensor
        self.__array_interface__ = {
            "version": 3,
            "shape": tuple(shape),
            "typestr": "<f4",
            "data": (address, not writable),
        }


class Tensor(Disco.Tensor):
    @classmethod
    def new_from_numpy(cls, array):
        """A new host tensor holding a copy of ``array``: float32,
        C-contiguous, 1 to 4 dimensions, none of them empty."""
        import numpy as np

        if not isinstance(array, np.ndarray):
            raise TypeError("Tensor.new_from_numpy: expected a numpy.ndarray, got %s"
                            % type(array).__name__)
        if array.dtype != np.float32:
            raise TypeError("Tensor.new_from_numpy: Disco tensors are float32; got %s "
                            "(convert with array.astype(numpy.float32))" % array.dtype)
        if not array.flags.c_contiguous:
            raise ValueError("Tensor.new_from_numpy: the array is not C-contiguous "
                             "(numpy.ascontiguousarray makes it so)")
        if not 1 <= array.ndim <= 4 or 0 in array.shape:
            raise ValueError("Tensor.new_from_numpy: shape %s: a tensor has 1 to 4 "
                             "dimensions, none of size 0" % (array.shape,))
        return Disco.Tensor.new_from_data(list(array.shape), array.tobytes())

    def to_numpy(self, writable=False):
        """The values as a numpy array of the tensor's shape.

        For a tensor in host memory this is a view, not a copy: it keeps the
        tensor alive, and writes through it (``writable=True``) are the
        tensor's. For a tensor on a GPU it is a copy of the current values
        (read-only unless ``writable``, and then writes do not reach the
        tensor)."""
        import numpy as np

        shape = tuple(self.get_shape())
        if self.get_device() != Disco.Device.CPU:
            copy = np.frombuffer(self.get_bytes().get_data(), np.float32).reshape(shape)
            return copy.copy() if writable else copy
        address = self.get_host_address(writable)
        return np.asarray(_HostMemory(self, address, shape, writable))

    def __array__(self, dtype=None, copy=None):
        array = self.to_numpy()
        if copy:
            array = array.copy()
        return array if dtype is None else array.astype(dtype, copy=False)

    @property
    def shape(self):
        return tuple(self.get_shape())

    def __len__(self):
        return self.get_dim(0)

    def __repr__(self):
        device = Disco.Device(self.get_device()).value_nick
        return "<Disco.Tensor %s float32 on %s>" % (self.shape_to_string(), device)


Tensor = override(Tensor)
__all__.append("Tensor")

_PHASES = ("train", "validation", "test")


class PipelineRun(threading.Thread):
    """A pipeline running on its own thread (see Pipeline.run_in_thread)."""

    def __init__(self, pipeline, on_epoch, cancellable):
        super().__init__(name="disco-pipeline-run", daemon=True)
        from gi.repository import Gio

        self.pipeline = pipeline
        self.cancellable = cancellable if cancellable is not None else Gio.Cancellable()
        self.results = []        # one dict per finished epoch, in order
        self.error = None        # the run's GLib.Error, once it failed
        self._on_epoch = on_epoch
        self._handler = pipeline.connect("epoch-finished", self._epoch_finished)

    def _epoch_finished(self, pipeline, epoch):
        results = pipeline.epoch_results(epoch)
        self.results.append(results)
        if self._on_epoch is not None:
            self._on_epoch(epoch, results)

    def run(self):
        try:
            self.pipeline.run(self.cancellable)
        except Exception as error:   # GLib.Error, or an exception of a Python node
            self.error = error
        finally:
            self.pipeline.disconnect(self._handler)

    def cancel(self):
        """Stops the run between two ticks; wait() then raises the cancellation."""
        self.cancellable.cancel()

    def wait(self, timeout=None):
        """Waits for the end of the run (at most @timeout seconds); returns
        whether it ended, and raises the run's error if it failed."""
        self.join(timeout)
        if self.is_alive():
            return False
        if self.error is not None:
            raise self.error
        return True


class Pipeline(Disco.Pipeline):
    def epoch_results(self, epoch=None):
        """The latest epoch's loss and accuracy (%) per phase, from the
        pipeline's evaluators, as results.json has them:
        {"epoch": 3, "train": {"loss": 0.31, "accuracy": 91.2}, "test": {...}};
        with several evaluators, one such dict per evaluator name under
        "evaluators"."""
        reports = {}
        for name in self.list_nodes():
            node = self.get_node(name)
            if not all(hasattr(node.props, "%s_accuracy" % phase) for phase in _PHASES):
                continue
            report = {}
            for phase in _PHASES:
                accuracy = node.get_property("%s-accuracy" % phase)
                loss = node.get_property("%s-loss" % phase)
                if not (math.isnan(accuracy) and math.isnan(loss)):
                    report[phase] = {"loss": loss, "accuracy": accuracy}
            reports[name] = report
        if len(reports) == 1:
            results = next(iter(reports.values()))
        else:
            results = {"evaluators": reports}
        if epoch is not None:
            results = dict(epoch=epoch, **results)
        return results

    def run_in_thread(self, on_epoch=None, cancellable=None):
        """Starts run() on a thread of its own and returns the PipelineRun
        (a threading.Thread). on_epoch(epoch, results) is called after every
        epoch, on the run's thread, with epoch_results(): keep it short, and
        hand drawing to the main thread (matplotlib is not thread-safe)."""
        run = PipelineRun(self, on_epoch, cancellable)
        run.start()
        return run


Pipeline = override(Pipeline)
__all__ += ["Pipeline", "PipelineRun"]
