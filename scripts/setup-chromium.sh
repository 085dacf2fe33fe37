#!/bin/sh
# Makes headless Chromium available for the HTML report test (cmd's
# TestReportFromRealResults renders the report and takes a screenshot).
# Idempotent: nothing is done when chromium (or $SHRINK_CHROMIUM) is
# there. Otherwise, as root with apt-get (CI, a fresh Debian machine), it
# installs Debian's chromium and fonts-liberation quietly; anyone else is
# told the command to run.
set -eu
if [ -n "${SHRINK_CHROMIUM:-}" ] && [ -x "$SHRINK_CHROMIUM" ]; then
	exit 0
fi
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
	exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "setup-chromium: apt-get install chromium fonts-liberation" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
	exit 0
fi
echo "setup-chromium: the HTML report test needs headless Chromium: sudo apt-get install chromium fonts-liberation (or set SHRINK_CHROMIUM)" >&2
exit 1
