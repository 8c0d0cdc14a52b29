import contextlib
import io
import json

import pytest

from convscope.cli import main
from convscope.store import Store


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory):
    """One real 3-epoch run of small_cnn on digits through ``convscope train --json``."""
    store_dir = tmp_path_factory.mktemp("store")
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        code = main(
            [
                "train",
                "--dataset",
                "digits",
                "--arch",
                "small_cnn",
                "--epochs",
                "3",
                "--store",
                str(store_dir),
                "--json",
            ]
        )
    summary = json.loads(output.getvalue().strip().splitlines()[-1])
    store = Store(store_dir)
    yield code, summary, store
    store.close()
