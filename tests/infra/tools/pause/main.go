// Command pause is the Pod sandbox's process for the test cluster's containerd (its sandbox_image): it
// holds the Pod's namespaces, reaps the zombies it inherits as PID 1, and exits on SIGTERM or SIGINT.
// Kubernetes' own pause is a C program with no Go module; this does the same few things.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
