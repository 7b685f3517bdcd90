"""The shipped task suites: they load, are complete, their reference answers pass their own
graders, the seed's failures fail them, and a bad suite file stops with one clear line."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from router.calibration.suites import (
    SUITES_DIR,
    Message,
    Prompt,
    Suite,
    grade_prompt,
    load_suites,
    suite_hash,
)
from router.errors import ConfigError
from router.grading.graders import Facts
from router.tasks import TASKS

SUITES = load_suites(SUITES_DIR)
BY_TASK = {s.task: s for s in SUITES}
ALL_PROMPTS = [(s, p) for s in SUITES for p in s.prompts]


def _prompt(task: str, pid: str) -> tuple[Suite, Prompt]:
    suite = BY_TASK[task]
    return suite, next(p for p in suite.prompts if p.id == pid)


def test_every_task_of_the_spec_has_a_suite() -> None:
    assert SUITES_DIR.is_dir()
    assert set(BY_TASK) == set(TASKS)
    assert [s.task for s in load_suites(SUITES_DIR, ["qa", "code"])] == ["qa", "code"]


@pytest.mark.parametrize("task", TASKS)
def test_suite_has_six_prompts_and_one_quick_per_language(task: str) -> None:
    suite = BY_TASK[task]
    per_lang = Counter(p.lang for p in suite.prompts)
    quick = Counter(p.lang for p in suite.prompts if p.quick)
    assert per_lang["ja"] >= 6 and per_lang["en"] >= 6
    assert quick == Counter({"ja": 1, "en": 1})
    assert [p.lang for p in suite.quick()] == ["ja", "en"]
    assert all(p.quick for p in suite.quick())
    assert len({p.id for p in suite.prompts}) == len(suite.prompts)


@pytest.mark.parametrize(("suite", "prompt"), ALL_PROMPTS, ids=[p.id for _, p in ALL_PROMPTS])
def test_reference_answer_passes_its_own_graders(suite: Suite, prompt: Prompt) -> None:
    assert prompt.reference, "every shipped prompt carries a reference answer"
    assert prompt.max_tokens > 0
    assert prompt.graders, "every prompt has graders of its own"
    result = grade_prompt(suite, prompt, prompt.reference)
    details = [f"{v.kind}: {v.detail}" for v in result.verdicts if not v.passed]
    assert result.passed, details
    assert result.quality == 1.0


def test_prompt_messages_carry_the_source() -> None:
    _, p = _prompt("summarize", "ja-office-move")
    msgs = p.to_messages()
    assert [m["role"] for m in msgs] == ["user"]
    assert msgs[0]["content"].startswith(p.prompt) and p.source.strip() in msgs[0]["content"]
    chat = Prompt(
        id="x",
        lang="en",
        max_tokens=10,
        source="SRC",
        messages=[Message("system", "S"), Message("user", "U")],
    )
    assert chat.to_messages()[-1] == {"role": "user", "content": "U\n\nSRC"}


# ---------------------------------------------------------------- the seed's failures

SEED_FAILURES = [
    # the factual trap: "for security" without saying the password is hashed
    (
        "explain_simple",
        "ja-password-hashed",
        "パスワードをそのまま保存しないのは、セキュリティのためです。悪い人から守るためなんだよ。",
        "missing_fact",
    ),
    (
        "explain_simple",
        "en-password-hashed",
        "Websites keep your password safe for security reasons, so that nobody bad can log in "
        "as you. It is very important to keep things secure!",
        "missing_fact",
    ),
    # lfm read 「マジやばくない」 as 「マジックガール」
    (
        "style_rewrite",
        "ja-gal-to-standard",
        "とりあえず駅前に集合しましょう。新しいカフェのマジックガールは本当にすごいですね。",
        "forbidden_fact",
    ),
    # mistral translated 「とりま」 as "TORIMATSU-san"
    (
        "translate",
        "en-ja2en-gal",
        "TORIMATSU-san, gather in front of the station.",
        "forbidden_fact",
    ),
    # glm: the mail subject, endlessly
    (
        "business_mail",
        "ja-meeting-change",
        "件名:明日のお打ち合わせ時間変更のお願い\n" * 40,
        "loop",
    ),
    # glm: its Chinese reasoning leaked into the answer
    (
        "business_mail",
        "ja-meeting-change",
        "好的，用户想要一封商务邮件。\n田中様\nお世話になっております。明日の打ち合わせは16時に変更"
        "となります。場所は3階の会議室です。資料は本日お送りします。\nよろしくお願いいたします。",
        "leaked_reasoning",
    ),
    # an answer in Chinese, or in English, to a Japanese prompt
    (
        "explain_simple",
        "ja-sky-blue",
        "太阳光由多种颜色组成，蓝光更容易被空气分子散射，所以天空是蓝色的。",
        "wrong_language",
    ),
    ("qa", "ja-fuji", "Mount Fuji is 3,776 meters high.", "wrong_language"),
    ("summarize", "en-kettle-recall", "", "empty"),
    ("code", "en-roman", "```python\ndef to_roman(n):\n    return 'I' * n\n```", "code_failed"),
    ("qa", "en-json-eiffel", "The Eiffel Tower was completed in 1889 in Paris.", "invalid_json"),
    (
        "business_mail",
        "en-meeting-change",
        "The meeting tomorrow is at 4 pm in the third floor room. I will send the slides to "
        "Ms. Tanaka today.",
        "format",
    ),
]


@pytest.mark.parametrize(
    ("task", "pid", "answer", "kind"),
    SEED_FAILURES,
    ids=[f"{t}-{k}" for t, _, _, k in SEED_FAILURES],
)
def test_seed_failures_fail_their_prompt(task: str, pid: str, answer: str, kind: str) -> None:
    suite, prompt = _prompt(task, pid)
    result = grade_prompt(suite, prompt, answer)
    assert not result.passed
    assert kind in result.failures
    assert result.quality < 1.0


def test_password_trap_is_a_required_hash_fact() -> None:
    for pid in ("ja-password-hashed", "en-password-hashed"):
        _, prompt = _prompt("explain_simple", pid)
        facts = [g for g in prompt.graders if isinstance(g, Facts)]
        assert any("hash" in group or "ハッシュ" in group for f in facts for group in f.required)


# ---------------------------------------------------------------- hashing


def test_suite_hash_is_stable_and_tracks_content_and_references(tmp_path: Path) -> None:
    h = suite_hash(SUITES)
    assert len(h) == 64 and h == suite_hash(list(reversed(load_suites(SUITES_DIR))))
    text = (SUITES_DIR / "qa.toml").read_text(encoding="utf-8")
    (tmp_path / "qa.toml").write_text(text, encoding="utf-8")
    base = suite_hash(load_suites(tmp_path))
    (tmp_path / "qa.toml").write_text(
        text.replace("Jupiter is the largest", "Jupiter, the"), encoding="utf-8"
    )
    assert suite_hash(load_suites(tmp_path)) != base  # a reference answer: chrf grades by it
    (tmp_path / "qa.toml").write_text(
        text.replace("General questions", "Questions"), encoding="utf-8"
    )
    assert suite_hash(load_suites(tmp_path)) == base  # a comment
    (tmp_path / "qa.toml").write_text(
        text.replace("Answer general questions", "Answer"), encoding="utf-8"
    )
    assert suite_hash(load_suites(tmp_path)) == base  # the description
    (tmp_path / "qa.toml").write_text(
        text.replace("max_tokens = 100", "max_tokens = 101", 1), encoding="utf-8"
    )
    assert suite_hash(load_suites(tmp_path)) != base


# ---------------------------------------------------------------- bad files

GOOD = """\
task = "qa"
graders = [{ name = "language" }]

[[prompts]]
id = "ja-one"
lang = "ja"
quick = true
max_tokens = 100
prompt = "富士山の高さは?"
graders = [{ name = "facts", required = [["3776"]] }]
"""

BAD_FILES = [
    (
        GOOD.replace('name = "facts"', 'name = "factz"'),
        "prompts[0].graders[0].name",
        "unknown grader 'factz'",
    ),
    (
        GOOD.replace("max_tokens = 100", 'max_tokens = "many"'),
        "prompts[0].max_tokens",
        "expected `int`",
    ),
    (GOOD.replace("max_tokens = 100", "max_tokens = 0"), "prompts[0].max_tokens", ">= 1"),
    (GOOD.replace('lang = "ja"', 'lang = "fr"'), "prompts[0].lang", "'fr'"),
    (
        GOOD.replace("quick = true", "quick = true\ncolour = 1"),
        "prompts[0]",
        "unknown field `colour`",
    ),
    (GOOD.replace('[["3776"]]', '"3776"'), "prompts[0].graders[0].required", "expected `array`"),
    (
        GOOD.replace('required = [["3776"]]', "required = [[]]"),
        "prompts[0].graders[0].required",
        "synonym group",
    ),
    (
        GOOD.replace(
            '{ name = "facts", required = [["3776"]] }', '{ name = "code", checks = "assert (" }'
        ),
        "prompts[0].graders[0].checks",
        "not valid Python",
    ),
    (GOOD.replace('task = "qa"', 'task = "story"'), "task", "does not match the file name"),
    (GOOD + GOOD[GOOD.index("[[prompts]]") :], "prompts[1].id", "duplicate id"),
    (
        GOOD + GOOD[GOOD.index("[[prompts]]") :].replace("ja-one", "ja-two"),
        "prompts[1].quick",
        "second quick prompt",
    ),
    (
        GOOD.replace(
            'prompt = "富士山の高さは?"', 'messages = [{ role = "robot", content = "x" }]'
        ),
        "prompts[0].messages[0].role",
        "'robot'",
    ),
    (GOOD.replace('prompt = "富士山の高さは?"', ""), "prompts[0]", "exactly one of"),
    (GOOD.replace("[[prompts]]", "[[prompts]"), "qa.toml", "invalid TOML"),
    (GOOD.split("[[prompts]]")[0] + "prompts = []\n", "prompts", "no prompts"),
]


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    BAD_FILES,
    ids=[b[2].split()[0].strip("'`") + str(i) for i, b in enumerate(BAD_FILES)],
)
def test_bad_suite_file_is_one_line_naming_file_and_key(
    tmp_path: Path, text: str, key: str, problem: str
) -> None:
    path = tmp_path / "qa.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_suites(tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert key in message and problem in message, message


def test_good_file_loads_and_missing_things_are_config_errors(tmp_path: Path) -> None:
    (tmp_path / "qa.toml").write_text(GOOD, encoding="utf-8")
    [suite] = load_suites(tmp_path)
    assert suite.task == "qa" and suite.prompts[0].id == "ja-one"
    with pytest.raises(ConfigError, match="no suite for 'story'"):
        load_suites(tmp_path, ["qa", "story"])
    with pytest.raises(ConfigError, match="no such suites directory"):
        load_suites(tmp_path / "nowhere")
