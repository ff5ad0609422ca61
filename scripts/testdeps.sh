#!/usr/bin/env bash
# testdeps.sh — install what `make test` needs on a Debian machine, the way
# devdb.sh installs PostGIS for `make run`: PostGIS, GDAL (ogr2ogr/ogrinfo,
# the QGIS-side client), Chromium and a CJK font (the map page), poppler-utils
# (PDF checks). Called by `make test` and `.ci/run`. A missing tool that
# cannot be installed (no apt, no root or sudo) stops here with the package
# named: tests then fail rather than skip (JIEDAO_REQUIRE_TOOLS).
set -euo pipefail
log() { echo "testdeps: $*" >&2; }

need=()
[ -f /usr/share/postgresql/15/extension/postgis.control ] || need+=(postgresql-15-postgis-3)
command -v ogr2ogr >/dev/null 2>&1 && command -v ogrinfo >/dev/null 2>&1 || need+=(gdal-bin)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
fc-list 2>/dev/null | grep -qi "wenquanyi micro hei" || need+=(fonts-wqy-microhei)
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
[ ${#need[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  log "missing: ${need[*]} (Debian packages) and apt-get is not available; install them and re-run"
  exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    log "missing: ${need[*]}; run as root: apt-get install -y ${need[*]}"
    exit 1
  fi
fi
log "installing ${need[*]} with apt..."
$sudo apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
