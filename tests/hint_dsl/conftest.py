"""Shared hint texts for the hint DSL tests."""

import pytest

DESIGN_EXAMPLE = """\
workflow thumbnails slo 2500ms p99

option small  cpu 0.5 memory 256MB
option medium cpu 1   memory 512MB
option large  cpu 2   memory 1GB

function resize
  when remaining < 900ms                  use large
  when input.bytes > 4MB and remaining < 1600ms use large
  when remaining >= 1800ms                use small
  otherwise                               use medium

function classify
  when upstream.resize.duration > 700ms   use large
  otherwise                               use medium
"""


@pytest.fixture
def design_example() -> str:
    return DESIGN_EXAMPLE
