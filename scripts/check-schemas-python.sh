#!/usr/bin/env bash
# Checks the schemas as implementers in other languages use them: Python's jsonschema on the
# conformance messages and the docs' message examples (scripts/check_schemas.py), and a quicktype
# round trip of the valid messages through Python classes generated from the bundled schema.
# In CI (CI=true) python3-jsonschema is installed with apt-get when missing and every step must
# run; locally a missing python3-jsonschema or an unreachable npm registry skips with a notice.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICKTYPE="quicktype@23.2.6"

# The first python3 that imports jsonschema: the one on PATH (which may be a pyenv or venv
# interpreter), else Debian's, where apt-get installs python3-jsonschema. test/schemas/python.test.ts
# looks in the same places.
find_python() {
  local p
  for p in python3 /usr/bin/python3; do
    if "$p" -c 'import jsonschema' >/dev/null 2>&1; then echo "$p"; return 0; fi
  done
  return 1
}
if ! PY="$(find_python)"; then
  if [ "${CI:-}" = "true" ]; then
    (apt-get update -qq && apt-get install -y -qq python3-jsonschema) >/dev/null
    PY="$(find_python)" || { echo "check-schemas-python: python3-jsonschema is installed, yet neither python3 nor /usr/bin/python3 imports jsonschema" >&2; exit 1; }
  else
    echo "check-schemas-python: python3-jsonschema is not installed; skipped (apt-get install python3-jsonschema)"
    exit 0
  fi
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bundle="schemas/generated/rxon.bundle.schema.json"
models=(TaskPayload TaskResult Heartbeat WorkerRegistration WorkerEventPayload WorkerCommand HeartbeatResponse ResultResponse EventResponse TokenResponse)
srcs=()
for m in "${models[@]}"; do srcs+=("$bundle#/\$defs/$m"); done

# Go types from the separate files and from the bundle must be the same set, each type once:
# $ids that differ from where a file is loaded made quicktype declare referenced types twice.
go_types() { grep -E '^type [A-Za-z0-9]+ struct' "$1" | awk '{print $2}' | sort; }
model_files=()
for f in schemas/*.schema.json; do
  case "$f" in */constants.schema.json|*/common.schema.json) ;; *) model_files+=("$f") ;; esac
done
bundle_models=()
for m in $("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(" ".join(k for k, v in d["$defs"].items() if v.get("type") == "object"))' "$bundle"); do
  bundle_models+=("$bundle#/\$defs/$m")
done
if npx --yes "$QUICKTYPE" --lang go --src-lang schema -o "$work/files.go" "${model_files[@]}" >"$work/quicktype-go.log" 2>&1 &&
  npx --yes "$QUICKTYPE" --lang go --src-lang schema -o "$work/bundle.go" "${bundle_models[@]}" >>"$work/quicktype-go.log" 2>&1; then
  if ! diff <(go_types "$work/files.go") <(go_types "$work/bundle.go") >"$work/go-types.diff"; then
    echo "check-schemas-python: quicktype declares different Go types from the separate files than from the bundle:" >&2
    cat "$work/go-types.diff" >&2
    exit 1
  fi
  echo "quicktype (go): $(go_types "$work/files.go" | wc -l) structs from ${#model_files[@]} model files, the same as from the bundle"
fi

if npx --yes "$QUICKTYPE" --lang python --python-version 3.7 --src-lang schema -o "$work/models.py" "${srcs[@]}" >"$work/quicktype.log" 2>&1; then
  "$PY" scripts/check_schemas.py --roundtrip "$work"
else
  if [ "${CI:-}" = "true" ]; then
    echo "check-schemas-python: quicktype failed:" >&2
    cat "$work/quicktype.log" >&2
    exit 1
  fi
  echo "check-schemas-python: quicktype could not run (offline?); round trip skipped"
  "$PY" scripts/check_schemas.py
fi

# Optional (large downloads): the official validators of the two API documents.
if [ "${RXON_LINT_API_DOCS:-}" = "1" ]; then
  npx --yes @redocly/cli@1.34.5 lint schemas/generated/openapi.json
  npx --yes @asyncapi/cli@2 validate schemas/generated/asyncapi.json
fi
