"""Checks rxon's schemas with Python's jsonschema, as an implementer in another language would use them.

1. The bundled schema (schemas/generated/rxon.bundle.schema.json) and every file of schemas/ are
   valid draft 2020-12 schemas.
2. Every case of conformance/messages.json is accepted or refused as it says, both through the
   bundle (`#/$defs/<Model>`) and through the separate files with their relative `$ref`s.
3. Every JSON block (fenced ```json, or an inline `{...}` code span) of docs/*.md and README.md that is shaped like a protocol message (its members
   are members of a model and include the model's required ones) is valid as that model.
4. With --roundtrip DIR: DIR holds quicktype's Python module (models.py) generated from the bundle;
   every valid message of the models it covers goes through <model>_from_dict and back unchanged.

Prints one line per problem and a summary; exits 1 on any problem.
"""
import glob
import importlib.util
import json
import os
import re
import sys

from jsonschema import Draft202012Validator, FormatChecker

try:  # jsonschema >= 4.18
    from referencing import Registry, Resource
except ImportError:  # older Debian packages: the RefResolver store does the same
    Registry = None

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
problems = []


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


bundle = load(os.path.join(ROOT, "schemas/generated/rxon.bundle.schema.json"))
Draft202012Validator.check_schema(bundle)
files = {}
for path in sorted(glob.glob(os.path.join(ROOT, "schemas/*.schema.json"))):
    schema = load(path)
    Draft202012Validator.check_schema(schema)
    # No $id: each file is known by its name, and relative $refs resolve against it.
    files[schema.get("$id", os.path.basename(path))] = schema
registry = Registry().with_resources((uri, Resource.from_contents(s)) for uri, s in files.items()) if Registry else None
model_ids = {s["title"]: uri for uri, s in files.items() if s.get("type") == "object"}
models = {name: bundle["$defs"][name] for name in model_ids}


def bundle_validator(model):
    return Draft202012Validator({**bundle, "$ref": "#/$defs/" + model}, format_checker=FormatChecker())


def file_validator(model):
    if registry is None:
        from jsonschema import RefResolver

        resolver = RefResolver(base_uri="", referrer={}, store=dict(files))
        return Draft202012Validator({"$ref": model_ids[model]}, resolver=resolver, format_checker=FormatChecker())
    return Draft202012Validator({"$ref": model_ids[model]}, registry=registry, format_checker=FormatChecker())


validators = {m: (bundle_validator(m), file_validator(m)) for m in models}

# 2. conformance/messages.json
cases = load(os.path.join(ROOT, "conformance/messages.json"))["cases"]
for case in cases:
    for how, v in zip(("bundle", "files"), validators[case["model"]]):
        errors = list(v.iter_errors(case["message"]))
        if case["valid"] and errors:
            problems.append(f"messages.json: {case['name']}: refused via {how}: {errors[0].message}")
        if not case["valid"] and not errors:
            problems.append(f"messages.json: {case['name']}: accepted via {how}, but the protocol forbids it ({case.get('why', '')})")
print(f"python jsonschema: {len(cases)} conformance messages checked through the bundle and the separate files")

# 3. docs examples
FENCE = re.compile(r"^```json[^\n]*\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"(?<!`)`(\{[^`\n]*\})`(?!`)")
checked = skipped = 0
for path in sorted(glob.glob(os.path.join(ROOT, "docs/*.md"))) + [os.path.join(ROOT, "README.md")]:
    if not os.path.exists(path):
        continue
    text = open(path, encoding="utf-8").read()
    for m in list(FENCE.finditer(text)) + list(INLINE.finditer(text)):
        line = text.count("\n", 0, m.start()) + 1
        try:
            value = json.loads(m.group(1))
        except ValueError:
            skipped += 1  # JSON with comments or placeholders: an illustration, not a message
            continue
        if not isinstance(value, dict) or not value:
            skipped += 1
            continue
        keys = set(value)
        shaped = [
            name
            for name, schema in models.items()
            if keys <= set(schema.get("properties", {})) and set(schema.get("required", [])) <= keys and schema.get("required")
        ]
        if not shaped:
            skipped += 1
            continue
        checked += 1
        if not any(validators[name][0].is_valid(value) for name in shaped):
            first = next(validators[shaped[0]][0].iter_errors(value))
            where = "/" + "/".join(str(p) for p in first.absolute_path)
            problems.append(f"{os.path.relpath(path, ROOT)}:{line}: example shaped like {' or '.join(shaped)} is invalid at {where}: {first.message}")
print(f"python jsonschema: {checked} docs examples shaped like messages checked ({skipped} other JSON blocks skipped)")

# 4. quicktype round trip
if len(sys.argv) == 3 and sys.argv[1] == "--roundtrip":
    spec = importlib.util.spec_from_file_location("qt_models", os.path.join(sys.argv[2], "models.py"))
    qt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(qt)

    def snake(name):
        return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()

    def strip_nulls(v):
        if isinstance(v, dict):
            return {k: strip_nulls(x) for k, x in v.items() if x is not None}
        if isinstance(v, list):
            return [strip_nulls(x) for x in v]
        return v

    done = 0
    for case in cases:
        if not case["valid"]:
            continue
        name = snake(case["model"])
        from_dict, to_dict = getattr(qt, name + "_from_dict", None), getattr(qt, name + "_to_dict", None)
        if from_dict is None:
            continue
        try:
            back = strip_nulls(to_dict(from_dict(case["message"])))
        except Exception as e:  # noqa: BLE001 - any failure is a finding
            problems.append(f"quicktype round trip: {case['name']}: {type(e).__name__}: {e}")
            continue
        if back != case["message"]:
            problems.append(f"quicktype round trip: {case['name']}: came back different: {json.dumps(back, sort_keys=True)[:300]}")
        done += 1
    if done == 0:
        problems.append("quicktype round trip: no message went through (no <model>_from_dict in models.py?)")
    print(f"quicktype (python): {done} valid messages went through from_dict and to_dict unchanged")

for p in problems:
    print("FAIL " + p)
sys.exit(1 if problems else 0)
