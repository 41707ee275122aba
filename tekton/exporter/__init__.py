"""``peribolos-exporter``: Prometheus metrics for what runs besides the interceptor (TaskRuns, the refresher,
the App-wide mint budget), read from the Kubernetes API of the main namespace."""
