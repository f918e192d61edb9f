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
