#!/usr/bin/env bash
# Build the end-to-end test tools from Go modules at the versions pinned in this folder's go.mod files,
# through the Go module proxy only (no other download), into a cache folder reused by later runs.
#
#   bash tests/e2e/tools/build.sh [CACHE_DIR]        (default: $E2E_CACHE or ~/.cache/peribolos-e2e)
#
# Layout of CACHE_DIR:
#   bin/etcd bin/kube-apiserver           module kube/     (Kubernetes v1.34.4 and the etcd it pins)
#   bin/eventlistenersink bin/interceptors  module triggers/ (Tekton Triggers v0.37.0)
#   bin/peribolos                          module peribolos/ (sigs.k8s.io/prow's cmd/peribolos at a pinned commit)
#   crds/pipeline/*.yaml crds/triggers/*.yaml   CRDs copied from the Pipelines and Triggers modules' config/
#   triggers-config/*.yaml                       Triggers' ConfigMaps, RBAC (200-*, 201-*) and core interceptors
#   kube.key triggers.key peribolos.key                        sha256 of go.mod+go.sum each build came from
# A module is rebuilt only when its go.mod or go.sum changes (or a file above is missing).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${1:-${E2E_CACHE:-$HOME/.cache/peribolos-e2e}}"
# Triggers v0.37.0's go.mod says "go 1.26.4"; Kubernetes v1.34.4 needs less.
GO_MIN="1.26.4"

die() { echo "e2e-tools: $*" >&2; exit 1; }

command -v go >/dev/null 2>&1 \
  || die "Go >= $GO_MIN needed to build the e2e tools, and no 'go' is on PATH (install Go, then run 'make e2e-tools')."
GO_VERSION="$(go env GOVERSION)"          # e.g. go1.26.8
GO_VERSION="${GO_VERSION#go}"
if [ "$(printf '%s\n%s\n' "$GO_MIN" "${GO_VERSION%%[-+ ]*}" | sort -V | head -n1)" != "$GO_MIN" ]; then
  die "Go >= $GO_MIN needed to build the e2e tools, found go$GO_VERSION at $(command -v go)."
fi

# Reproducible, smaller binaries; never switch to another toolchain behind our back.
export GOFLAGS="-trimpath -buildvcs=false -mod=readonly"
export GOTOOLCHAIN=local
export CGO_ENABLED=0
LDFLAGS="-s -w"

mkdir -p "$CACHE/bin" "$CACHE/crds" "$CACHE/triggers-config"
CACHE="$(cd "$CACHE" && pwd)"

module_key() { cat "$HERE/$1/go.mod" "$HERE/$1/go.sum" | sha256sum | cut -d' ' -f1; }

# up_to_date MODULE FILE... : the stamp matches go.mod+go.sum and every listed output exists.
up_to_date() {
  local module="$1"; shift
  [ -f "$CACHE/$module.key" ] && [ "$(cat "$CACHE/$module.key")" = "$(module_key "$module")" ] || return 1
  local f
  for f in "$@"; do [ -s "$CACHE/$f" ] || return 1; done
}

# build MODULE NAME PACKAGE : go build one command of MODULE into bin/NAME, atomically, and time it.
build() {
  local module="$1" name="$2" pkg="$3" start tmp
  start=$(date +%s)
  tmp="$CACHE/bin/.$name.tmp"
  echo "e2e-tools: building $name ($pkg) ..."
  if ! (cd "$HERE/$module" && go build -ldflags="$LDFLAGS" -o "$tmp" "$pkg"); then
    rm -f "$tmp"
    die "building $name from $HERE/$module failed (see the go output above). Needs Go >= $GO_MIN and the Go module proxy (GOPROXY=$(go env GOPROXY))."
  fi
  mv -f "$tmp" "$CACHE/bin/$name"
  echo "e2e-tools: built $name in $(( $(date +%s) - start ))s ($(du -h "$CACHE/bin/$name" | cut -f1))"
}

# module_dir MODULE PATH : where the Go module cache holds PATH at the version MODULE pins (downloads it).
module_dir() {
  local dir
  dir="$(cd "$HERE/$1" && go mod download -json "$2" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -n "$dir" ] && [ -d "$dir" ] || die "could not download module $2 for $1 through the Go module proxy."
  echo "$dir"
}

total_start=$(date +%s)

if up_to_date kube bin/kube-apiserver bin/etcd; then
  echo "e2e-tools: kube-apiserver and etcd are up to date in $CACHE/bin"
else
  rm -f "$CACHE/kube.key"
  build kube kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
  build kube etcd go.etcd.io/etcd/server/v3
  module_key kube > "$CACHE/kube.key"
fi

if up_to_date triggers bin/eventlistenersink bin/interceptors crds/pipeline/300-taskrun.yaml \
    crds/triggers/300-eventlistener.yaml triggers-config/core-interceptors.yaml \
    triggers-config/201-clusterrolebinding.yaml; then
  echo "e2e-tools: Tekton Triggers tools and CRDs are up to date in $CACHE"
else
  rm -f "$CACHE/triggers.key"
  build triggers eventlistenersink github.com/tektoncd/triggers/cmd/eventlistenersink
  build triggers interceptors github.com/tektoncd/triggers/cmd/interceptors
  pipeline_dir="$(module_dir triggers github.com/tektoncd/pipeline)"
  triggers_dir="$(module_dir triggers github.com/tektoncd/triggers)"
  rm -rf "$CACHE/crds/pipeline" "$CACHE/crds/triggers" "$CACHE/triggers-config"
  mkdir -p "$CACHE/crds/pipeline" "$CACHE/crds/triggers" "$CACHE/triggers-config"
  cp "$pipeline_dir"/config/300-crds/300-*.yaml "$CACHE/crds/pipeline/"
  cp "$triggers_dir"/config/300-*.yaml "$CACHE/crds/triggers/"
  cp "$triggers_dir"/config/config-*.yaml "$triggers_dir"/config/20[01]-*.yaml \
    "$triggers_dir"/config/interceptors/*.yaml "$CACHE/triggers-config/"
  chmod -R u+w "$CACHE/crds" "$CACHE/triggers-config"   # the module cache is read-only
  echo "e2e-tools: copied $(ls "$CACHE/crds/pipeline" | wc -l) Pipelines and $(ls "$CACHE/crds/triggers" | wc -l) Triggers CRD files"
  module_key triggers > "$CACHE/triggers.key"
fi

if up_to_date peribolos bin/peribolos; then
  echo "e2e-tools: peribolos is up to date in $CACHE/bin"
else
  rm -f "$CACHE/peribolos.key"
  build peribolos peribolos sigs.k8s.io/prow/cmd/peribolos
  module_key peribolos > "$CACHE/peribolos.key"
fi

echo "e2e-tools: ready in $CACHE after $(( $(date +%s) - total_start ))s; cache $(du -sh "$CACHE" | cut -f1)," \
  "Go module cache $(du -sh "$(go env GOMODCACHE)" 2>/dev/null | cut -f1), Go build cache $(du -sh "$(go env GOCACHE)" 2>/dev/null | cut -f1)"
