"""The node: containerd and the kubelet, inside namespaces of their own.

``Cluster`` starts this module as ``unshare --pid --fork --kill-child --mount --propagation private
--mount-proc python -m tests.infra.node CONFIG``, inside the network namespace the test run made. So:

- it is PID 1 of a new PID namespace: when it exits or is killed, the kernel kills every process left in
  it (containerd's shims, every container), and ``--kill-child`` kills it when ``unshare`` dies — nothing
  the node started outlives the test run;
- its mounts are private: a tmpfs on ``/run`` (containerd's state and shim sockets, Pod network
  namespaces), the run's own folder over ``/var`` (the kubelet hard-codes ``/var/lib/kubelet`` parts and
  ``/var/log/pods``), regular files over the six ``/proc/sys`` files the kubelet wants set (with
  ``protectKernelDefaults: true`` it only reads them), and every volume and overlay mount the kubelet and
  containerd make: all gone with the namespace, none ever on the host.

It imports the images into containerd, starts the kubelet, writes ``ready`` and waits; on SIGTERM it
stops the kubelet and containerd and exits. Its own log lines go to stdout.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KUBELET_SYSCTLS = {
    "vm/overcommit_memory": "1",
    "vm/panic_on_oom": "0",
    "kernel/panic": "10",
    "kernel/panic_on_oops": "1",
    "kernel/keys/root_maxkeys": "1000000",
    "kernel/keys/root_maxbytes": "25000000",
}
"""What the kubelet's setupKernelTunables wants (pkg/kubelet/cm/container_manager_linux.go)."""


class Stop(Exception):
    """SIGTERM or SIGINT arrived."""


def log(message: str, **fields: Any) -> None:
    extra = " ".join(f"{k}={v}" for k, v in fields.items())
    print(f"{time.strftime('%H:%M:%S')} node: {message} {extra}".rstrip(), flush=True)


def sh(*args: str) -> None:
    subprocess.run(list(args), check=True)


@dataclass(frozen=True)
class NodeConfig:
    workdir: Path
    containerd: str
    containerd_config: Path
    containerd_socket: Path
    ctr: str
    kubelet: str
    kubelet_args: list[str]
    images: list[str]
    """Image archives to import into containerd's ``k8s.io`` namespace before the kubelet starts."""

    @classmethod
    def load(cls, path: Path) -> NodeConfig:
        data = json.loads(path.read_text())
        return cls(
            workdir=Path(data["workdir"]),
            containerd=data["containerd"],
            containerd_config=Path(data["containerd_config"]),
            containerd_socket=Path(data["containerd_socket"]),
            ctr=data["ctr"],
            kubelet=data["kubelet"],
            kubelet_args=list(data["kubelet_args"]),
            images=list(data["images"]),
        )


def private_mounts(config: NodeConfig) -> None:
    """tmpfs /run, the run's folder over /var, the kubelet's sysctls shielded."""
    sh("mount", "-t", "tmpfs", "-o", "mode=755,nosuid,nodev", "tmpfs", "/run")
    for sub in ("lock", "containerd", "netns"):
        Path("/run", sub).mkdir(parents=True, exist_ok=True)
    var = config.workdir / "var"
    for sub in ("lib", "log", "tmp", "cache"):
        (var / sub).mkdir(parents=True, exist_ok=True)
    (var / "tmp").chmod(0o1777)
    for name, target in (("run", "/run"), ("lock", "/run/lock")):
        link = var / name
        if not link.is_symlink():
            link.symlink_to(target)
    sh("mount", "--bind", str(var), "/var")
    shields = config.workdir / "sysctl-shields"
    shields.mkdir(exist_ok=True)
    for key, value in KUBELET_SYSCTLS.items():
        shield = shields / key.replace("/", ".")
        shield.write_text(value + "\n")
        sh("mount", "--bind", str(shield), f"/proc/sys/{key}")


def start(args: list[str], log_name: str, config: NodeConfig) -> subprocess.Popen[bytes]:
    logfile = (config.workdir / "logs" / log_name).open("ab")
    return subprocess.Popen(args, stdout=logfile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def wait_for(what: str, check: Any, timeout: float, procs: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode} while waiting for {what}")
        if check():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")


def stop(proc: subprocess.Popen[bytes], timeout: float) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def import_image(ctr: list[str], archive: str) -> str:
    """Import one image archive; the error's last lines, or "" when it worked."""
    result = subprocess.run([*ctr, "images", "import", archive], capture_output=True, text=True)
    return "" if result.returncode == 0 else result.stderr.strip()[-500:]


def reap_orphans() -> None:
    """As PID 1, collect the exit status of processes re-parented to us (shims' children...)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def run(config: NodeConfig) -> int:
    def on_signal(signum: int, frame: Any) -> None:
        raise Stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    (config.workdir / "logs").mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        private_mounts(config)
        log("private mounts ready", seconds=round(time.monotonic() - started, 2))
        containerd = start(
            [config.containerd, "--config", str(config.containerd_config)], "containerd.log", config
        )
        procs.append(containerd)
        ctr = [config.ctr, "--address", str(config.containerd_socket), "--namespace", "k8s.io"]
        wait_for(
            "containerd's socket",
            lambda: subprocess.run([*ctr, "version"], capture_output=True).returncode == 0,
            30,
            procs,
        )
        log("containerd ready", seconds=round(time.monotonic() - started, 2))
        t0 = time.monotonic()
        # Largest first, four at a time: containerd unpacks them concurrently.
        archives = sorted(config.images, key=lambda a: -Path(a).stat().st_size)
        with ThreadPoolExecutor(max_workers=4) as pool:
            errors = pool.map(lambda a: import_image(ctr, a), archives)
            for archive, error in zip(archives, errors, strict=True):
                if error:
                    raise RuntimeError(f"ctr images import {archive} failed: {error}")
        log("images imported", count=len(archives), seconds=round(time.monotonic() - t0, 2))
        kubelet = start([config.kubelet, *config.kubelet_args], "kubelet.log", config)
        procs.append(kubelet)
        (config.workdir / "node-ready").write_text(f"{time.monotonic() - started:.2f}\n")
        log("kubelet started", seconds=round(time.monotonic() - started, 2))
        while True:
            for proc in procs:
                if proc.poll() is not None:
                    log(
                        "a node process exited; stopping the node", process=proc.args[0], code=proc.returncode
                    )
                    return 1
            reap_orphans()
            time.sleep(0.5)
    except Stop:
        log("stopping")
        return 0
    except Exception as exc:  # noqa: BLE001 - anything stops the node, with one line saying why
        log(f"failed: {exc}")
        (config.workdir / "node-failed").write_text(f"{exc}\n")
        return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for proc in reversed(procs):
            stop(proc, 10)
        # Returning ends PID 1: the kernel kills whatever is left in the namespace (shims, containers).


def main() -> int:
    if os.getpid() != 1:
        print("tests.infra.node must run as PID 1 of its own PID namespace (see Cluster)", file=sys.stderr)
        return 2
    return run(NodeConfig.load(Path(sys.argv[1])))


if __name__ == "__main__":
    sys.exit(main())
