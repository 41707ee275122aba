"""Code that runs inside Tekton: the ClusterInterceptor server (``interceptor``) and the step commands."""
