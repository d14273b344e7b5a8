#!/usr/bin/env bash
# Builds the local Kubernetes cluster's binaries — etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl and kwok — from the Go
# module proxy into a cache folder keyed by the pinned versions, and prints
# that folder's bin directory as the last line of stdout. Progress goes to
# stderr. See docs/local-cluster.md.
#
#   FERRY_KUBE_BIN=$(bash hack/kube/build.sh | tail -n 1)
#
# Versions: Kubernetes and etcd are pinned in hack/kube/go.mod, kwok below.
# The cache folder is
#   ${XDG_CACHE_HOME:-$HOME/.cache}/ferry/kube/<k8s-version>-kwok<kwok-version>
# unless FERRY_KUBE_CACHE names another one. The first build takes about
# 15 minutes on 2 cores; later runs find the stamp file and return at once.
# A build that did not finish leaves no stamp, so the next run redoes it.
# FERRY_KUBE_BUILD_JOBS sets go build's -p (default: the number of CPUs,
# at most 4, which keeps the linker's memory in check).
set -euo pipefail

KWOK_VERSION=v0.8.0

here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
export GOWORK=off GOFLAGS=

mod_version() { awk -v m="$1" '$1 == "require" { $1 = ""; $0 = $0 } $1 == m && $2 ~ /^v/ { print $2; exit }' go.mod; }
K8S_VERSION="$(mod_version k8s.io/kubernetes)"
ETCD_VERSION="$(mod_version go.etcd.io/etcd/server/v3)"
[ -n "$K8S_VERSION" ] && [ -n "$ETCD_VERSION" ] || { echo "hack/kube/go.mod: cannot read the pinned versions" >&2; exit 1; }

cache="${FERRY_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry/kube/${K8S_VERSION}-kwok${KWOK_VERSION}}"
bin="$cache/bin"
stamp="$cache/stamp"
mkdir -p "$cache"

# The stamp holds a hash of every input, so editing go.mod or this script
# rebuilds while a plain second run does nothing.
inputs="$(cat go.mod go.sum build.sh etcd/main.go; go env GOVERSION GOOS GOARCH; echo "$KWOK_VERSION")"
want="$(printf '%s' "$inputs" | sha256sum | cut -d' ' -f1)"
binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok)

built() {
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] || return 1
  for b in "${binaries[@]}"; do [ -x "$bin/$b" ] || return 1; done
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
jobs="${FERRY_KUBE_BUILD_JOBS:-$(nproc)}"
[ "$jobs" -le 4 ] || jobs=4
mkdir -p "$bin"
echo "== building Kubernetes $K8S_VERSION, etcd $ETCD_VERSION and kwok $KWOK_VERSION into $cache (about 15 minutes the first time)" >&2

minor="${K8S_VERSION#v}"; major="${minor%%.*}"; minor="${minor#*.}"; minor="${minor%%.*}"
build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
ldflags="-s -w"
# The same variables Kubernetes' hack/lib/version.sh sets, so that
# `kubectl version` and /version report the real release.
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done

echo "== go build etcd kube-apiserver kube-controller-manager kube-scheduler kubectl (-p $jobs)" >&2
go build -trimpath -p "$jobs" -ldflags "$ldflags" -o "$bin/" \
  ./etcd \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kubectl >&2

# kwok pins its own client-go and does not build inside Kubernetes' module
# graph, so it is installed on its own, outside any module.
echo "== go install sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" >&2
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && GOBIN="$bin" go install -trimpath -p "$jobs" -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION") >&2

# kwok's "fast" stages: nodes become Ready and keep a lease; pods become
# Ready, complete and go away on delete without running anything.
kwok_dir="$(cd "$tmp" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | awk -F'"' '$2 == "Dir" { print $4 }')"
stages="$cache/stages"
rm -rf "$stages"
mkdir -p "$stages"
for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
  pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
  cp "$kwok_dir/kustomize/stage/$f" "$stages/"
done
chmod -R u+w "$stages"

took=$(( $(date +%s) - start ))
cat >"$cache/build.txt" <<EOF
kubernetes_version=$K8S_VERSION
etcd_version=$ETCD_VERSION
kwok_version=$KWOK_VERSION
go_version=$(go env GOVERSION)
build_seconds=$took
built_at=$build_date
EOF
echo "$want" >"$stamp.tmp"
mv "$stamp.tmp" "$stamp"
echo "== done in ${took}s" >&2
echo "$bin"
