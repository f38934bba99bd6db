"""Tracing: one small seam (``Span``, ``Tracer``) with an OpenTelemetry implementation and a no-op.

The gateway's code only ever sees the seam. OpenTelemetry is imported by ``build`` only
when tracing is configured, so quick mode pays nothing for it.
"""
