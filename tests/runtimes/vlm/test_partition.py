"""SM split arithmetic and the no-op partitioner (CPU); green contexts need a GPU."""

import pytest

from runtimes.vlm.partition import (
    GreenContextPartitioner,
    PartitionSpec,
    align_splits,
    make_partitioner,
)
from runtimes.vlm.scheduler import candidate_splits, default_tables, make_policy


def test_splits_round_up_to_8_sm_groups_like_the_driver():
    # the driver turned a request for 33 SMs into 40 (+92) on the H100
    assert align_splits([33], 132) == [PartitionSpec(40, 92)]
    assert align_splits([24, 48], 132) == [PartitionSpec(24, 108), PartitionSpec(48, 84)]
    assert align_splits([12, 16], 132) == [PartitionSpec(16, 116)]  # duplicates merge


@pytest.mark.parametrize("bad", [0, -8, 128, 132, 200])
def test_impossible_splits_are_rejected_with_the_accepted_range(bad):
    with pytest.raises(ValueError, match=r"accepted: 8\.\.120 in steps of 8|positive integer"):
        align_splits([bad], 132)


def test_other_granularity():
    assert align_splits([5], 84, granularity=2) == [PartitionSpec(6, 78)]
    with pytest.raises(ValueError):
        align_splits([8], 12, granularity=8)


def test_every_policy_split_can_be_built():
    t = default_tables()
    for name in ("nova", "nova-static"):
        splits = make_policy(name, t).splits()
        assert [s.decode_sms for s in align_splits(splits, 132)] == splits
    assert candidate_splits(132) == [s.decode_sms for s in align_splits(candidate_splits(132), 132)]


def test_noop_partitioner_has_no_streams():
    p = make_partitioner("noop", total_sms=132)
    p.setup([16, 48])
    assert p.stream("decode", 48) is None and p.stream("vision", 84) is None
    assert p.switch_cost_ms == 0.0
    with p.capture_context("decode", 48):
        pass
    with pytest.raises(ValueError, match="green"):
        make_partitioner("libsmctrl")


def test_green_partitioner_imports_without_cuda():
    p = GreenContextPartitioner()  # constructing must not touch CUDA
    with pytest.raises(ValueError, match="unknown stage"):
        p._key("encode", 8)
