module peribolos.dev/e2e-tools/pause

// The Pod sandbox process (stdlib only).
go 1.24.0
