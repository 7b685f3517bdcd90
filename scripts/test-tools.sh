#!/bin/sh
# Install what the test suite needs from outside Python, where it is missing:
# Prometheus and promtool (the metrics and deploy tests run a real Prometheus) and, on Linux,
# bubblewrap (the sandbox that calibration runs model-written code in).
# Debian/Ubuntu as root: apt-get; macOS: Homebrew; otherwise one line saying what to install.
set -eu

missing=""
command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 \
    || missing="prometheus"
if [ "$(uname -s)" = "Linux" ] && ! command -v bwrap >/dev/null 2>&1; then
    missing="$missing bubblewrap"
fi
missing=$(echo "$missing" | sed 's/^ *//')
[ -z "$missing" ] && exit 0

case "$(uname -s)" in
Linux)
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "installing $missing (apt-get)"
        apt-get update -qq
        # shellcheck disable=SC2086 # one word per package
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            $missing >/dev/null
        exit 0
    fi
    ;;
Darwin)
    if command -v brew >/dev/null 2>&1; then
        echo "installing prometheus (brew)"
        brew install --quiet prometheus
        exit 0
    fi
    ;;
esac
echo "make test needs $missing: install it with your package manager (e.g. sudo apt-get install $missing) and run make test again" >&2
exit 1
