//go:build tools

// Package tools pins what ../build.sh takes from Tekton Pipelines v1.15.0: the controller, the admission
// webhook and the images the controller injects into every TaskRun Pod. A module of its own: in the
// Triggers module these commands would bump dependencies Triggers pins (coreos/go-oidc and others).
package tools

import (
	_ "github.com/tektoncd/pipeline/cmd/controller"
	_ "github.com/tektoncd/pipeline/cmd/entrypoint"
	_ "github.com/tektoncd/pipeline/cmd/nop"
	_ "github.com/tektoncd/pipeline/cmd/sidecarlogresults"
	_ "github.com/tektoncd/pipeline/cmd/webhook"
	_ "github.com/tektoncd/pipeline/cmd/workingdirinit"
)
