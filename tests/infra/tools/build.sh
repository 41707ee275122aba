#!/usr/bin/env bash
# Build the test cluster's tools from Go modules at the versions pinned in this folder's go.mod files,
# through the Go module proxy only, into a cache folder reused by later runs. (The node's Debian packages
# come from debian-packages.sh, its images from images.py.)
#
#   bash tests/infra/tools/build.sh [CACHE_DIR]        (default: $E2E_CACHE or ~/.cache/peribolos-e2e)
#
# Layout of CACHE_DIR:
#   bin/{etcd,kube-apiserver,kube-controller-manager,kube-scheduler,kubelet,kube-proxy,kubectl}
#                                            module kube/      Kubernetes v1.34.4 (+ its etcd), versioned
#   bin/tekton-{controller,webhook,entrypoint,nop,workingdirinit,sidecarlogresults}
#                                            module pipeline/  Tekton Pipelines v1.15.0
#   bin/triggers-{controller,webhook}, bin/eventlistenersink, bin/interceptors
#                                            module triggers/  Tekton Triggers v0.37.0
#   bin/coredns                              module coredns/   CoreDNS v1.12.1 (kubeadm's for v1.34)
#   bin/peribolos                            module peribolos/ sigs.k8s.io/prow's cmd/peribolos
#   bin/pause                                module pause/     the Pod sandbox process
#   release/pipeline/ release/triggers/      the modules' own config/ folders (their release config)
#   crds/pipeline/*.yaml crds/triggers/*.yaml   CRDs from those folders
#   triggers-config/*.yaml                   Triggers' ConfigMaps, RBAC and core interceptors
#   <module>.key                             sha256 of go.mod+go.sum+*.go each module's build came from
# A module is rebuilt only when one of those files changes (or one of its outputs is missing).
# Images (tests/infra/tools/images.py) are made from these binaries by `make cluster-images`.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${1:-${E2E_CACHE:-$HOME/.cache/peribolos-e2e}}"
# Triggers v0.37.0's and Pipelines v1.15.0's go.mod say "go 1.26.4"; Kubernetes v1.34.4 needs less.
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

mkdir -p "$CACHE/bin" "$CACHE/crds" "$CACHE/triggers-config" "$CACHE/release"
CACHE="$(cd "$CACHE" && pwd)"

# module_key MODULE : sha256 over its go.mod, go.sum and Go files (a main.go of ours is part of the build).
module_key() {
  (cd "$HERE/$1" && cat go.mod go.sum $(LC_ALL=C ls -- *.go 2>/dev/null)) | sha256sum | cut -d' ' -f1
}

# up_to_date MODULE FILE... : the stamp matches go.mod+go.sum and every listed output exists.
up_to_date() {
  local module="$1"; shift
  [ -f "$CACHE/$module.key" ] && [ "$(cat "$CACHE/$module.key")" = "$(module_key "$module")" ] || return 1
  local f
  for f in "$@"; do [ -s "$CACHE/$f" ] || return 1; done
}

# build MODULE NAME PACKAGE [LDFLAGS] : go build one command of MODULE into bin/NAME, atomically, timed.
build() {
  local module="$1" name="$2" pkg="$3" ldflags="${4:-$LDFLAGS}" start tmp
  start=$(date +%s)
  tmp="$CACHE/bin/.$name.tmp"
  echo "e2e-tools: building $name ($pkg) ..."
  if ! (cd "$HERE/$module" && go build -ldflags="$ldflags" -o "$tmp" "$pkg"); then
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

# module_version MODULE PATH : the version MODULE's go.mod requires of PATH (read, not resolved).
module_version() {
  sed -n "s|^[[:space:]]*\(require[[:space:]]*\)\{0,1\}$2 \(v[^[:space:]]*\).*|\2|p" "$HERE/$1/go.mod" | head -n1
}

# copy_release NAME DIR : a writable copy of a module's config/ folder (the module cache is read-only).
copy_release() {
  rm -rf "$CACHE/release/$1"
  cp -r "$2/config" "$CACHE/release/$1"
  chmod -R u+w "$CACHE/release/$1"
}

total_start=$(date +%s)

# --- Kubernetes ----------------------------------------------------------------------------------------

KUBE_BINS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
if up_to_date kube "${KUBE_BINS[@]/#/bin/}" bin/etcd; then
  echo "e2e-tools: Kubernetes and etcd are up to date in $CACHE/bin"
else
  rm -f "$CACHE/kube.key"
  kube_version="$(module_version kube k8s.io/kubernetes)"       # v1.34.4
  [ -n "$kube_version" ] || die "no k8s.io/kubernetes version in $HERE/kube/go.mod"
  minor="${kube_version#v*.}"; minor="${minor%%.*}"
  # Unversioned, the binaries report v0.0.0-master+$Format:%H$, which kubectl and Tekton's
  # KUBERNETES_MIN_VERSION check cannot parse.
  kube_ldflags="$LDFLAGS -X k8s.io/component-base/version.gitVersion=$kube_version"
  kube_ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  kube_ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
  kube_ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=$kube_version"
  for name in "${KUBE_BINS[@]}"; do
    build kube "$name" "k8s.io/kubernetes/cmd/$name" "$kube_ldflags"
  done
  build kube etcd go.etcd.io/etcd/server/v3
  module_key kube > "$CACHE/kube.key"
fi

# --- Tekton Pipelines ------------------------------------------------------------------------------------

PIPELINE_CMDS=(controller webhook entrypoint nop workingdirinit sidecarlogresults)
if up_to_date pipeline "${PIPELINE_CMDS[@]/#/bin/tekton-}" release/pipeline/controller.yaml \
    crds/pipeline/300-taskrun.yaml; then
  echo "e2e-tools: Tekton Pipelines is up to date in $CACHE"
else
  rm -f "$CACHE/pipeline.key"
  for cmd in "${PIPELINE_CMDS[@]}"; do
    build pipeline "tekton-$cmd" "github.com/tektoncd/pipeline/cmd/$cmd"
  done
  pipeline_dir="$(module_dir pipeline github.com/tektoncd/pipeline)"
  copy_release pipeline "$pipeline_dir"
  rm -rf "$CACHE/crds/pipeline" && mkdir -p "$CACHE/crds/pipeline"
  cp "$CACHE"/release/pipeline/300-crds/300-*.yaml "$CACHE/crds/pipeline/"
  module_key pipeline > "$CACHE/pipeline.key"
fi

# --- Tekton Triggers -------------------------------------------------------------------------------------

if up_to_date triggers bin/triggers-controller bin/triggers-webhook bin/eventlistenersink bin/interceptors \
    release/triggers/controller.yaml crds/triggers/300-eventlistener.yaml \
    triggers-config/core-interceptors.yaml triggers-config/201-clusterrolebinding.yaml; then
  echo "e2e-tools: Tekton Triggers is up to date in $CACHE"
else
  rm -f "$CACHE/triggers.key"
  build triggers triggers-controller github.com/tektoncd/triggers/cmd/controller
  build triggers triggers-webhook github.com/tektoncd/triggers/cmd/webhook
  build triggers eventlistenersink github.com/tektoncd/triggers/cmd/eventlistenersink
  build triggers interceptors github.com/tektoncd/triggers/cmd/interceptors
  triggers_dir="$(module_dir triggers github.com/tektoncd/triggers)"
  copy_release triggers "$triggers_dir"
  rm -rf "$CACHE/crds/triggers" "$CACHE/triggers-config"
  mkdir -p "$CACHE/crds/triggers" "$CACHE/triggers-config"
  cp "$CACHE"/release/triggers/300-*.yaml "$CACHE/crds/triggers/"
  cp "$CACHE"/release/triggers/config-*.yaml "$CACHE"/release/triggers/20[01]-*.yaml \
    "$CACHE"/release/triggers/interceptors/*.yaml "$CACHE/triggers-config/"
  module_key triggers > "$CACHE/triggers.key"
fi

# --- CoreDNS, peribolos, pause ------------------------------------------------------------------------

if up_to_date coredns bin/coredns; then
  echo "e2e-tools: CoreDNS is up to date in $CACHE/bin"
else
  rm -f "$CACHE/coredns.key"
  build coredns coredns .
  module_key coredns > "$CACHE/coredns.key"
fi

if up_to_date peribolos bin/peribolos; then
  echo "e2e-tools: peribolos is up to date in $CACHE/bin"
else
  rm -f "$CACHE/peribolos.key"
  build peribolos peribolos sigs.k8s.io/prow/cmd/peribolos
  module_key peribolos > "$CACHE/peribolos.key"
fi

if up_to_date pause bin/pause; then
  echo "e2e-tools: pause is up to date in $CACHE/bin"
else
  rm -f "$CACHE/pause.key"
  build pause pause .
  module_key pause > "$CACHE/pause.key"
fi

echo "e2e-tools: ready in $CACHE after $(( $(date +%s) - total_start ))s; cache $(du -sh "$CACHE" | cut -f1)," \
  "Go module cache $(du -sh "$(go env GOMODCACHE)" 2>/dev/null | cut -f1), Go build cache $(du -sh "$(go env GOCACHE)" 2>/dev/null | cut -f1)"
