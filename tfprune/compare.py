"""python -m tfprune.compare OLD/results.json NEW/results.json

Compares two results.json files metric by metric: every number, name and list of the
old file must be in the new one, equal (timings excepted: they differ between otherwise
identical runs). Keys only the new file has are listed apart, as additions; exit code 1
when a metric differs or is missing. Use it to check that a tfprune upgrade, a refactor
or another machine reproduces a run.

Schema 1 wrote copies of `export.float32` as `tflite` (parent, cycles) and
`tflite_prune_potential` (methods); they are compared as those entries, not as missing.
"""
import sys

from absl import app

from tfprune import storage

# Keys whose values are timings.
TIMING_WORDS = ("seconds", "_ms", "latency", "speedup")
# Copies of export.float32 that schema 1 wrote first: (key, its source within the same object).
_COPIES = {"tflite": ("export", "float32"),
           "tflite_prune_potential": ("export", "float32", "prune_potential")}


def _timing(key):
    return any(word in key for word in TIMING_WORDS)


def _copied(new, key):
    """The value `key` (a schema-1 copy) had, read from its source in `new`, or None."""
    value = new
    for part in _COPIES[key]:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def differences(old, new, path=""):
    """(differing or missing metrics, keys only `new` has) between two results trees."""
    if isinstance(old, dict) and isinstance(new, dict):
        changed, added = [], [f"{path}/{key}" for key in new if key not in old]
        for key, value in old.items():
            if _timing(key):
                continue
            if key in new:
                found = new[key]
            elif key in _COPIES and (value is None or _copied(new, key) is not None):
                found = _copied(new, key)
            else:
                changed.append(f"{path}/{key}: missing")
                continue
            below = differences(value, found, f"{path}/{key}")
            changed += below[0]
            if key in new:  # a copy's additions are its source's, listed there
                added += below[1]
        return changed, added
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return [f"{path}: lengths {len(old)} != {len(new)}"], []
        parts = [differences(a, b, f"{path}[{i}]") for i, (a, b) in enumerate(zip(old, new))]
        return [d for p in parts for d in p[0]], [d for p in parts for d in p[1]]
    return ([] if old == new else [f"{path}: {old!r} != {new!r}"]), []


def _refuse(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def main(argv):
    """No TensorFlow import: comparing two JSON files takes a moment."""
    if len(argv) != 3:
        _refuse("name two files: python -m tfprune.compare OLD/results.json NEW/results.json")
    try:
        old, new = (storage.read_json(path) for path in argv[1:])
    except (OSError, ValueError) as error:
        _refuse(f"cannot read a results.json ({error}); pass the results.json of two runs")
    changed, added = differences(old, new)
    for line in added:
        print(f"added: {line}")
    for line in changed:
        print(f"differs: {line}")
    print(f"{len(changed)} metrics differ or are missing; {len(added)} keys added")
    sys.exit(1 if changed else 0)


if __name__ == "__main__":
    app.run(main)
