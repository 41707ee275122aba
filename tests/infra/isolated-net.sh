#!/usr/bin/env bash
# Run a command in a network namespace of its own, with only loopback up.
#
# The test cluster lives inside it (its node's bridge, Pods, Services, the fake GitHub), and so do Tekton
# Triggers' processes, which listen on every interface of their namespace: nothing the tests start is
# reachable from, or sends to, any address outside it, and two runs on one machine never collide.
# E2E_HOST_NETNS records the host's namespace, so the cluster can refuse to start on the host itself.
# E2E_NETNS=0 runs the command as it is (e.g. to attach a debugger); the cluster tests then fail.
set -euo pipefail
E2E_HOST_NETNS="$(stat -L -c %i /proc/self/ns/net 2>/dev/null || echo unknown)"
export E2E_HOST_NETNS
if [ "${E2E_NETNS:-1}" != "0" ] && command -v unshare >/dev/null 2>&1 && command -v ip >/dev/null 2>&1 \
    && unshare --net true 2>/dev/null; then
  exec unshare --net sh -c 'ip link set lo up && exec "$@"' sh "$@"
fi
if [ "${E2E_NETNS:-1}" != "0" ]; then
  echo "isolated-net: cannot create a network namespace here (unshare --net needs root or CAP_SYS_ADMIN," \
    "and iproute2's ip); running without one: the tests that need the cluster will fail." >&2
fi
exec "$@"
