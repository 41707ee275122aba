//go:build tools

// Package tools pins what ../build.sh takes from this module: the Triggers commands it builds, and the
// Pipelines module whose config/300-crds it copies (imported here only so that go.mod keeps requiring it).
package tools

import (
	_ "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	_ "github.com/tektoncd/triggers/cmd/eventlistenersink"
	_ "github.com/tektoncd/triggers/cmd/interceptors"
)
