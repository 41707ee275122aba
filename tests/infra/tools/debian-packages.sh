#!/usr/bin/env bash
# Install the Debian packages the test cluster's node runs, when any is missing (needs root and apt-get):
# containerd, runc and the CNI plugins (the container runtime), iptables and conntrack (kube-proxy),
# podman and debootstrap (the project's image, built from its Dockerfile on a Debian base made here),
# busybox-static (Tekton's shell image), util-linux and iproute2 (namespaces, the node's bridge).
#
#   bash tests/infra/tools/debian-packages.sh [--check]    (--check: only say what is missing, exit 1 if any)
set -euo pipefail

DEBIAN_PACKAGES=(containerd runc containernetworking-plugins iptables conntrack podman debootstrap
  busybox-static util-linux iproute2)

die() { echo "debian-packages: $*" >&2; exit 1; }

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
[ "${#missing[@]}" -eq 0 ] && { echo "debian-packages: all of ${DEBIAN_PACKAGES[*]} are installed"; exit 0; }
[ "${1:-}" = "--check" ] && die "missing Debian packages: ${missing[*]} (run 'make cluster-tools' as root)"
command -v apt-get >/dev/null 2>&1 \
  || die "the test cluster needs the Debian packages ${missing[*]}, and there is no apt-get here."
[ "$(id -u)" = 0 ] || die "the test cluster needs the Debian packages ${missing[*]}: run 'sudo apt-get install ${missing[*]}'."

echo "debian-packages: installing ${missing[*]} ..."
start=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
# A policy-rc.d that answers 101 keeps the packages from starting services (containerd) on the host.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT
apt-get update -qq || die "apt-get update failed (see above): Debian's package mirror must be reachable."
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
  || die "apt-get install ${missing[*]} failed (see above)."
echo "debian-packages: installed ${missing[*]} in $(( $(date +%s) - start ))s"
