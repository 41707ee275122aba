//go:build tools

// Package tools pins the peribolos command built by ../build.sh.
package tools

import (
	_ "sigs.k8s.io/prow/cmd/peribolos"
)
