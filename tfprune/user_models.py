"""The user's own network as the parent: a trained classifier file (`model.path`: .keras,
.h5 or a SavedModel folder) or a builder function (`model.builder`), made into the
model tfprune's methods work on.

Every user network becomes a flat functional tf.keras model with one input of the data
set's image shape and one (None, classes) output of logits: a softmax head is removed
(softmax of the logits is the user's probabilities, which the evaluator computes), a
Sequential model becomes functional, free input sizes are fixed. A file saved by Keras 3
is rebuilt in tf.keras layer by layer from its config, with its weights, where tf.keras
has its layers, and used only if both give the same outputs. What tfprune's methods
cannot work on (nested models, shared layers, transposed convolutions, a graph the
channel graph cannot read) is refused in one line naming the layer.
"""
import importlib
import importlib.util
import inspect
import json
import os
import zipfile

import h5py
import numpy as np

import tfprune  # noqa: F401
import tensorflow as tf

from tfprune import channels, errors, storage, wrappers

# Relative tolerance of a Keras 3 model's tf.keras rebuild, on random inputs.
KERAS3_TOLERANCE = 1e-5
_SOFTMAX_OPS = ("nn.softmax", "math.softmax")
_KERAS3_FIX = ("save it with tf_keras (TF_USE_LEGACY_KERAS=1), or give the "
                      "architecture as model.builder=module:function")


def _refuse(key, value, message):
    raise errors.ConfigError(f"config.model.{key}={value}: {message}")


# --- where a network comes from ---------------------------------------------

def source_digest(path):
    """The digest of a model file, or of a SavedModel folder (its files' names and
    digests): a parent made from it records it, and a changed file is noticed."""
    if not os.path.isdir(path):
        return storage.file_digest(path)
    listing = []
    for folder, _, names in sorted(os.walk(path)):
        for name in sorted(names):
            file = os.path.join(folder, name)
            listing.append(f"{os.path.relpath(file, path)} {storage.file_digest(file)}")
    return storage.bytes_digest("\n".join(listing).encode())


def check_unchanged(path, record, checkpoint):
    """Refuse a parent made from `path` whose file is now missing or changed."""
    made_from = (record.get("source") or {}).get("digest")
    if not os.path.exists(path):
        _refuse("path", path, f"is missing; the parent {checkpoint} was made from it: "
                "restore it, or use --fresh to start over with another model.path")
    if made_from != source_digest(path):
        _refuse("path", path, f"changed since the parent {checkpoint} was made from it; "
                "restore the file, or use --fresh to start over with it")


def keras_version(path):
    """The Keras version that saved a .keras/.h5 file or SavedModel folder; refuses what is
    none of them."""
    if os.path.isdir(path):
        if not os.path.exists(os.path.join(path, "saved_model.pb")):
            _refuse("path", path, "is a folder but no SavedModel (no saved_model.pb); give a "
                    ".keras file, an .h5 file or a SavedModel folder")
        if not os.path.exists(os.path.join(path, "keras_metadata.pb")):
            _refuse("path", path, "is a SavedModel without Keras metadata (tf.saved_model.save "
                    "or Keras 3's model.export); save the Keras model with model.save("
                    "'model.keras')")
        return "2 (SavedModel)"  # Keras 3 writes no Keras SavedModel
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                return json.loads(archive.read("metadata.json"))["keras_version"]
        if h5py.is_hdf5(path):
            with h5py.File(path, "r") as stored:
                version = stored.attrs.get("keras_version")
            return version.decode() if isinstance(version, bytes) else str(version)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        _refuse("path", path, f"is not a readable Keras model ({storage.reason(error)}); "
                "give a .keras file, an .h5 file or a SavedModel folder")
    _refuse("path", path, "is not a Keras model (neither a .keras zip nor HDF5); give a "
            ".keras file, an .h5 file or a SavedModel folder")


def load(path, input_shape, num_classes, log=print):
    """(model, source) of the classifier at `path`: the tf.keras model tfprune uses and
    what it was made from (path, digest, Keras version, head)."""
    if not os.path.exists(path):
        _refuse("path", path, "does not exist; give the path of a .keras file, an .h5 file "
                "or a SavedModel folder")
    version = keras_version(path)
    if version.startswith("3."):
        model = _from_keras3(path, input_shape, log)
    else:
        try:
            model = tf.keras.models.load_model(path, compile=False)
        except Exception as error:  # noqa: BLE001 (Keras raises anything on a foreign file)
            _refuse("path", path, f"cannot be loaded ({storage.reason(error)}); tfprune "
                    "loads built-in tf.keras layers only: rebuild the model from them, or "
                    "give the architecture as model.builder=module:function")
    model, head = classifier(model, input_shape, num_classes, ("path", path))
    source = dict(path=os.path.abspath(path), digest=source_digest(path),
                  keras_version=version, head=head)
    log(f"model.path: {path} (Keras {version}), {head}")
    return model, source


def builder_function(spec):
    """The function `module:function` or `path/to/file.py:function` names."""
    where, _, name = spec.rpartition(":")
    if not where or not name:
        _refuse("builder", spec, "write module:function or path/to/file.py:function")
    try:
        if where.endswith(".py") or os.sep in where:
            loader = importlib.util.spec_from_file_location("tfprune_user_builder", where)
            if loader is None or not os.path.exists(where):
                _refuse("builder", spec, f"{where} does not exist; give an existing .py file")
            module = importlib.util.module_from_spec(loader)
            loader.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
    except errors.ConfigError:
        raise
    except Exception as error:  # noqa: BLE001 (the user's module may raise anything)
        _refuse("builder", spec, f"cannot import {where} ({type(error).__name__}: "
                f"{storage.reason(error)}); fix it, or run from the folder that holds it")
    function = getattr(module, name, None)
    if not callable(function):
        _refuse("builder", spec, f"{where} has no function {name}; name a function "
                "(input_shape, num_classes) -> tf.keras.Model")
    return function


def build(spec, input_shape, num_classes, normalization):
    """(model, source) of the builder's network, with `normalization` (the data set's
    layer, None for none) in front of it as the registry's networks have it, so the
    builder writes the architecture alone."""
    try:
        model = builder_function(spec)(tuple(input_shape), num_classes)
    except errors.ConfigError:
        raise
    except Exception as error:  # noqa: BLE001 (the user's function may raise anything)
        _refuse("builder", spec, f"raised {type(error).__name__}: {storage.reason(error)}; "
                "fix the function")
    if not isinstance(model, tf.keras.Model):
        _refuse("builder", spec, f"returned {type(model).__name__}, not a tf.keras.Model; "
                "return one (build it with tf.keras after `import tfprune`)")
    model, head = classifier(model, input_shape, num_classes, ("builder", spec))
    if normalization is not None:
        model = _with_input_layer(model, normalization)
    return model, dict(builder=spec, head=head)


def _with_input_layer(model, layer):
    """`model` with `layer` between its input and every layer that read the input."""
    config = model.get_config()
    input_name = config["input_layers"][0][0]
    taken = {entry["name"] for entry in config["layers"]}
    name = next(f"input_normalization{suffix}" for suffix in ("", *range(1, len(taken) + 2))
                if f"input_normalization{suffix}" not in taken)
    layer_config = dict(layer.get_config(), name=name)

    def rewired(node):
        if isinstance(node, list) and node and node[0] == input_name:
            return [name, *node[1:]]
        return [rewired(item) for item in node] if isinstance(node, list) else node

    for entry in config["layers"]:
        entry["inbound_nodes"] = rewired(entry["inbound_nodes"])
    position = next(i for i, entry in enumerate(config["layers"]) if entry["name"] == input_name)
    config["layers"].insert(position + 1, dict(
        class_name=type(layer).__name__, config=layer_config, name=name,
        inbound_nodes=[[[input_name, 0, 0, {}]]]))
    return _rebuilt(model, config)


def _rebuilt(model, config):
    """A functional model from `config`, with `model`'s weights, layer by layer."""
    rebuilt = tf.keras.Model.from_config(config)
    for layer in model.layers:
        rebuilt.get_layer(layer.name).set_weights(layer.get_weights())
    return rebuilt


# --- a classifier tfprune can prune -----------------------------------------

def classifier(model, input_shape, num_classes, what):
    """(model, head) of a user network made fit for tfprune: functional, of input
    `input_shape`, its output (None, num_classes) logits; `head` says what it outputs.
    `what`: (config key, value), for the messages."""
    if isinstance(model, tf.keras.Sequential):
        if not model.inputs:
            _refuse(*what, "is a Sequential model without an input shape; start it with "
                    f"tf.keras.Input({tuple(input_shape)})")
        model = tf.keras.Model(model.inputs, model.outputs, name=model.name)
    if not getattr(model, "_is_graph_network", False):
        _refuse(*what, f"is a subclassed model ({type(model).__name__}); tfprune needs a "
                "functional or Sequential tf.keras model")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        _refuse(*what, f"has {len(model.inputs)} inputs and {len(model.outputs)} outputs; "
                "tfprune needs a classifier of one image input and one output")
    model = _with_input_shape(model, tuple(input_shape), what)
    output = tuple(model.output.shape)
    if len(output) != 2:
        _refuse(*what, f"outputs shape {output}, not (None, classes); end it in "
                f"Dense({num_classes})")
    if output[1] != num_classes:
        _refuse(*what, f"outputs {output[1]} classes, the data set has {num_classes}; "
                f"give a model of {num_classes} outputs, or another data.name")
    _check_layers(model, what)
    return _logits(model, what)


def _with_input_shape(model, input_shape, what):
    """`model` taking `input_shape` (its free sizes fixed): the channel graph and TFLite
    need static shapes."""
    taken = tuple(model.input.shape[1:])
    if len(taken) != len(input_shape) or any(
            size not in (None, wanted) for size, wanted in zip(taken, input_shape)):
        _refuse(*what, f"takes inputs of shape {taken}, the data set's images are "
                f"{input_shape}; give a model built for {input_shape} inputs")
    if taken == input_shape:
        return model
    config = model.get_config()
    for entry in config["layers"]:
        if entry["class_name"] == "InputLayer":
            entry["config"]["batch_input_shape"] = (None, *input_shape)
    try:
        return _rebuilt(model, config)
    except (ValueError, TypeError) as error:
        _refuse(*what, f"cannot take the data set's {input_shape} images "
                f"({storage.reason(error)}); give a model built for {input_shape} inputs")


def _check_layers(model, what):
    """Refuse what TF-MOT's wrappers and the channel graph cannot work on, by layer."""
    entries = {entry["name"]: entry for entry in model.get_config()["layers"]}
    for layer in model.layers:
        kind = type(layer).__name__
        if isinstance(layer, tf.keras.Model):
            _refuse(*what, f"layer {layer.name} is a nested model ({kind}); tfprune prunes "
                    "one flat graph: call the nested model's layers on your tensors instead")
        if isinstance(layer, tf.keras.layers.Conv2DTranspose):
            _refuse(*what, f"layer {layer.name} is a {kind}, whose kernel tfprune's methods "
                    "cannot read (the channel graph reads Conv2D and Dense kernels); "
                    "replace it, e.g. by UpSampling2D and Conv2D")
        if len(entries[layer.name]["inbound_nodes"]) > 1:
            _refuse(*what, f"layer {layer.name} ({kind}) is called "
                    f"{len(entries[layer.name]['inbound_nodes'])} times; the channel graph "
                    "reads each layer once: give each call its own layer")
    if not wrappers.prunable_layers(model):
        _refuse(*what, "has no Conv2D or Dense layer, nothing tfprune's methods prune")
    try:
        graph = channels.ChannelGraph(model)
        kernels = graph.kernels()
        graph.used(kernels, graph.alive(kernels))
    except (ValueError, TypeError, KeyError, IndexError, tf.errors.OpError) as error:
        _refuse(*what, f"the channel graph (tfprune/channels.py) cannot read it "
                f"({type(error).__name__}: {storage.reason(error)}); build it from the layers "
                "docs/models.md lists")


def _softmax_layer(layer):
    """Is `layer` a softmax alone (a Softmax layer, Activation('softmax'), tf.nn.softmax)?"""
    config = layer.get_config()
    return (isinstance(layer, tf.keras.layers.Softmax)
            or (isinstance(layer, tf.keras.layers.Activation)
                and config["activation"] == "softmax")
            or (type(layer).__name__ == "TFOpLambda" and config["function"] in _SOFTMAX_OPS))


def _logits(model, what):
    """(model, head): the model's output as logits. A softmax head is removed (its input,
    or its layer without the activation, gives logits whose softmax is the model's
    output); log-probabilities are logits; any other activation on the output is refused."""
    last = model.get_layer(model.get_config()["output_layers"][0][0])
    activation = last.get_config().get("activation")
    if _softmax_layer(last):
        model = tf.keras.Model(model.input, last.input, name=model.name)
        head = f"probabilities (softmax layer {last.name} removed: the logits are its input)"
    elif activation == "softmax":
        config = model.get_config()
        for entry in config["layers"]:
            if entry["name"] == last.name:
                entry["config"]["activation"] = "linear"
        model = _rebuilt(model, config)
        head = f"probabilities (the softmax of layer {last.name} removed: logits)"
    elif activation in (None, "linear", "log_softmax"):
        head = "logits" if activation != "log_softmax" else "log-probabilities, used as logits"
    else:
        _refuse(*what, f"its output layer {last.name} ends in {activation}; tfprune needs "
                "logits (no activation) or softmax probabilities: end it in Dense(classes) "
                "or Dense(classes, activation='softmax')")
    sample = np.random.default_rng(0).uniform(0, 255, (4, *model.input.shape[1:]))
    outputs = model(sample.astype(np.float32), training=False).numpy()
    if (outputs >= 0).all() and np.allclose(outputs.sum(axis=-1), 1.0, atol=1e-4):
        _refuse(*what, f"its output layer {last.name} ({type(last).__name__}) outputs "
                "probabilities by an operation tfprune cannot remove; end the model in "
                "Dense(classes) or Dense(classes, activation='softmax')")
    return model, head


# --- Keras 3 files -----------------------------------------------------------

def _from_keras3(path, input_shape, log):
    """The Keras 3 model at `path` rebuilt in tf.keras from its config, with its weights;
    used only if both give the same outputs on random inputs."""
    import keras  # Keras 3, beside tf_keras; only for its files (it takes a second to load)

    try:
        original = keras.models.load_model(path, compile=False)
    except Exception as error:  # noqa: BLE001 (Keras raises anything on a foreign file)
        _refuse("path", path, f"Keras 3 cannot load it ({storage.reason(error)}); "
                f"{_KERAS3_FIX}")
    config = original.get_config()
    if isinstance(original, keras.Sequential):
        entries = config["layers"]
        if entries[0]["class_name"] != "InputLayer":  # built without keras.Input
            entries.insert(0, dict(class_name="InputLayer", config=dict(
                name="input", batch_shape=original.input_shape)))
        for previous, entry in zip(entries, entries[1:]):
            entry["inbound_nodes"] = [dict(args=[dict(
                class_name="__keras_tensor__",
                config=dict(keras_history=[previous["config"]["name"], 0, 0]))], kwargs={})]
        config = dict(layers=entries, output_layers=[[entries[-1]["config"]["name"], 0, 0]])
    if "layers" not in config or "output_layers" not in config:
        _refuse("path", path, f"is a Keras 3 {type(original).__name__}, not a functional or "
                f"Sequential model; {_KERAS3_FIX}")
    tensors, inputs = {}, []
    for entry in config["layers"]:
        name = entry.get("name") or entry["config"]["name"]
        if entry["class_name"] == "InputLayer":
            shape = [wanted if size is None else size for size, wanted in
                     zip(_batch_shape(entry["config"])[1:], input_shape)]
            inputs.append(tf.keras.Input(shape, name=name))
            tensors[(name, 0, 0)] = inputs[-1]
            continue
        layer = _tf_keras_layer(entry, path)
        for node_index, node in enumerate(entry["inbound_nodes"]):
            args, kwargs = _with_tensors(node["args"], tensors), _with_tensors(node["kwargs"],
                                                                                tensors)
            result = layer(*args, **kwargs)
            for index, tensor in enumerate(tf.nest.flatten(result)):
                tensors[(name, node_index, index)] = tensor
        try:
            layer.set_weights(original.get_layer(name).get_weights())
        except ValueError as error:
            _refuse("path", path, f"layer {name} ({entry['class_name']}) holds weights tf.keras' "
                    f"layer cannot take ({storage.reason(error)}); {_KERAS3_FIX}")
    listed = config["output_layers"]  # Keras 3 lists a single output unnested
    outputs = [tensors[tuple(output)] for output in
               ([listed] if isinstance(listed[0], str) else listed)]
    rebuilt = tf.keras.Model(inputs, outputs if len(outputs) > 1 else outputs[0],
                             name=config.get("name", "keras3_model"))
    sample = np.random.default_rng(0).uniform(
        0, 255, (4, *rebuilt.input.shape[1:])).astype(np.float32)
    expected = np.asarray(original(sample, training=False))
    difference = float(np.max(np.abs(rebuilt(sample, training=False).numpy() - expected)))
    tolerance = KERAS3_TOLERANCE * max(1.0, float(np.max(np.abs(expected))))
    if not difference <= tolerance:
        _refuse("path", path, f"its tf.keras rebuild differs from the Keras 3 model by "
                f"{difference:.2g} on random inputs (allowed {tolerance:.2g}); "
                f"{_KERAS3_FIX}")
    log(f"model.path: {path} was saved by Keras 3; rebuilt in tf.keras from its config with "
        f"its weights, outputs equal on 4 random inputs (largest difference {difference:.2g}, "
        f"allowed {tolerance:.2g})")
    return rebuilt


def _batch_shape(input_config):
    return input_config.get("batch_shape") or input_config["batch_input_shape"]


def _with_tensors(structure, tensors):
    """A Keras 3 node's arguments with each serialised tensor replaced by ours."""
    if isinstance(structure, dict) and structure.get("class_name") == "__keras_tensor__":
        return tensors[tuple(structure["config"]["keras_history"])]
    if isinstance(structure, dict):
        return {key: _with_tensors(value, tensors) for key, value in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_with_tensors(item, tensors) for item in structure)
    return structure


def _accepted(cls):
    """The keyword arguments `cls` (a tf.keras layer, initializer, ...) takes."""
    names = {"name", "trainable", "dtype", "activity_regularizer"}
    for klass in inspect.getmro(cls):
        if "__init__" in vars(klass):
            names |= set(inspect.signature(klass.__init__).parameters) - {"self", "kwargs"}
    return names


def _plain(key, value, where):
    """A Keras 3 config value as tf.keras reads it: a dtype policy as its name, a
    serialised initializer, regularizer or constraint as tf.keras' own."""
    if not (isinstance(value, dict) and "class_name" in value and "config" in value):
        return value
    if value["class_name"] in ("DTypePolicy", "DTypePolicyMap"):
        return value["config"]["name"]
    family = next((module for suffix, module in (
        ("initializer", tf.keras.initializers), ("regularizer", tf.keras.regularizers),
        ("constraint", tf.keras.constraints)) if key.endswith(suffix)), None)
    cls = family and getattr(family, value["class_name"], None)
    if cls is None:
        raise errors.ConfigError(f"{where}: {key} is a {value['class_name']} that tf.keras "
                                 f"lacks; {_KERAS3_FIX}")
    return dict(class_name=value["class_name"],
                config=_config_for(cls, value["config"], f"{where} {key}"))


def _config_for(cls, config, where):
    """`config` for tf.keras' `cls`: keys it lacks are dropped where unset (Keras 3's
    lora_rank=None), refused where set."""
    accepted, kept = _accepted(cls), {}
    for key, value in config.items():
        if key in accepted:
            kept[key] = _plain(key, value, where)
        elif value not in (None, False, 0, {}, [], ()):
            raise errors.ConfigError(f"{where}: sets {key}={value!r}, which tf.keras' "
                                     f"{cls.__name__} lacks; {_KERAS3_FIX}")
    return kept


def _tf_keras_layer(entry, path):
    """The tf.keras layer of a Keras 3 layer's config entry."""
    name, class_name = entry["config"]["name"], entry["class_name"]
    cls = getattr(tf.keras.layers, class_name, None)
    if cls is None or not str(entry.get("module", "keras")).startswith("keras"):
        _refuse("path", path, f"layer {name} is a {class_name} ({entry.get('module')}), which "
                f"tf.keras has no built-in layer for; {_KERAS3_FIX}")
    where = f"config.model.path={path}: layer {name} ({class_name})"
    try:
        return cls.from_config(_config_for(cls, entry["config"], where))
    except errors.ConfigError:
        raise
    except (TypeError, ValueError) as error:
        _refuse("path", path, f"layer {name} ({class_name}) cannot be made in tf.keras "
                f"({storage.reason(error)}); {_KERAS3_FIX}")
