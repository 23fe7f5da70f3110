"""The run's config schema, and the checks that refuse a bad config before any work.

`base()` returns every key a run accepts, with its default, locked: a config file or a
`--config.key=value` override that names an unknown key fails at once, and
ml_collections refuses a value of the wrong type. `validate()` then checks ranges and
registered names, so that a typo costs seconds, not a training run.

The schema and its checks read the registries (pruning methods and their knobs, models,
data sets, corruptions, strategies, export variants), so this module sits above them:
a method's knobs become `prune.<knob>` keys without this file naming them.
"""
import difflib
import math
import re

import ml_collections

from export import variants as variants_lib
from tfprune import (corruptions, data, distributions, errors, image_sources, methods, models,
                     precision, storage, strategy, structure, train, user_models)

SPACING_KINDS = ("geometric", "linear")
# Tuple-valued keys that hold numbers; every other tuple holds names or specs (strings).
NUMBER_TUPLES = ("train.lr_milestones", "prune.ratios", "eval.severities", "data.image_size",
                 "data.mean", "data.std")
_SEGMENT = re.compile(r"^\s*(\w+)\(\s*([^)]*)\)\s*$")


def base():
    """Every key of a run, with defaults for the offline quickstart."""
    config = ml_collections.ConfigDict()
    config.seed = 0
    # Network repetitions: each seed its own parent and cascades (WORKDIR/seed-<s>/ when
    # more than one; see tfprune.sweep). () = just `seed`.
    config.seeds = ()
    config.data = dict(
        name="digits",  # a key of tfprune.data.DATASETS: digits, cifar10, folder, npz, tfds
        # cifar10: folder in the official binary format (offline source) | folder: the
        # image folder (class subfolders, or train/ and test/ of them; docs/data.md)
        dir="",
        file="",  # npz: the .npz file (x_train, y_train[, x_test, y_test, class_names])
        tfds_name="",  # tfds: a tensorflow-datasets image-classification set, e.g. "mnist"
        tfds_data_dir="",  # cifar10, tfds: tensorflow-datasets data_dir (prepared offline)
        # (height, width) every image is brought to; () = as stored (one size throughout)
        image_size=(),
        fit="resize",  # how images meet image_size: resize (stretched) | center_crop
        test_fraction=0.2,  # folder, npz, tfds without a test split: seeded, per class
        # auto: the data set's fixed mean/std where it declares them (CIFAR-10: the
        # reference's), else the training split's | train_split | explicit (data.mean,
        # data.std) | model (none added: the model normalises its 0..255 inputs itself)
        normalization="auto",
        mean=(),  # normalization=explicit: per-channel (R, G, B) mean, 0..1 scale
        std=(),  # normalization=explicit: per-channel std, 0..1 scale
        val_fraction=0.1,  # held out from training, seeded; scoring batches come from it
        # crop_flip | crop | none (pad 4 px, an eighth of the side above 32 px; random
        # crop, h-flip)
        augment="crop_flip",
        batch_augment=True,  # crop and flip whole batches (a sixth of the per-image CPU cost)
        max_train_examples=0,  # 0 = all; a cap for smoke tests
        # Robust training: none | corruptions (each image a random one of 9 CIFAR-10-C
        # corruptions at severity 0-5, as the study) | augmix (keras-cv AugMix)
        train_shift="none",
    )
    config.model = dict(
        name="cnn_small",  # a key of tfprune.models.MODELS or APPLICATIONS
        # The user's trained classifier as the parent (docs/models.md): a .keras file, an
        # .h5 file or a SavedModel folder, taking raw 0..255 pixels; "" = model.name
        path="",
        train_parent=False,  # model.path: also train it for train.epochs (from its weights)
        # The user's network, trained as a registered one: module:function or
        # path/to/file.py:function, (input_shape, num_classes) -> tf.keras.Model of logits
        builder="",
    )
    config.train = dict(
        epochs=10,
        batch_size=128,
        lr=0.1,
        momentum=0.9,
        nesterov=False,
        weight_decay=1e-4,
        warmup_epochs=0,
        # multistep (lr_milestones) | step (every lr_step_epochs) | one_cycle (triangular:
        # up from lr/25 to lr at one_cycle_peak of the epochs, then down to 0; no warm-up)
        lr_schedule="multistep",
        one_cycle_peak=0.3,
        lr_milestones=(5, 8),  # epochs of the full training schedule
        lr_step_epochs=30,
        lr_gamma=0.1,
        # tf.distribute strategy (tfprune.strategy): default (one device) | mirrored (all
        # local GPUs) | multi_worker (MultiWorkerMirroredStrategy over TF_CONFIG's cluster)
        strategy="default",
        # XLA-compiled training steps: off, as ResNet20 trained 2x slower with them on
        # this 2-core CPU (oneDNN's convolutions beat XLA's); try it on a GPU.
        jit_compile=False,
        # tfprune.precision: float32 | mixed_bfloat16 (CPUs with AMX or AVX-512 BF16, TPUs,
        # recent GPUs) | mixed_float16 (GPUs, loss-scaled) | auto (bf16 on such a CPU but
        # for depthwise networks, float16 on a GPU with tensor cores, else float32). Parent
        # and every cycle train so; checkpoints, evaluation and export stay float32.
        precision="float32",
    )
    config.prune = dict(
        # a key of tfprune.methods.REGISTRY: wt, sipp, ft, pfp (the study's), gmp (TF-MOT's
        # gradual magnitude pruning), m_by_n (TF-MOT's 2:4 sparsity; one target only)
        method="wt",
        methods="",  # several, comma-separated (e.g. "wt,sipp,ft,pfp"); overrides method
        # Target ratios, as torchprune: segments of *keep* ratios, descending, then
        # split into `cycles` chunks whose last values are the prune-retrain targets.
        spacing=("geometric(0.85, 0.05, 6)",),
        cycles=0,  # 0 = every spacing value is a cycle
        ratios=(),  # explicit prune ratios; when given, spacing and cycles are ignored
        retrain_epochs=3,  # each cycle rewinds the lr schedule (see retrain_schedule)
        # rescaled: the training schedule compressed to retrain_epochs (milestones, steps) |
        # as_training: the training schedule's epochs kept, cut at retrain_epochs (reference)
        retrain_schedule="rescaled",
        # Where each cycle's retraining starts: lr (the pruned network's trained weights, the
        # lr schedule rewound: Renda et al. 2020's learning-rate rewinding, the study's) |
        # weights (its surviving weights reset to the parent's after rewind_epoch epochs of
        # training, which the parent saves then: Frankle et al. 2019's weight rewinding)
        rewind="lr",
        rewind_epoch=1,  # prune.rewind=weights: 0 (the initialisation) .. train.epochs
        # Weights that can no longer affect the output, removed with the method's masks:
        # graph: by the channel graph, BatchNorm of dead channels zeroed and counted as
        #   removed (what physical shrinking needs) | zero_gradient: weights with zero
        #   gradient on the scoring batch, and structured layers' constant input channels,
        #   BatchNorm kept and counted (the reference's rule)
        dead_weights=methods.registry.RULE_DEFAULTS["dead_weights"],  # graph
        # Tolerance of the keep budget, relative to the network's kept parameters (all
        # trainable ones, as the reference counts): 0 = the smallest knob keeping at least
        # the budget; 0.005 = the first result within 0.5% of it, else the nearest (reference)
        budget_tolerance=methods.registry.RULE_DEFAULTS["budget_tolerance"],  # 0.0
        # ... and every registered method's knobs (tfprune.methods), e.g. channel_multiple.
        **{knob.name: knob.default for knob in methods.knobs().values()},
    )
    config.eval = dict(
        corruptions=(
            "gaussian_noise", "shot_noise", "impulse_noise",
            "contrast", "brightness", "defocus_blur",
        ),
        severities=(3,),
        extra_corruptions=(),  # further "<corruption>_<severity>" sets, e.g. "fog_5"
        corruption_source="auto",  # auto (tfds cifar10_corrupted if it can be had) | generated | tfds
        # the reference's parameter set for generated corruptions: auto (by the shorter
        # side: cifar10 up to 45 px, tinyimagenet 46-127, imagenet from 128) | cifar10 |
        # tinyimagenet | imagenet (tfprune.corruptions.parameters)
        corruption_params="auto",
        # frost's textures where it is generated: auto (the reference's photographs where
        # found: frost_dir, else an installed imagecorruptions package; else generated
        # stand-ins) | photographs (refused without them) | generated
        frost="auto",
        frost_dir="",
        shifts=(),  # natural shifts: "cifar10_1" (tensorflow-datasets; reported if unavailable)
        # Noise similarity: uniform noise in [-eps, eps] on the normalised input, eps over
        # linspace(0, noise_eps_max, noise_steps), on noise_images test images x noise_draws.
        noise_images=0,  # 0 = off (the study: 1000 images x 100 draws)
        noise_draws=4,
        noise_eps_max=0.7,
        noise_steps=15,
        reference_network=False,  # also train an unpruned network with another seed
        # also retrain the parent as a cycle retrains, nothing pruned (tfprune.verdicts):
        # where it gains more than delta on the parent (beyond the sampling error), the
        # parent was not converged and the prune potentials there are inflated
        control_network=True,
        # stop when the parent's nominal accuracy is chance level (metrics.chance_ceiling):
        # its prune potentials would mean nothing. False only for plumbing runs (tests).
        stop_at_chance_parent=True,
        delta=0.5,  # prune potential: allowed excess error, in percentage points
        # Named groups of distributions ("name=pattern,pattern", fnmatch patterns) whose
        # mean and minimum prune potential results.json reports.
        groups=("nominal=nominal", "corrupted=*_[1-5]"),
        # (train, test): two of `groups`; each network's excess error is its mean error
        # over test minus over train, minus the parent's (the study's single value)
        excess_error_groups=("nominal", "corrupted"),
        batch_size=500,
        # float32 | mixed_bfloat16: evaluate the Keras networks in bf16 too; results.json
        # then records its top-1 agreement with float32 (the reported accuracies stay float32)
        precision="float32",
        corruption_seed=0,
        cache_dir="",  # "" = WORKDIR/cache
    )
    config.export = dict(
        tflite=True,
        threads=2,  # interpreter threads, for evaluation and latency
        batch_size=64,  # images per interpreter call in evaluation (1 = unbatched: 0.7x here)
        # TFLite files per network (export.variants.VARIANTS, or "all"): float32, float16,
        # dynamic_int8, int8 (full integer), sparse, sparse_int8
        variants=("float32",),
        latency_runs=50,  # timed invokes per file at batch 1 (0 = no latency)
        latency_batch_runs=5,  # timed invokes per file at batch 64
        latency_warmup=5,  # untimed invokes before each timing
        # Output channels the runtime computes at a time (XNNPACK float, this x86 machine:
        # 16; tfprune.bench measures it): the FLOP reduction is also given counted so.
        output_tile=16,
        # Variant pqat_int8 (export.pqat): each network fine-tuned quantization-aware with
        # its zeros kept, for this many epochs as its cycle retrains, at this constant lr
        pqat_epochs=2,
        pqat_lr=1e-3,
    )
    config.lock()
    return config


def unknown_key_error(key):
    """A one-line message when `key` (e.g. 'prune.ratio') is not in the schema, else None."""
    node, path = base(), []
    for part in key.split("."):
        if not isinstance(node, ml_collections.ConfigDict) or part not in node:
            allowed = sorted(node.keys()) if isinstance(node, ml_collections.ConfigDict) else []
            close = difflib.get_close_matches(part, allowed, n=1)
            hint = f"did you mean {'.'.join(path + close)}? " if close else ""
            return (f"--config.{key}: unknown key; {hint}keys of "
                    f"{'.'.join(path) or 'config'}: {', '.join(allowed)}")
        node, path = node[part], path + [part]
    return None


def _fail(key, message):
    raise errors.ConfigError(f"config.{key}: {message}")


def array_split(items, parts):
    """`items` in `parts` contiguous runs, as numpy.array_split: the first len % parts
    runs hold one more item."""
    size, extra = divmod(len(items), parts)
    starts = [i * size + min(i, extra) for i in range(parts + 1)]
    return [items[a:b] for a, b in zip(starts, starts[1:])]


def _check_range(config, key, low, high=math.inf, *, low_open=False, high_open=False):
    value = config
    for part in key.split("."):
        value = value[part]
    if isinstance(value, float) and not math.isfinite(value):
        _fail(key, f"{value!r} is not a finite number")
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        _fail(key, f"{value!r} is out of range; allowed: {interval}")


def _check_name(key, value, allowed):
    if value not in allowed:
        _fail(key, f"unknown name {value!r}; allowed: {', '.join(sorted(allowed))}")


def parse_spacing(spacing):
    """Keep ratios from segments like 'geometric(0.85, 0.05, 6)': max, min, count."""
    keep_ratios = []
    for segment in spacing:
        match = _SEGMENT.match(segment)
        if not match or match.group(1) not in SPACING_KINDS:
            _fail("prune.spacing", f"cannot read {segment!r}; write e.g. "
                  f"'geometric(0.85, 0.05, 6)' with a kind in {', '.join(SPACING_KINDS)}")
        try:
            high, low, count = (float(v) for v in match.group(2).split(","))
        except ValueError:
            _fail("prune.spacing", f"{segment!r} needs three numbers: max keep, min keep, count")
        if not (0 < low <= high <= 1) or count < 1 or count != int(count):
            _fail("prune.spacing", f"{segment!r}: need 0 < min <= max <= 1 and a whole count >= 1")
        kind = match.group(1)
        values = _geomspace(high, low, int(count)) if kind == "geometric" else _linspace(
            high, low, int(count))
        keep_ratios.extend(values)
    return keep_ratios


def _linspace(high, low, count):
    return [high] if count == 1 else [high + (low - high) * i / (count - 1) for i in range(count)]


def _geomspace(high, low, count):
    return [math.exp(v) for v in _linspace(math.log(high), math.log(low), count)]


def target_ratios(prune_config):
    """The prune ratios of the cascade, increasing (fractions of all parent parameters)."""
    if prune_config.ratios:
        return [float(r) for r in prune_config.ratios]
    return [round(1.0 - chunk[-1], 6) for chunk in target_chunks(prune_config)]


def target_chunks(prune_config):
    """Per cycle, the keep ratios it prunes through before retraining (the spacing values
    of its chunk, the last one its target), as the reference re-prunes through them;
    with explicit `ratios`, each cycle's target alone."""
    if prune_config.ratios:
        return [[1.0 - float(r)] for r in prune_config.ratios]
    keep_ratios = parse_spacing(prune_config.spacing)
    return array_split(keep_ratios, prune_config.cycles or len(keep_ratios))


def methods_of(prune_config):
    """The method names of a run: `prune.methods` when set, else `prune.method`."""
    names = prune_config.methods or prune_config.method
    return [m.strip() for m in names.split(",") if m.strip()]


def _check_tuple_items(config):
    """ml_collections checks that a tuple is a tuple, not what it holds."""
    for section, values in config.items():
        if not isinstance(values, ml_collections.ConfigDict):
            continue
        for name, value in values.items():
            numbers = f"{section}.{name}" in NUMBER_TUPLES
            kind = (int, float) if numbers else str
            for item in value if isinstance(value, tuple) else ():
                if not isinstance(item, kind) or isinstance(item, bool):
                    _fail(f"{section}.{name}", f"{item!r} in {value!r} is not a "
                          f"{'number' if numbers else 'string'}; write e.g. "
                          f"{base()[section][name] or (0.5, 0.8)!r}")


def _check_model_source(config):
    """model.path and model.builder exclude each other; a builder must be importable. The
    file itself is checked when the run loads it, before it records anything."""
    model = config.model
    if model.path and model.builder:
        _fail("model.builder", "and model.path both give the parent; set one of them")
    if model.train_parent and not model.path:
        _fail("model.train_parent", "trains a model.path parent; set model.path, or "
              "model.train_parent=False")
    if model.path and not storage.is_local(model.path):
        _fail("model.path", f"{model.path} is not a local path; copy the model here first")
    if model.path and config.eval.reference_network:
        _fail("eval.reference_network", "trains the parent's network from scratch, which a "
              "model.path parent was not; set eval.reference_network=False")
    if model.builder:
        user_models.builder_function(model.builder)


def _check_tfmot_methods(config, names, ratios):
    """What the methods whose masks TF-MOT makes need: gmp prunes during retraining;
    m_by_n prunes once, to what 2:4 gives (under half of all parameters)."""
    key = "prune.methods" if config.prune.methods else "prune.method"
    kinds = {methods.get(name).masks: name for name in names}
    if methods.GRADUAL in kinds and config.prune.retrain_epochs == 0:
        _fail("prune.retrain_epochs", f"0: {kinds[methods.GRADUAL]} prunes during retraining; "
              "set prune.retrain_epochs >= 1")
    if methods.M_BY_N in kinds and len(ratios) != 1:
        _fail(key, f"{kinds[methods.M_BY_N]} prunes once, to 2:4 sparsity (under 50% of all "
              f"parameters), not through {len(ratios)} targets; give the cascade one target, "
              "e.g. --config.prune.ratios=(0.45,)")


def validate(config):
    """Raise ConfigError (one line naming the key and what is allowed) for a bad config."""
    _check_tuple_items(config)
    for seed in config.seeds:
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            _fail("seeds", f"{seed!r} in {config.seeds!r} is not a whole number >= 0; "
                  "write e.g. (0, 1, 2)")
    if len(set(config.seeds)) != len(config.seeds):
        _fail("seeds", f"{config.seeds!r} names a seed twice")
    _check_name("data.name", config.data.name, data.DATASETS)
    _check_name("model.name", config.model.name, {**models.MODELS, **models.APPLICATIONS})
    _check_model_source(config)
    _check_name("data.augment", config.data.augment, data.AUGMENTATIONS)
    _check_name("data.normalization", config.data.normalization, data.NORMALIZATIONS)
    _check_name("data.train_shift", config.data.train_shift, data.TRAIN_SHIFTS)
    _check_name("train.lr_schedule", config.train.lr_schedule, train.LR_SCHEDULES)
    _check_range(config, "train.one_cycle_peak", 0, 1, low_open=True, high_open=True)
    if config.train.lr_schedule == "one_cycle" and config.train.warmup_epochs:
        _fail("train.warmup_epochs", f"{config.train.warmup_epochs!r}: one_cycle rises from "
              "lr/25 itself; set train.warmup_epochs=0")
    _check_name("train.strategy", config.train.strategy, strategy.STRATEGIES)
    _check_name("train.precision", config.train.precision, precision.PRECISIONS)
    precision.resolve(config.train.precision)  # mixed_float16 without a GPU: refused now
    _check_name("eval.precision", config.eval.precision, precision.EVAL_PRECISIONS)
    _check_name("prune.retrain_schedule", config.prune.retrain_schedule,
                train.RETRAIN_SCHEDULES)
    _check_name("prune.dead_weights", config.prune.dead_weights, structure.DEAD_WEIGHT_RULES)
    _check_range(config, "prune.budget_tolerance", 0, 0.5)
    names = methods_of(config.prune)
    key = "prune.methods" if config.prune.methods else "prune.method"
    if not names:
        _fail(key, f"is empty; allowed: {', '.join(sorted(methods.REGISTRY))}")
    for name in names:
        _check_name(key, name, methods.REGISTRY)
    if len(set(names)) != len(names):
        _fail(key, f"{','.join(names)} names a method twice")
    _check_name("prune.rewind", config.prune.rewind, train.REWINDS)
    if config.prune.rewind == "weights":
        _check_range(config, "prune.rewind_epoch", 0, config.train.epochs)
        if config.model.path and not config.model.train_parent:
            _fail("prune.rewind", "weights rewinds to the parent's training, and a model.path "
                  "parent is not trained here; set model.train_parent=True, or prune.rewind=lr")
    for name in config.eval.corruptions:
        _check_name("eval.corruptions", name, corruptions.CORRUPTIONS)
    for name in config.eval.extra_corruptions:
        corruption, _, severity = name.rpartition("_")
        if corruption not in corruptions.CORRUPTIONS or severity not in tuple("12345"):
            _fail("eval.extra_corruptions", f"cannot read {name!r}; write '<corruption>_<1-5>' "
                  f"with a corruption in {', '.join(corruptions.NAMES)}")
    for name in config.eval.shifts:
        _check_name("eval.shifts", name, distributions.SHIFTS)
    _check_name("eval.corruption_source", config.eval.corruption_source,
                distributions.CORRUPTION_SOURCES)
    _check_name("eval.frost", config.eval.frost, distributions.FROST_TEXTURES)
    _check_name("eval.corruption_params", config.eval.corruption_params,
                corruptions.PARAMETER_CHOICES)
    if config.eval.corruption_source == "tfds" and config.eval.corruption_params not in (
            "auto", "cifar10"):
        _fail("eval.corruption_source", f"tfds holds CIFAR-10-C, not corruptions with "
              f"{config.eval.corruption_params} parameters; set eval.corruption_source=generated")
    if config.eval.corruption_source == "tfds" and config.data.name != "cifar10":
        _fail("eval.corruption_source", "tfds has CIFAR-10-C only; set data.name=cifar10 or "
              "eval.corruption_source=generated")
    if config.eval.shifts and config.data.name != "cifar10":
        _fail("eval.shifts", f"{config.eval.shifts} are shifts of CIFAR-10; set eval.shifts=()")
    for key in ("eval.noise_images", "eval.noise_eps_max"):
        _check_range(config, key, 0)
    for key in ("eval.noise_draws", "eval.noise_steps"):
        _check_range(config, key, 1)
    for spec in config.eval.groups:
        if "=" not in spec or not spec.partition("=")[0].strip():
            _fail("eval.groups", f"cannot read {spec!r}; write 'name=pattern,pattern', "
                  "e.g. 'noise=*_noise_*'")
    group_names = [spec.partition("=")[0].strip() for spec in config.eval.groups]
    if len(config.eval.excess_error_groups) != 2:
        _fail("eval.excess_error_groups", f"{config.eval.excess_error_groups!r}: name two "
              f"groups (train, test) of eval.groups: {', '.join(group_names)}")
    for name in config.eval.excess_error_groups:
        _check_name("eval.excess_error_groups", name, group_names)
    for severity in config.eval.severities:
        if severity not in (1, 2, 3, 4, 5):
            _fail("eval.severities", f"{severity!r} is out of range; allowed: 1, 2, 3, 4, 5")
    _check_range(config, "data.val_fraction", 0, 1, low_open=True, high_open=True)
    _check_range(config, "data.max_train_examples", 0)
    for key in ("train.epochs", "train.warmup_epochs", "prune.retrain_epochs", "prune.cycles"):
        _check_range(config, key, 0)
    for knob in methods.knobs().values():
        _check_range(config, f"prune.{knob.name}", knob.low, knob.high)
    _check_range(config, "export.output_tile", 1)
    for key in ("train.batch_size", "eval.batch_size", "train.lr", "train.lr_step_epochs",
                "export.threads", "export.batch_size"):
        _check_range(config, key, 0, low_open=True)
    for key in ("export.latency_runs", "export.latency_warmup"):
        _check_range(config, key, 0)
    _check_range(config, "export.latency_batch_runs", 1)
    _check_range(config, "export.pqat_epochs", 1)
    _check_range(config, "export.pqat_lr", 0, 1, low_open=True)
    variants_lib.parse(config.export.variants)
    for key in ("train.momentum", "train.lr_gamma"):
        _check_range(config, key, 0, 1)
    _check_range(config, "train.weight_decay", 0)
    if any(m < 0 for m in config.train.lr_milestones):
        _fail("train.lr_milestones", f"{config.train.lr_milestones!r}: epochs must be >= 0")
    for ratio in config.prune.ratios:
        if not 0 <= ratio < 1:
            _fail("prune.ratios", f"{ratio!r} is out of range; allowed: [0, 1)")
    keep_ratios = [] if config.prune.ratios else parse_spacing(config.prune.spacing)
    if config.prune.cycles > max(len(keep_ratios), 1) and not config.prune.ratios:
        _fail("prune.cycles", f"{config.prune.cycles} exceeds the {len(keep_ratios)} spacing values")
    ratios = target_ratios(config.prune)
    if not ratios:
        _fail("prune.ratios", "the cascade has no target ratio; set prune.ratios or prune.spacing")
    if any(b <= a for a, b in zip(ratios, ratios[1:])):
        _fail("prune.ratios", f"{ratios} must increase strictly (each cycle prunes further)")
    for ratio in ratios:
        if not 0 <= ratio < 1:
            _fail("prune.spacing", f"gives prune ratio {ratio}; allowed: [0, 1)")
    _check_tfmot_methods(config, names, ratios)
    if config.data.name == "cifar10" and config.data.dir and config.data.tfds_data_dir:
        _fail("data.dir", "set either data.dir (binary folder) or data.tfds_data_dir, not both")
    _validate_user_data(config)


def _validate_user_data(config):
    """The keys of a user's images (data.name folder, npz, tfds; docs/data.md)."""
    data_config = config.data
    for name, key in (("folder", "dir"), ("npz", "file"), ("tfds", "tfds_name")):
        if data_config.name == name and not data_config[key]:
            _fail(f"data.{key}", f"is empty; data.name={name} reads its images from it")
    size = data_config.image_size
    if size and (len(size) != 2 or any(side != int(side) or side < 1 for side in size)):
        _fail("data.image_size", f"{size!r}: write (height, width) in whole pixels >= 1, "
              "or () for the images' own size")
    _check_name("data.fit", data_config.fit, image_sources.FITS)
    _check_range(config, "data.test_fraction", 0, 1, low_open=True, high_open=True)
    explicit = data_config.normalization == "explicit"
    for key in ("mean", "std"):
        values = data_config[key]
        if explicit and (len(values) != 3 or any(not 0 <= v <= 1 for v in values)
                         or (key == "std" and min(values) <= 0)):
            _fail(f"data.{key}", f"{values!r}: write three per-channel values (R, G, B) on "
                  f"the 0..1 scale{', each > 0' if key == 'std' else ''}, e.g. "
                  f"{(0.485, 0.456, 0.406) if key == 'mean' else (0.229, 0.224, 0.225)}")
        if values and not explicit:
            _fail(f"data.{key}", f"is set but data.normalization={data_config.normalization!r}"
                  f" ignores it; set data.normalization=explicit, or data.{key}=()")
