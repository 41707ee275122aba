//go:build tools

// Package tools pins the commands built by ../build.sh.
package tools

import (
	_ "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	_ "github.com/tektoncd/triggers/cmd/eventlistenersink"
	_ "github.com/tektoncd/triggers/cmd/interceptors"
)
