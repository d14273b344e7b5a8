#!/usr/bin/env bash
# Builds the MinIO server the filestore's s3:// tests run against, from the
# Go module proxy, into a cache folder keyed by the pinned version, and
# prints that folder's bin directory as the last line of stdout. Progress
# goes to stderr. See docs/minio.md.
#
#   FERRY_MINIO_BIN=$(bash hack/minio/build.sh | tail -n 1)
#
# Version: github.com/minio/minio is pinned in hack/minio/go.mod (a
# pseudo-version: MinIO publishes no module-compatible tags). The cache
# folder is
#   ${XDG_CACHE_HOME:-$HOME/.cache}/ferry/minio/<version>
# unless FERRY_MINIO_CACHE names another one. The first build takes a few
# minutes on 2 cores; later runs find the stamp file and return at once.
# A build that did not finish leaves no stamp, so the next run redoes it.
# FERRY_MINIO_BUILD_JOBS sets go build's -p (default: the number of CPUs,
# at most 4, which keeps the linker's memory in check).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
export GOWORK=off GOFLAGS=

mod_version() { awk -v m="$1" '$1 == "require" { $1 = ""; $0 = $0 } $1 == m && $2 ~ /^v/ { print $2; exit }' go.mod; }
MINIO_VERSION="$(mod_version github.com/minio/minio)"
[ -n "$MINIO_VERSION" ] || { echo "hack/minio/go.mod: cannot read the pinned version" >&2; exit 1; }

cache="${FERRY_MINIO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry/minio/${MINIO_VERSION}}"
bin="$cache/bin"
stamp="$cache/stamp"
mkdir -p "$cache"

# The stamp holds a hash of every input, so editing go.mod or this script
# rebuilds while a plain second run does nothing.
inputs="$(cat go.mod go.sum build.sh; go env GOVERSION GOOS GOARCH)"
want="$(printf '%s' "$inputs" | sha256sum | cut -d' ' -f1)"

built() {
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$bin/minio" ]
}

if built; then
  echo "$bin"
  exit 0
fi

# One build at a time per cache folder; whoever waited finds the stamp.
exec 9>"$cache/.lock"
if ! flock -n 9; then
  echo "== waiting for another build into $cache" >&2
  flock 9
fi
if built; then
  echo "$bin"
  exit 0
fi

rm -f "$stamp"
start=$(date +%s)
jobs="${FERRY_MINIO_BUILD_JOBS:-$(nproc)}"
[ "$jobs" -le 4 ] || jobs=4
mkdir -p "$bin"
echo "== building MinIO $MINIO_VERSION into $cache (a few minutes the first time)" >&2

# The variables MinIO's buildscripts/gen-ldflags.go sets, derived from the
# pseudo-version (vX.Y.Z-<yyyymmddhhmmss>-<12-hex commit>), so that
# `minio --version` names the commit it was built from. The DEVELOPMENT
# prefix keeps MinIO from looking for updates.
pseudo="${MINIO_VERSION##*-}"
stamp_time="${MINIO_VERSION%-*}"; stamp_time="${stamp_time##*-}"; stamp_time="${stamp_time##*.}"
[[ "$stamp_time" =~ ^[0-9]{14}$ && "$pseudo" =~ ^[0-9a-f]{12}$ ]] || { echo "hack/minio/go.mod: $MINIO_VERSION is not a pseudo-version" >&2; exit 1; }
y=${stamp_time:0:4} mo=${stamp_time:4:2} d=${stamp_time:6:2} h=${stamp_time:8:2} mi=${stamp_time:10:2} s=${stamp_time:12:2}
pkg=github.com/minio/minio/cmd
ldflags="-s -w"
ldflags+=" -X $pkg.Version=$y-$mo-${d}T$h:$mi:${s}Z"
ldflags+=" -X $pkg.ReleaseTag=DEVELOPMENT.$y-$mo-${d}T$h-$mi-${s}Z"
ldflags+=" -X $pkg.CommitID=$pseudo -X $pkg.ShortCommitID=$pseudo -X $pkg.CopyrightYear=$y"

# As MinIO's Makefile builds its releases: no cgo, the kqueue tag.
echo "== go build github.com/minio/minio (-p $jobs)" >&2
CGO_ENABLED=0 go build -trimpath -tags kqueue -p "$jobs" -ldflags "$ldflags" \
  -o "$bin/minio.tmp" github.com/minio/minio >&2
mv "$bin/minio.tmp" "$bin/minio"

took=$(( $(date +%s) - start ))
cat >"$cache/build.txt" <<EOF
minio_version=$MINIO_VERSION
go_version=$(go env GOVERSION)
build_seconds=$took
built_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
EOF
echo "$want" >"$stamp.tmp"
mv "$stamp.tmp" "$stamp"
echo "== done in ${took}s" >&2
echo "$bin"
