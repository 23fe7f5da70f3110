"""Running .tflite models with ai-edge-litert's interpreter, in batches, without TensorFlow.

This module needs only numpy and ai-edge-litert, as an edge device has them, so its
accuracy and latency measurements run there unchanged. Sparse or quantized models can
fail to prepare under the default XNNPACK delegate; then the builtin kernels run them,
and `delegate` says so. Integer inputs and outputs (full-integer files) are quantized
and dequantized here with the tensors' own scale and zero point: callers always pass
0..255 pixels and get float logits.
"""
import time

import numpy as np
from ai_edge_litert import interpreter as litert

TFLITE_IDENTIFIER = b"TFL3"
# Interleaved rounds of a network's and its parent's timing: a few invokes of each file per
# round, so a burst of load from another process hits both files alike. With 5 rounds, the
# same file timed twice beside a busy test worker read 0.76x as fast as itself.
LATENCY_ROUNDS = 20


class TFLiteError(RuntimeError):
    """An unreadable .tflite file; the message is one line that names the fix."""


class TFLiteModel:
    """A .tflite classifier taking 0..255 pixels, run in fixed-size batches."""

    def __init__(self, model, threads=2, batch_size=64, name="model"):
        content = model if isinstance(model, bytes) else _read(model)
        name = name if isinstance(model, bytes) else model
        if len(content) < 8 or content[4:8] != TFLITE_IDENTIFIER:
            raise TFLiteError(f"{name}: not a TFLite model (no TFL3 identifier; truncated or "
                              "corrupt); delete it and export it again with "
                              "python -m export.tflite")
        self.batch_size = batch_size
        try:
            self._interpreter = self._prepare(content, threads, litert.OpResolverType.AUTO)
            self.delegate = "default (XNNPACK)"
        except (RuntimeError, ValueError) as error:
            try:
                self._interpreter = self._prepare(
                    content, threads, litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
            except (RuntimeError, ValueError) as second:
                raise TFLiteError(f"{name}: the TFLite interpreter cannot load it ({second}); "
                                  "delete it and export it again with "
                                  "python -m export.tflite") from second
            self.delegate = f"builtin without default delegates (XNNPACK failed: {error})"

    def _prepare(self, content, threads, resolver):
        interpreter = litert.Interpreter(model_content=content, num_threads=threads,
                                         experimental_op_resolver_type=resolver)
        self._input = interpreter.get_input_details()[0]
        self._output = interpreter.get_output_details()[0]
        shape = [self.batch_size, *self._input["shape"][1:]]
        interpreter.resize_tensor_input(self._input["index"], shape)
        interpreter.allocate_tensors()
        interpreter.invoke()  # XNNPACK prepares lazily: fail here, not mid-evaluation
        return interpreter

    def predict_logits(self, images):
        """Logits for uint8 or float images (N, H, W, C); the last batch is padded."""
        count = len(images)
        outputs = []
        for start in range(0, count, self.batch_size):
            batch = np.asarray(images[start:start + self.batch_size], dtype=np.float32)
            if len(batch) < self.batch_size:
                padding = np.zeros((self.batch_size - len(batch), *batch.shape[1:]), np.float32)
                batch = np.concatenate([batch, padding])
            self._interpreter.set_tensor(self._input["index"], _quantize(batch, self._input))
            self._interpreter.invoke()
            outputs.append(_dequantize(self._interpreter.get_tensor(self._output["index"]),
                                       self._output))
        return np.concatenate(outputs)[:count] if outputs else np.zeros((0,), np.float32)

    def predict(self, images):
        return np.argmax(self.predict_logits(images), axis=-1).astype(np.int32)

    def invoke_seconds(self, runs, warmup):
        """Seconds of each of `runs` timed invokes on a full batch of random pixels, after
        `warmup` untimed ones (caches, thread pools, lazy preparation)."""
        shape = [self.batch_size, *self._input["shape"][1:]]
        pixels = np.random.default_rng(0).integers(0, 256, shape).astype(np.float32)
        self._interpreter.set_tensor(self._input["index"], _quantize(pixels, self._input))
        for _ in range(warmup):
            self._interpreter.invoke()
        seconds = []
        for _ in range(runs):
            started = time.perf_counter()
            self._interpreter.invoke()
            seconds.append(time.perf_counter() - started)
        return seconds

    def latency(self, runs, warmup):
        """Milliseconds per image of one invoke on a full batch: median and p90 over `runs`
        timed invokes after `warmup` untimed ones."""
        return per_image_latency(self.invoke_seconds(runs, warmup), self.batch_size)


def interleaved_latency(files, threads, batch_size, runs, warmup, rounds=LATENCY_ROUNDS):
    """[{median_ms, p90_ms} per image] of each .tflite file (path or content) of `files`
    at `batch_size`: `runs` timed invokes each, split over `rounds` rounds that take the
    files in turn (after `warmup` untimed invokes each), so that the machine's changes of
    speed hit them alike and the ratio of two files' times, a speed-up, holds."""
    interpreters = [TFLiteModel(file, threads=threads, batch_size=batch_size) for file in files]
    seconds = [[] for _ in files]
    for round_index in range(rounds):
        count = runs * (round_index + 1) // rounds - runs * round_index // rounds
        for interpreter, times in zip(interpreters, seconds):
            times += interpreter.invoke_seconds(count, warmup if round_index == 0 else 0)
    return [per_image_latency(times, batch_size) for times in seconds]


def per_image_latency(seconds, batch_size):
    """{median_ms, p90_ms} per image of invokes that took `seconds` on batches of `batch_size`."""
    per_image_ms = 1000.0 * np.asarray(seconds) / batch_size
    return dict(median_ms=float(np.median(per_image_ms)),
                p90_ms=float(np.percentile(per_image_ms, 90)))


def _read(path):
    try:
        with open(path, "rb") as stream:
            return stream.read()
    except OSError as error:
        raise TFLiteError(f"{path}: cannot read it ({error.strerror}); export it again with "
                          "python -m export.tflite") from error


def _quantize(values, detail):
    scale, zero_point = detail["quantization"]
    if detail["dtype"] == np.float32 or not scale:
        return values.astype(detail["dtype"])
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(values / scale + zero_point), info.min, info.max).astype(detail["dtype"])


def _dequantize(values, detail):
    scale, zero_point = detail["quantization"]
    if values.dtype == np.float32 or not scale:
        return values.astype(np.float32)
    return (values.astype(np.float32) - zero_point) * scale
