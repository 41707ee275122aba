#!/usr/bin/env bash
# Run a command in a network namespace of its own, with only loopback up.
#
# Tekton Triggers hard-codes the addresses its EventListener sink and core interceptors listen on (":PORT",
# ":8443"), so on the host they would listen on every interface. Inside this namespace nothing the tests
# start is reachable from outside the machine, and two runs on one machine do not fight over port 8443.
# E2E_NETNS=0 runs the command as it is (e.g. to attach a debugger from the host).
set -euo pipefail
if [ "${E2E_NETNS:-1}" != "0" ] && command -v unshare >/dev/null 2>&1 && command -v ip >/dev/null 2>&1 \
    && unshare --net true 2>/dev/null; then
  exec unshare --net sh -c 'ip link set lo up && exec "$@"' sh "$@"
fi
if [ "${E2E_NETNS:-1}" != "0" ]; then
  echo "isolated-net: cannot create a network namespace here (unshare --net needs root or CAP_SYS_ADMIN," \
    "and iproute2's ip); running without one, so the Triggers sink and core interceptors listen on all" \
    "interfaces while the tests run." >&2
fi
exec "$@"
