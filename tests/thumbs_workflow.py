"""The small two-node workflow (``thumbs``: resize, then classify) and its hints that the CLI
and console tests deploy."""

WORKFLOW = """\
name: thumbs
slo: {latency: 2500ms, percentile: 99}
nodes:
  - {id: resize, action: resize}
  - {id: classify, action: classify, after: [resize]}
"""
HINTS = """\
workflow thumbs slo 2500ms p99

option small  cpu 0.5 memory 256MB
option large  cpu 2   memory 1GB

function resize
  when remaining < 900ms use large
  otherwise              use small
"""
