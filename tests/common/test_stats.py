"""The one percentile method (linear interpolation), shared by profiles, live stats and invokers."""

from common.stats import percentile
from hint_dsl import profiles
from invoker import stats as invoker_stats


def test_percentile_interpolates_between_closest_ranks():
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5  # unsorted input
    assert percentile([10.0, 20.0], 95) == 19.5
    assert percentile([1.0, 2.0, 3.0], 0) == 1.0 and percentile([1.0, 2.0, 3.0], 100) == 3.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def test_profiles_and_invoker_use_the_same_function():
    assert profiles.percentile is percentile
    assert invoker_stats.percentile is percentile


def test_paired_bootstrap_ci_brackets_a_paired_shift_that_unpaired_noise_would_hide():
    import random

    from common.stats import paired_bootstrap_ci

    rng = random.Random(3)
    load = [rng.uniform(1, 20) for _ in range(200)]  # shared by both sides of a pair
    pairs = [(x, x + 0.5 + rng.gauss(0, 0.05)) for x in load]

    def mean_difference(sample):
        return sum(b - a for a, b in sample) / len(sample)

    low, high = paired_bootstrap_ci(pairs, mean_difference, random.Random(1))
    assert 0.45 < low < 0.5 < high < 0.55
    assert paired_bootstrap_ci(pairs, mean_difference, random.Random(1)) == (low, high)
