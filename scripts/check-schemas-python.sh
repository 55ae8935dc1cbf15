#!/usr/bin/env bash
# Checks the schemas as implementers in other languages use them: Python's jsonschema on the
# conformance messages and the docs' message examples (scripts/check_schemas.py), and a quicktype
# round trip of the valid messages through Python classes generated from the bundled schema.
# In CI (CI=true) python3-jsonschema is installed with apt-get when missing and every step must
# run; locally a missing python3-jsonschema or an unreachable npm registry skips with a notice.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICKTYPE="quicktype@23.2.6"

if ! python3 -c 'import jsonschema, referencing' >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    (apt-get update -qq && apt-get install -y -qq python3-jsonschema) >/dev/null
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

if npx --yes "$QUICKTYPE" --lang python --python-version 3.7 --src-lang schema -o "$work/models.py" "${srcs[@]}" >"$work/quicktype.log" 2>&1; then
  python3 scripts/check_schemas.py --roundtrip "$work"
else
  if [ "${CI:-}" = "true" ]; then
    echo "check-schemas-python: quicktype failed:" >&2
    cat "$work/quicktype.log" >&2
    exit 1
  fi
  echo "check-schemas-python: quicktype could not run (offline?); round trip skipped"
  python3 scripts/check_schemas.py
fi
