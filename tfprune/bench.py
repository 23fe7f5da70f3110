"""python -m tfprune.bench: speed ratios measured in one process, so machine noise cancels.

P1  training throughput of a network under the pruning wrappers / the same network plain
    (goal >= 0.97)
P3  achieved training and inference FLOP/s / this machine's measured fp32 matmul peak
    (goal >= 0.5). FLOPs are 2 x the multiply-accumulates of the Conv2D and Dense layers
    (tfprune.flops); a training step counts 3 x the forward pass (forward, input
    gradients, weight gradients).
P4  throughput of evaluating the corruption suite from a warm cache / clean-test
    inference throughput (goal >= 0.8), and the one-time generation cost / one clean pass
P5  batch-1 latency speed-up of a shrunk filter-pruned (FT) float32 TFLite model over its
    parent / its FLOP reduction (goal >= 0.8), as the study prunes (k = 1) and with every
    layer keeping a multiple of k filters (--channel_multiple, SIMD-aligned); also over
    the FLOP reduction counted in the runtime's output-channel tiles (tfprune.flops),
    and the tile itself: the latency of one conv per number of filters
P6  wall time of the offline quickstart in a fresh workdir (goal <= 180 s)
P7  training throughput at each mixed-precision policy (--precisions) / float32, under
    the pruning wrappers (goal >= 1.7 for mixed_bfloat16 on a CPU with AMX), plain too,
    interleaved with P1's runs; P1 (wrapped / plain) at each policy beside it
Absolute images/s are printed beside each ratio, with the machine; --json writes them.
P1 and P4 also give their ratio in CPU time of this process, which other jobs sharing
the machine disturb far less than wall time.
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import tfprune  # noqa: F401
import tensorflow as tf
import tensorflow_model_optimization as tfmot
from absl import app, flags, logging

from export import litert, shrink, variants
from tfprune import cascade, corruptions, data, distributions, evaluate, flops, methods, models
from tfprune import config as config_lib
from tfprune import storage
from tfprune import precision, profile, wrappers

_MODEL = flags.DEFINE_string("model", "resnet20", "Registered model to measure.")
_IMAGES = flags.DEFINE_integer("images", 10000, "Test images per distribution.")
_SETS = flags.DEFINE_integer("sets", 19, "Corrupted sets in the suite (severity 3 each).")
_TRAIN_STEPS = flags.DEFINE_integer("train_steps", 30, "Training steps per P1 round.")
_ROUNDS = flags.DEFINE_integer("rounds", 5, "P1: interleaved rounds (plain, wrapped).")
_PRECISIONS = flags.DEFINE_list(
    "precisions", ["mixed_bfloat16"], "P7: training policies (tfprune.precision) timed "
    "against float32, plain and wrapped, interleaved with P1; empty: none.")
_MATMUL_SIZE = flags.DEFINE_integer("matmul_size", 2048, "Side of the P3 peak matmul.")
_PRUNE_RATIOS = flags.DEFINE_list("prune_ratios", ["0.5", "0.7"],
                                  "P5: parameter prune ratios of the FT-pruned models.")
_LATENCY_RUNS = flags.DEFINE_integer("latency_runs", 200, "P5: timed batch-1 runs per model.")
_CHANNEL_MULTIPLE = flags.DEFINE_integer(
    "channel_multiple", 16, "P5: also FT with a multiple of this many filters per layer "
    "(prune.channel_multiple); 1 = only the study's FT.", lower_bound=1)
_OUTPUT_TILE = flags.DEFINE_integer(
    "output_tile", config_lib.base().export.output_tile,
    "P5: output channels the runtime computes at a time, for the tiled FLOP count.",
    lower_bound=1)
_LEVERS = flags.DEFINE_bool("levers", False, "Also measure each speed lever on and off: "
                            "batch vs per-image augmentation, XLA, TFLite batch sizes.")
_TFLITE_IMAGES = flags.DEFINE_integer("tflite_images", 5000, "Images per TFLite batch-size run.")
_QUICKSTART = flags.DEFINE_bool("quickstart", True, "P6: time the offline quickstart.")
_CIFAR_DIR = flags.DEFINE_string(
    "cifar_dir", "../shared/data/cifar10/cifar-10-batches-bin",
    "CIFAR-10 binary folder for real images; random images where it is absent.")
_JSON = flags.DEFINE_string("json", "", "Also write the figures to this JSON file.")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def machine():
    """CPU model, cores and versions: the figures mean little without them."""
    cpu = "unknown"
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as stream:
            names = [line.split(":", 1)[1].strip() for line in stream
                     if line.startswith("model name")]
        cpu = names[0] if names else cpu
    return dict(cpu=cpu, cores=os.cpu_count(), tensorflow=tf.__version__,
                bf16_flags=sorted(set(precision.BF16_CPU_FLAGS) & precision.cpu_flags()))


def _test_images(count):
    if os.path.exists(os.path.join(_CIFAR_DIR.value, "test_batch.bin")):
        config = config_lib.base().data
        config.update(dict(name="cifar10", dir=_CIFAR_DIR.value))
        return data.load(config, 0).test_images[:count], "CIFAR-10 test set"
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8), "random images"


def _clock(job):
    """(wall seconds, CPU seconds of this process) of `job()`. CPU time counts only this
    process's work, so ratios of it hold where other jobs share the machine."""
    wall, cpu = time.perf_counter(), time.process_time()
    job()
    return time.perf_counter() - wall, time.process_time() - cpu


def matmul_peak(size, repeats=10):
    """GFLOP/s of fp32 size x size matmuls, the attainable peak: per wall second and per
    CPU second, each the best of `repeats`."""
    a, b = (tf.random.normal((size, size), seed=seed) for seed in (1, 2))
    matmul = tf.function(lambda: tf.linalg.matmul(a, b)[0, 0])
    matmul().numpy()  # trace and warm up
    fastest = np.min([_clock(lambda: matmul().numpy()) for _ in range(repeats)], axis=0)
    return 2 * size ** 3 / fastest / 1e9


def bench_suite(model, images, sets, batch_size=500):
    """P4: clean inference vs. the corruption suite read from a warm cache; the clean
    pass runs before and after the suite, and their mean is the reference."""
    names = corruptions.NAMES[:sets]
    predict = lambda x: evaluate.predict_logits(model, x, batch_size)  # noqa: E731
    predict(images[:batch_size])  # trace once
    dataset = data.Dataset("bench", "", images, None, images, None, images,
                           np.zeros(len(images), np.int32), 10, (0,) * 3, (1,) * 3)
    before = _clock(lambda: predict(images))
    with tempfile.TemporaryDirectory() as cache:
        generation = _clock(lambda: [distributions._generated(
            dataset, name, 3, 0, cache, lambda _: None) for name in names])
        suite = _clock(lambda: [predict(distributions._generated(
            dataset, name, 3, 0, cache, lambda _: None).images) for name in names])
    clean = np.mean([before, _clock(lambda: predict(images))], axis=0)
    suite_images = len(images) * len(names)
    return dict(clean_images_per_s=len(images) / clean[0],
                suite_images_per_s=suite_images / suite[0],
                suite_over_clean=suite_images / suite[0] / (len(images) / clean[0]),
                suite_over_clean_cpu=suite_images / suite[1] / (len(images) / clean[1]),
                generation_seconds=generation[0],
                generation_over_clean_pass=generation[0] / clean[0],
                generation_over_clean_pass_cpu=generation[1] / clean[1],
                generation_over_suite_pass=generation[0] / (clean[0] * len(names)))


def _interleaved_fit(runs, steps, rounds, batch_size, skip):
    """Median steady-state training images per wall and per CPU second of each
    `runs[name] = (model, batches, callbacks)`, in interleaved rounds (load changes hit
    every run alike); also each run's best rates."""
    wall, cpu = {name: [] for name in runs}, {name: [] for name in runs}
    for _ in range(rounds):
        for name, (network, batches, callbacks) in runs.items():
            clock = profile.StepClock(skip)
            network.fit(batches, epochs=1, steps_per_epoch=skip + steps, verbose=0,
                        callbacks=[*callbacks, clock])
            seconds = clock.seconds()
            wall[name].append(steps * batch_size / seconds[0])
            cpu[name].append(steps * batch_size / seconds[1])
    return {name: dict(images_per_s=float(np.median(wall[name])),
                       images_per_cpu_s=float(np.median(cpu[name])),
                       best_images_per_s=max(wall[name]), best_images_per_cpu_s=max(cpu[name]))
            for name in runs}


def bench_wrapper_overhead(model, images, labels, steps, rounds=5, batch_size=128, skip=3,
                           policies=(precision.FLOAT32,)):
    """P1: steady-state `fit` steps under the pruning wrappers vs. plain, at each of the
    training `policies` (tfprune.precision), all in interleaved rounds: median images per
    wall second and per CPU second, and the plain network's best rates (for P3), by
    policy."""
    batches = data.train_pipeline(images, labels, batch_size, "crop_flip", 0)
    runs = {}
    for policy in policies:
        network = precision.with_policy(model, policy)
        wrapped = wrappers.wrap(network, wrappers.one_shot_schedule(0.5))
        runs[policy, "plain"] = (profile.compiled(network, steps, batch_size), batches, [])
        runs[policy, "wrapped"] = (profile.compiled(wrapped, steps, batch_size), batches,
                                   [tfmot.sparsity.keras.UpdatePruningStep()])
    rates = _interleaved_fit(runs, steps, rounds, batch_size, skip)
    return {policy: _overhead(rates[policy, "plain"], rates[policy, "wrapped"])
            for policy in policies}


def _overhead(plain, wrapped_rates):
    return dict(plain_images_per_s=plain["images_per_s"],
                wrapped_images_per_s=wrapped_rates["images_per_s"],
                wrapped_over_plain=wrapped_rates["images_per_s"] / plain["images_per_s"],
                plain_images_per_cpu_s=plain["images_per_cpu_s"],
                wrapped_images_per_cpu_s=wrapped_rates["images_per_cpu_s"],
                wrapped_over_plain_cpu=(wrapped_rates["images_per_cpu_s"]
                                        / plain["images_per_cpu_s"]),
                plain_best_images_per_s=plain["best_images_per_s"],
                plain_best_images_per_cpu_s=plain["best_images_per_cpu_s"])


def bench_training_levers(model, images, labels, steps, rounds=5, batch_size=128, skip=3):
    """Training throughput with each training lever on and off, interleaved: whole-batch
    vs per-image augmentation (data.batch_augment) and XLA (train.jit_compile)."""
    def copy():
        network = tf.keras.models.clone_model(model)
        network.set_weights(model.get_weights())
        return network

    def stream(batch_augment):
        return data.train_pipeline(images, labels, batch_size, "crop_flip", 0,
                                   batch_augment=batch_augment)

    runs = {"batch_augment": (profile.compiled(copy(), steps, batch_size), stream(True), []),
            "per_image_augment": (profile.compiled(copy(), steps, batch_size), stream(False), []),
            "jit_compile": (profile.compiled(copy(), steps, batch_size, jit_compile=True),
                            stream(True), [])}
    rates = _interleaved_fit(runs, steps, rounds, batch_size, skip)
    base = rates["batch_augment"]
    return {name: dict(rate, over_default=rate["images_per_s"] / base["images_per_s"],
                       over_default_cpu=rate["images_per_cpu_s"] / base["images_per_cpu_s"])
            for name, rate in rates.items()}


def bench_tflite_batches(model, images, batch_sizes=(1, 16, 64, 256), threads=2, rounds=3):
    """Throughput of TFLite evaluation (float32, `threads` threads) at each batch size:
    batching is what makes the re-evaluation of a whole suite affordable."""
    content = variants.convert(model)
    interpreters = {size: litert.TFLiteModel(content, threads, batch_size=size)
                    for size in batch_sizes}
    times = {size: [] for size in batch_sizes}
    for _ in range(rounds):
        for size, interpreter in interpreters.items():
            times[size].append(_clock(lambda: interpreter.predict_logits(images)))
    return {f"batch_{size}": dict(zip(("images_per_s", "images_per_cpu_s"),
                                      (len(images) / np.median(times[size], axis=0)).tolist()))
            for size in batch_sizes}


def bench_flop_rate(model, images, train_rates, peak, batch_size=128):
    """P3: FLOP/s of training (P1's best plain rates) and of inference (best of three
    passes) over the matmul peak; `train_rates` and `peak` are (per wall second, per CPU
    second). Best rates, as the peak is the best matmul: each estimates the machine
    undisturbed by other jobs. The CPU-second ratios hold even where other jobs take
    cores away, but count threads that spin while waiting as work."""
    evaluate.predict_logits(model, images[:batch_size], batch_size)  # trace once
    fastest = np.min([_clock(lambda: evaluate.predict_logits(model, images, batch_size))
                      for _ in range(3)], axis=0)
    forward_gflop = 2 * flops.macs(model) / 1e9
    train_gflops = 3 * forward_gflop * np.asarray(train_rates)
    inference_gflops = forward_gflop * len(images) / fastest
    return dict(forward_mflop_per_image=forward_gflop * 1e3, peak_gflops=peak[0],
                train_images_per_s=train_rates[0], train_gflops=train_gflops[0],
                train_over_peak=train_gflops[0] / peak[0],
                train_over_peak_cpu=train_gflops[1] / peak[1],
                inference_images_per_s=len(images) / fastest[0],
                inference_gflops=inference_gflops[0],
                inference_over_peak=inference_gflops[0] / peak[0],
                inference_over_peak_cpu=inference_gflops[1] / peak[1])


TILE_PROBE_FILTERS = (1, 2, 4, 8, 12, 16, 17, 24, 32, 33)


def bench_output_tile(filters=TILE_PROBE_FILTERS, runs=200, rounds=5, threads=1):
    """The runtime's output-channel tile, measured: batch-1 latency of a float32 TFLite
    3x3 conv on 32x32x16 per number of filters (median over interleaved rounds), and the
    largest number that costs no more than one filter does (within 15%)."""
    inputs = tf.keras.Input((32, 32, 16))
    interpreters = {count: litert.TFLiteModel(variants.convert(tf.keras.Model(
        inputs, tf.keras.layers.Conv2D(count, 3, padding="same")(inputs))), threads, 1)
        for count in filters}
    times = {count: [] for count in filters}
    for _ in range(rounds):
        for count, interpreter in interpreters.items():
            times[count].append(interpreter.latency(max(runs // rounds, 1), 5)["median_ms"])
    latency_ms = {count: float(np.median(times[count])) for count in filters}
    tile = max(count for count in filters if latency_ms[count] <= 1.15 * latency_ms[filters[0]])
    return dict(latency_ms=latency_ms, tile=tile, threads=threads)


def ft_pruned(model, ratio, channel_multiple=1):
    """A copy of `model` FT-pruned to `ratio` of its parameters (each layer a multiple of
    `channel_multiple` filters), its dead channels' BN scale and shift zeroed, as a
    cascade cycle leaves it (weights need no training to be timed)."""
    pruned = tf.keras.models.clone_model(model)
    pruned.set_weights(model.get_weights())
    keep = cascade.keep_budget(pruned, ratio, models.count_params(pruned))
    methods.budget.apply(pruned, methods.get("ft").bind(
        dict(channel_multiple=channel_multiple))(pruned, keep))
    return pruned


def p5_name(ratio, channel_multiple):
    """P5's key of an FT network: ft0.5 (k = 1), ft0.5_k8."""
    return f"ft{ratio:g}" + (f"_k{channel_multiple}" if channel_multiple > 1 else "")


def bench_shrunk_latency(model, ratios, runs, channel_multiples=(1,), output_tile=16,
                         threads=1, rounds=10, warmup=5):
    """P5: batch-1 latency of shrunk FT-pruned float32 TFLite models (each ratio, each
    multiple of filters per layer) vs. the parent's: the median over `rounds` interleaved
    rounds of each model's median invoke time, and of the calling thread's CPU time per
    invoke in the round (time.thread_time: with one interpreter thread the work runs on
    the calling thread, and other jobs on the machine do not inflate it). One thread: the
    cores may be shared, and one thread measures the work, not scheduling."""
    pruned = {p5_name(ratio, k): ft_pruned(model, ratio, k)
              for ratio in ratios for k in channel_multiples}
    networks = {"parent": model, **{name: shrink.shrink(net) for name, net in pruned.items()}}
    interpreters = {name: litert.TFLiteModel(variants.convert(network), threads, batch_size=1)
                    for name, network in networks.items()}
    medians, cpu_ms = {name: [] for name in networks}, {name: [] for name in networks}
    count = max(runs // rounds, 1)
    for _ in range(rounds):  # interleaved, so that load changes hit every model alike
        for name, interpreter in interpreters.items():
            started = time.thread_time()
            medians[name].append(interpreter.latency(count, warmup=warmup)["median_ms"])
            cpu_ms[name].append(1e3 * (time.thread_time() - started) / (count + warmup))
    parent_ms, parent_cpu_ms = (float(np.median(t["parent"])) for t in (medians, cpu_ms))
    parent_macs, parent_params = flops.macs(model), models.count_params(model)
    parent_tiled_macs = flops.macs(model, output_tile=output_tile)
    result = dict(threads=threads, output_tile=output_tile, parent_ms=parent_ms, parent_images_per_s=1e3 / parent_ms,
                  parent_cpu_ms=parent_cpu_ms)
    for ratio in ratios:
        for k in channel_multiples:
            name = p5_name(ratio, k)
            latency_ms, thread_ms = float(np.median(medians[name])), float(np.median(cpu_ms[name]))
            flop_reduction = parent_macs / flops.macs(networks[name])
            tiled_reduction = parent_tiled_macs / flops.macs(networks[name],
                                                             output_tile=output_tile)
            speedup, cpu_speedup = parent_ms / latency_ms, parent_cpu_ms / thread_ms
            result[name] = dict(
                prune_ratio=ratio, channel_multiple=k,
                achieved_prune_ratio=1 - cascade.nonzero_params(pruned[name]) / parent_params,
                latency_ms=latency_ms, images_per_s=1e3 / latency_ms, speedup=speedup,
                cpu_ms=thread_ms, cpu_speedup=cpu_speedup, flop_reduction=flop_reduction,
                speedup_over_flop_reduction=speedup / flop_reduction,
                tiled_flop_reduction=tiled_reduction,
                speedup_over_tiled_flop_reduction=speedup / tiled_reduction,
                cpu_speedup_over_flop_reduction=cpu_speedup / flop_reduction)
    return result


def bench_quickstart():
    """P6: seconds of `python -m tfprune.run --config configs/quickstart.py`, fresh workdir."""
    with tempfile.TemporaryDirectory() as workdir:
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "tfprune.run", "--config", "configs/quickstart.py",
             "--workdir", workdir], cwd=ROOT, capture_output=True, text=True)
        seconds = time.perf_counter() - started
    if result.returncode:
        raise RuntimeError(f"the quickstart failed (exit {result.returncode}): "
                           f"{result.stderr.strip().splitlines()[-1:]}")
    return dict(seconds=seconds)


def _print_p5(figures, ratios, channel_multiples):
    for ratio in ratios:
        for k in channel_multiples:
            print("P5 FT {prune_ratio:.0%} k={channel_multiple} shrunk TFLite speed-up / FLOP "
                  "reduction: {speedup_over_flop_reduction:.2f} ({speedup:.2f}x vs "
                  "{flop_reduction:.2f}x; {latency_ms:.2f} ms = {images_per_s:.0f} images/s at "
                  "batch 1; goal >= 0.8); per thread CPU second "
                  "{cpu_speedup_over_flop_reduction:.2f}; pruned {achieved_prune_ratio:.1%}; "
                  "over the tiled FLOP reduction ({tiled_flop_reduction:.2f}x) "
                  "{speedup_over_tiled_flop_reduction:.2f}"
                  .format(**figures[p5_name(ratio, k)]))
    print("P5 parent: {parent_ms:.2f} ms = {parent_images_per_s:.0f} images/s at batch 1 "
          "({parent_cpu_ms:.2f} ms thread CPU), {threads} thread(s); tiles of "
          "{output_tile} output channels".format(**figures))


def _print_tile(probe):
    print("P5 tile: one 3x3 conv on 32x32x16 at batch 1, ms per number of filters: " + ", ".join(
        f"{count}: {ms:.4f}" for count, ms in probe["latency_ms"].items())
        + f"; {probe['tile']} filters cost what 1 does (within 15%)")


def _print_levers(levers):
    for name, rate in levers["training"].items():
        print(f"lever {name:18s} training {rate['images_per_s']:6.0f} images/s "
              f"({rate['over_default']:.2f} of the default), per CPU second "
              f"{rate['images_per_cpu_s']:6.0f} ({rate['over_default_cpu']:.2f})")
    for name, rate in levers["tflite_batches"].items():
        print(f"lever TFLite {name:12s} evaluation {rate['images_per_s']:6.0f} images/s, "
              f"per CPU second {rate['images_per_cpu_s']:6.0f}")


def precision_ratios(by_policy):
    """P7: training images/s at each policy over float32's, plain and under the wrappers."""
    base = by_policy[precision.FLOAT32]
    return {policy: dict(
        wrapped_over_float32=rates["wrapped_images_per_s"] / base["wrapped_images_per_s"],
        plain_over_float32=rates["plain_images_per_s"] / base["plain_images_per_s"],
        wrapped_over_float32_cpu=(rates["wrapped_images_per_cpu_s"]
                                  / base["wrapped_images_per_cpu_s"]),
        **rates) for policy, rates in by_policy.items() if policy != precision.FLOAT32}


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    images, source = _test_images(_IMAGES.value)
    labels = np.random.default_rng(0).integers(0, 10, len(images)).astype(np.int32)
    model = models.build(_MODEL.value, (32, 32, 3), 10, (125.0,) * 3, (63.0,) * 3)
    figures = dict(machine=machine(), model=_MODEL.value, images=source)
    print("machine: {cpu}, {cores} cores, TF {tensorflow}, bf16 flags {bf16_flags}".format(
        **figures["machine"]),
          f"; model {_MODEL.value}; {len(images)} {source}")
    policies = (precision.FLOAT32, *[p for p in _PRECISIONS.value if p != precision.FLOAT32])
    by_policy = bench_wrapper_overhead(model, images, labels, _TRAIN_STEPS.value, _ROUNDS.value,
                                       policies=policies)
    figures["P1"] = by_policy[precision.FLOAT32]
    print("P1 training under pruning wrappers / plain: {wrapped_over_plain:.3f} "
          "({wrapped_images_per_s:.0f} vs {plain_images_per_s:.0f} images/s; goal >= 0.97); "
          "per CPU second {wrapped_over_plain_cpu:.3f}".format(**figures["P1"]))
    figures["P7"] = precision_ratios(by_policy)
    for policy, rates in figures["P7"].items():
        print(f"P7 training at {policy} / float32 under the wrappers: "
              "{wrapped_over_float32:.2f} ({wrapped_images_per_s:.0f} images/s; goal >= 1.7 on "
              "a CPU with AMX); plain {plain_over_float32:.2f}; per CPU second "
              "{wrapped_over_float32_cpu:.2f}; P1 wrapped / plain {wrapped_over_plain:.3f}"
              .format(**rates))
    train_rates = [figures["P1"][f"plain_best_images_per{unit}_s"] for unit in ("", "_cpu")]
    figures["P3"] = bench_flop_rate(model, images, train_rates, matmul_peak(_MATMUL_SIZE.value))
    print("P3 training FLOP/s / fp32 matmul peak: {train_over_peak:.2f} ({train_gflops:.1f} "
          "of {peak_gflops:.1f} GFLOP/s, {train_images_per_s:.0f} images/s; goal >= 0.5); "
          "per CPU second {train_over_peak_cpu:.2f}".format(**figures["P3"]))
    print("P3 inference FLOP/s / peak: {inference_over_peak:.2f} ({inference_gflops:.1f} "
          "GFLOP/s, {inference_images_per_s:.0f} images/s at batch 128; "
          "{forward_mflop_per_image:.1f} MFLOP per image forward); per CPU second "
          "{inference_over_peak_cpu:.2f}".format(**figures["P3"]))
    figures["P4"] = bench_suite(model, images, _SETS.value)
    print("P4 corruption suite (warm cache) / clean inference: {suite_over_clean:.3f} "
          "({suite_images_per_s:.0f} vs {clean_images_per_s:.0f} images/s; goal >= 0.8); "
          "per CPU second {suite_over_clean_cpu:.3f}".format(**figures["P4"]))
    print("P4 one-time generation / one clean pass: {generation_over_clean_pass:.2f} "
          "(per set: {generation_over_suite_pass:.2f}; {generation_seconds:.1f} s for the "
          "suite); in CPU time {generation_over_clean_pass_cpu:.2f}".format(**figures["P4"]))
    ratios = [float(r) for r in _PRUNE_RATIOS.value]
    multiples = sorted({1, _CHANNEL_MULTIPLE.value})
    figures["P5"] = bench_shrunk_latency(model, ratios, _LATENCY_RUNS.value, multiples,
                                         _OUTPUT_TILE.value)
    _print_p5(figures["P5"], ratios, multiples)
    figures["P5_tile"] = bench_output_tile(runs=_LATENCY_RUNS.value)
    _print_tile(figures["P5_tile"])
    if _LEVERS.value:
        figures["levers"] = dict(
            training=bench_training_levers(model, images, labels, _TRAIN_STEPS.value,
                                           _ROUNDS.value),
            tflite_batches=bench_tflite_batches(model, images[:_TFLITE_IMAGES.value]))
        _print_levers(figures["levers"])
    if _QUICKSTART.value:
        figures["P6"] = bench_quickstart()
        print("P6 offline quickstart: {seconds:.0f} s (goal <= 180 s)".format(**figures["P6"]))
    if _JSON.value:
        storage.write_json(_JSON.value, figures)


if __name__ == "__main__":
    app.run(main)
