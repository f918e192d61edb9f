"""The platform's TANGO_* variables, read into one typed object."""

import pytest

from common.environment import Environment


def test_fields_come_from_their_variables_and_empty_means_unset():
    env = Environment.read(
        {
            "TANGO_HOST": "0.0.0.0",
            "TANGO_PORT": "4000",
            "TANGO_DATA_DIR": "/srv/t",
            "TANGO_DB_URL": "postgresql://h/db",
            "TANGO_INTERNAL_TOKEN": "",
            "TANGO_USER_MEMORY": "4096",
            "UNRELATED": "x",
        }
    )
    assert env == Environment(
        host="0.0.0.0",
        port=4000,
        data_dir="/srv/t",
        db_url="postgresql://h/db",
        internal_token=None,
        console_secret=None,
        user_memory=4096,
    )
    assert Environment.read({}) == Environment()


def test_a_number_that_is_not_one_says_which_variable():
    with pytest.raises(ValueError, match="TANGO_PORT must be an integer, got 'http'"):
        Environment.read({"TANGO_PORT": "http"})
