"""Test infrastructure shared by the suites: the Go tools, the images and the real single-node cluster."""
