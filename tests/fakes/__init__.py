"""Fakes at the transport seam: real servers on 127.0.0.1 that behave like the systems they stand for."""
