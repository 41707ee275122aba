//go:build tools

// Package tools pins what ../build.sh takes from this module: the Triggers commands it builds (controller,
// admission webhook, EventListener sink, core interceptors) and their release config in config/.
package tools

import (
	_ "github.com/tektoncd/triggers/cmd/controller"
	_ "github.com/tektoncd/triggers/cmd/eventlistenersink"
	_ "github.com/tektoncd/triggers/cmd/interceptors"
	_ "github.com/tektoncd/triggers/cmd/webhook"
)
