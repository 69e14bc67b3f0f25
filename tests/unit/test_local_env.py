"""devstack.local_env: the one mapping from a developer's environment to a local stack's settings."""

from __future__ import annotations

from devstack.local_env import LOCAL_ENV, local_config


def test_the_usual_openai_variables_become_the_templates_parameters() -> None:
    config = local_config(
        {"OPENAI_API_KEY": "sk-shell", "OPENAI_BASE_URL": "http://127.0.0.1:11434/v1", "OPENHELM_MODEL": "llama3"}
    )
    assert config.params == {
        "Stage": "dev",
        "SandboxProvider": "local",
        "LlmApiKey": "sk-shell",
        "OpenAIBaseUrl": "http://127.0.0.1:11434/v1",
        "DefaultModel": "llama3",
    }
    assert config.uses_model and config.model == "llama3"
    assert config.env == LOCAL_ENV


def test_explicit_openhelm_settings_win_over_the_usual_variables_and_the_dev_defaults() -> None:
    config = local_config(
        {
            "OPENAI_API_KEY": "sk-shell",
            "OPENHELM_LLM_API_KEY": "sk-explicit",
            "OPENAI_BASE_URL": "http://a/v1",
            "OPENHELM_LLM_BASE_URL": "http://b/v1",
            "OPENHELM_MODEL": "m1",
            "OPENHELM_DEFAULT_MODEL": "m2",
            "OPENHELM_WEBHOOK_ALLOW_LOOPBACK": "false",
            "OPENHELM_LLM_TIMEOUT_S": "120",
        }
    )
    assert (config.params["LlmApiKey"], config.params["OpenAIBaseUrl"], config.params["DefaultModel"]) == (
        "sk-explicit",
        "http://b/v1",
        "m2",
    )
    assert config.env["OPENHELM_WEBHOOK_ALLOW_LOOPBACK"] == "false"
    assert config.env["OPENHELM_SANDBOX_ALLOW_LOOPBACK"] == "true"  # defaults not overridden stay
    assert config.env["OPENHELM_LLM_TIMEOUT_S"] == "120"


def test_nothing_set_means_no_model_and_the_stacks_own_wiring_is_never_taken_from_the_shell() -> None:
    config = local_config({"OPENHELM_TABLE": "stale-table", "OPENHELM_LLM_GATEWAY_URL": "http://old", "HOME": "/x"})
    assert not config.uses_model and "LlmApiKey" not in config.params
    assert "OPENHELM_TABLE" not in config.env and "OPENHELM_LLM_GATEWAY_URL" not in config.env


def test_the_demo_takes_the_same_mapping() -> None:
    from devstack.demo import stack_settings

    params, env, use_llm = stack_settings({"OPENAI_API_KEY": "sk-shell", "OPENHELM_WEBHOOK_ALLOW_LOOPBACK": "false"})
    assert use_llm and params["LlmApiKey"] == "sk-shell" and params["DefaultModel"] == "gpt-4.1-mini"
    assert len(params["RunTokenSecret"]) >= 32 and env["OPENHELM_WEBHOOK_ALLOW_LOOPBACK"] == "false"
    params, _env, use_llm = stack_settings({})
    assert not use_llm and params["OpenAIBaseUrl"] == "https://api.openai.com/v1"


def test_dev_and_demo_keep_a_warm_sandbox_tests_do_not_and_an_explicit_setting_wins() -> None:
    from devstack.demo import stack_settings

    assert "OPENHELM_WARM_SANDBOXES" not in local_config({}).env
    assert local_config({}, interactive=True).env["OPENHELM_WARM_SANDBOXES"] == "1"
    assert stack_settings({})[1]["OPENHELM_WARM_SANDBOXES"] == "1"
    assert local_config({"OPENHELM_WARM_SANDBOXES": "0"}, interactive=True).env["OPENHELM_WARM_SANDBOXES"] == "0"
