"""Worker process and thread counts read as Azure reads them, and the command line of the other processes."""
from __future__ import annotations

import pytest

from localdev.host.settings import SettingsError
from localdev.host.workers import DEFAULT_THREADS, bind, process_count, thread_count, worker_command


def test_process_count_defaults_to_one_and_allows_up_to_ten() -> None:
    assert process_count({}) == 1
    assert process_count({"FUNCTIONS_WORKER_PROCESS_COUNT": " 4 "}) == 4
    assert process_count({"FUNCTIONS_WORKER_PROCESS_COUNT": "10"}) == 10
    for value in ("0", "11", "-1", "2.5", "many"):
        with pytest.raises(SettingsError, match="FUNCTIONS_WORKER_PROCESS_COUNT"):
            process_count({"FUNCTIONS_WORKER_PROCESS_COUNT": value})


def test_thread_count_is_the_option_then_the_setting_then_the_local_default() -> None:
    assert thread_count(None, {}) == DEFAULT_THREADS
    assert thread_count(None, {"PYTHON_THREADPOOL_THREAD_COUNT": "16"}) == 16
    assert thread_count(8, {"PYTHON_THREADPOOL_THREAD_COUNT": "16"}) == 8
    with pytest.raises(SettingsError, match="PYTHON_THREADPOOL_THREAD_COUNT"):
        thread_count(None, {"PYTHON_THREADPOOL_THREAD_COUNT": "33"})


def test_shared_sockets_let_a_second_listener_bind_the_same_port() -> None:
    first = bind(0, shared=True)
    try:
        second = bind(first.getsockname()[1], shared=True)
        second.close()
        with pytest.raises(OSError):
            bind(first.getsockname()[1], shared=False).close()
    finally:
        first.close()


def test_other_processes_get_the_options_and_the_durable_endpoint() -> None:
    assert worker_command(["--port", "7071"], None, None) == ["-m", "localdev", "host", "--port", "7071"]
    command = worker_command(["--port", "7071"], "http://127.0.0.1:9", '{"taskHubName": "Hub"}')
    assert command[-4:] == ["--first-url", "http://127.0.0.1:9", "--durable-binding", '{"taskHubName": "Hub"}']
    assert worker_command([], "http://127.0.0.1:9", None)[-2:] == ["--first-url", "http://127.0.0.1:9"]
