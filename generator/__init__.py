"""peribolos-generate: renders every Kubernetes and Tekton manifest of the service from one values file."""
