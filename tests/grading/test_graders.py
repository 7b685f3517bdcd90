"""The deterministic graders on good and bad answers, Japanese and English; the code runner."""

from __future__ import annotations

import time

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.grading import graders as g
from router.grading.coderun import extract_python, run_python
from router.grading.textscan import code_blocks, contains, loop_detected, normalize, reasoning_leak

JA_GOOD = "パスワードは「ハッシュ」という特別な方法で変換してから保存されます。元には戻せません。"
EN_GOOD = "Passwords are stored as hashes, which cannot be turned back into the password."
ZH = "密码以哈希形式存储，即使数据库泄露，攻击者也无法知道原始密码。"


# ---------------------------------------------------------------- language


@pytest.mark.parametrize(
    ("answer", "expect", "passed"),
    [
        (JA_GOOD, "ja", True),
        ("Pythonのlistは変更できるデータ型で、appendで要素を追加できます。", "ja", True),
        ("回答:\n```python\nprint('hello world, code')\n```\nこれで表示されます。", "ja", True),
        (ZH, "ja", False),  # Chinese-only Han text, no kana
        (EN_GOOD, "ja", False),  # English when Japanese was asked
        ("TORIMATSU-san, let's meet at the station. とりま", "ja", False),
        (EN_GOOD, "en", True),
        ("'Torima' (とりま) is short for 'toriaezu', meaning 'for now'.", "en", True),
        (JA_GOOD, "en", False),
        (ZH, "en", False),
        ("```python\nx = 1\n```", "ja", True),  # code only: no prose to judge
    ],
)
def test_language(answer: str, expect: str, passed: bool) -> None:
    v = g.check_language(answer, expect)
    assert v.passed is passed
    assert v.kind == ("" if passed else "wrong_language")
    assert 0.0 <= v.score <= 1.0


@pytest.mark.parametrize(
    ("prompt", "lang"),
    [("空はなぜ青いの?", "ja"), ("Why is the sky blue?", "en"), ("Pythonで関数を書いて", "ja")],
)
def test_detect_lang(prompt: str, lang: str) -> None:
    assert g.detect_lang(prompt) == lang


# ---------------------------------------------------------------- loops

SUBJECT_LOOP = "お世話になっております。\n" + "件名:打ち合わせ日程変更のお知らせ\n" * 30
NUMBERED_LOOP = "Here is the list:\n" + "".join(f"{i}. Buy milk and eggs\n" for i in range(1, 40))
NORMAL_JA = (
    "ウェブサイトは、パスワードをハッシュという方法で変換して保存します。ログインのときは、"
    "入力されたパスワードを同じ方法で変換し、保存された値と比べます。データが盗まれても、"
    "元のパスワードはすぐにはわかりません。さらにソルトを加えることで、同じパスワードでも"
    "違う値になります。こうした工夫で、利用者のアカウントを守っています。"
) * 2
NORMAL_EN = (
    "The library extends its weekday hours to 9 p.m. next month, after a survey showed that "
    "most users wanted to visit after work. Two staff members and new self-checkout machines "
    "will cover the evenings. Weekend hours stay the same, and the city will decide after six "
    "months whether to extend the change to the branch libraries as well."
)
TABLE = "| model | tok/s | notes |\n| --- | --- | --- |\n" + "".join(
    f"| model-{i} | {10 + i * 7} | {w} |\n"
    for i, w in enumerate(["fast", "slow but fluent", "loops", "balanced", "crashes", "good"])
)
CODE = (
    "```python\n"
    + "".join(
        f"def f{i}(x):\n    if x > {i}:\n        return x * {i}\n    return None\n\n"
        for i in range(8)
    )
    + "```\n"
)


@pytest.mark.parametrize(
    ("text", "looping"),
    [
        (SUBJECT_LOOP, True),  # the seed's glm: the mail subject, endlessly
        (NUMBERED_LOOP, True),  # same line, only the number changes
        ("ははは" * 40, True),
        ("Sure! " + "the answer is the answer is " * 20, True),
        (NORMAL_EN + " " + "I hope this helps. " * 12, True),
        ("", False),
        ("短い答えです。", False),
        (NORMAL_JA, False),
        (NORMAL_EN, False),
        (TABLE, False),
        (CODE, False),
        ("- 卵\n- 牛乳\n- パン\n- バター\n- りんご\n", False),
    ],
)
def test_loop(text: str, looping: bool) -> None:
    assert loop_detected(text) is looping
    v = g.check_loop(text)
    assert v.passed is not looping
    assert v.kind == ("loop" if looping else "")


def test_loop_detected_streaming_catches_a_loop_soon_and_spares_normal_text() -> None:
    normal = NORMAL_JA + NORMAL_EN
    for end in range(0, len(normal), 16):  # every few tokens of a healthy answer
        assert not loop_detected(normal[:end])
    text, caught_at = NORMAL_EN, None
    for _ in range(200):
        text += "件名:打ち合わせ日程変更のお知らせ\n"
        if loop_detected(text):
            caught_at = len(text) - len(NORMAL_EN)
            break
    assert caught_at is not None and caught_at < 300


def test_loop_detected_is_cheap() -> None:
    text = (NORMAL_JA + NORMAL_EN) * 6  # ~4,000 chars
    start = time.perf_counter()
    for _ in range(100):
        loop_detected(text)
    assert (time.perf_counter() - start) / 100 < 0.005  # documented: ~0.5 ms


# ---------------------------------------------------------------- leaked reasoning


@pytest.mark.parametrize(
    ("answer", "leaked"),
    [
        ("<think>The user wants a mail.</think>件名:ご連絡", True),
        ("</think>\nDear Ms. Tanaka,", True),
        ("Thinking Process:\n1. Analyze the request", True),
        ("Okay, the user wants a short story about a cat.", True),
        ("Alright, so the user is asking about hashing.", True),
        ("The user is asking why passwords are hashed.", True),
        ("まず、ユーザーはビジネスメールを求めている。", True),
        ("ユーザーは子ども向けの説明を求めているので、やさしく書く。", True),
        ("好的，用户想要一封商务邮件。", True),
        ("Dear Ms. Tanaka,\nThe meeting moves to 4 pm.", False),
        ("ユーザーが入力したパスワードは、ハッシュにして保存されます。", False),
        ("Okay! Here is a short story about a cat.", False),
        ("First, preheat the oven. Then mix the flour.", False),
        (JA_GOOD, False),
    ],
)
def test_reasoning(answer: str, leaked: bool) -> None:
    assert bool(reasoning_leak(answer)) is leaked
    v = g.check_reasoning(answer)
    assert v.passed is not leaked
    assert v.kind == ("leaked_reasoning" if leaked else "")


# ---------------------------------------------------------------- facts

HASH = [["hash", "ハッシュ"]]


@pytest.mark.parametrize(
    ("answer", "required", "min_groups", "passed", "score"),
    [
        (JA_GOOD, HASH, None, True, 1.0),
        (EN_GOOD, HASH, None, True, 1.0),
        ("パスワードはＨＡＳＨ化されています。", HASH, None, True, 1.0),  # full width
        ("They are HASHED first.", HASH, None, True, 1.0),  # case, and a word's prefix
        ("セキュリティのためです。", HASH, None, False, 0.0),  # the seed's trap
        ("For security reasons.", HASH, None, False, 0.0),
        ("A rehash of old news.", HASH, None, False, 0.0),  # must start a word
        ("富士山は3,776mです。", [["3776"]], None, True, 1.0),  # digit grouping
        ("富士山は３７７６メートル。", [["3776"]], None, True, 1.0),  # full-width digits
        ("It has 80 bits.", [["8", "eight"]], None, False, 0.0),  # short needles: whole word
        ("Eight bits.", [["8", "eight"]], None, True, 1.0),
        ("Tokyo and Osaka.", [["tokyo"], ["osaka"], ["kyoto"]], None, False, 1 / 3),  # half
        ("Tokyo and Osaka.", [["tokyo"], ["osaka"], ["kyoto"]], 2, True, 2 / 3),
    ],
)
def test_facts(
    answer: str, required: list[list[str]], min_groups: int | None, passed: bool, score: float
) -> None:
    v = g.check_facts(answer, required, min_groups)
    assert v.passed is passed
    assert v.score == pytest.approx(score)
    assert v.kind == ("" if passed else "missing_fact")


@pytest.mark.parametrize(
    ("answer", "passed"),
    [
        ("とりあえず駅前に集合しましょう。", True),
        ("マジックガールが駅前に集合します。", False),  # the seed's lfm misreading
        ("TORIMATSU-san, meet at the station.", False),  # the seed's mistral misreading
        ("Torimatsu said hi.", False),
        ("For now, meet at the station.", True),
    ],
)
def test_forbidden(answer: str, passed: bool) -> None:
    v = g.check_forbidden(answer, ["マジックガール", "torimatsu"])
    assert v.passed is passed
    assert v.kind == ("" if passed else "forbidden_fact")


def test_normalize_and_contains() -> None:
    assert normalize("  ＡＢＣ\n\t１，０００ ") == "abc 1000"
    assert contains(normalize("AIが速い"), "ai")
    assert not contains(normalize("aim high"), "ai")
    assert not contains(normalize("anything"), "")


# ---------------------------------------------------------------- length


@pytest.mark.parametrize(
    ("answer", "spec", "source", "kind"),
    [
        ("a" * 50, g.Length(min_chars=10, max_chars=100), "", ""),
        ("a" * 150, g.Length(max_chars=100), "", "too_long"),
        ("a" * 5, g.Length(min_chars=10), "", "too_short"),
        ("要約" * 20, g.Length(max_ratio=0.5), "原文" * 100, ""),  # 40 chars of 200
        ("要約" * 60, g.Length(max_ratio=0.5), "原文" * 100, "too_long"),  # a "summary" too long
        ("x" * 30, g.Length(min_ratio=0.2), "y" * 200, "too_short"),
        ("x" * 30, g.Length(max_ratio=0.1), "", ""),  # no source: ratios do not apply
        ("   " + "a" * 10 + "   ", g.Length(max_chars=10), "", ""),  # stripped
    ],
)
def test_length(answer: str, spec: g.Length, source: str, kind: str) -> None:
    v = g.check_length(answer, spec, source)
    assert v.kind == kind
    assert v.passed is (kind == "")
    assert 0.0 <= v.score <= 1.0


# ---------------------------------------------------------------- format: mail, code block

JA_MAIL = (
    "件名:日程変更\n\n田中様\n\nいつもお世話になっております。\n明日の件です。\n\n"
    "よろしくお願いいたします。"
)
EN_MAIL = (
    "Subject: New time\n\nDear Ms. Tanaka,\n\nThe meeting moves to 4 pm.\n\nBest regards,\nKen"
)


@pytest.mark.parametrize(
    ("answer", "lang", "passed", "score"),
    [
        (JA_MAIL, "ja", True, 1.0),
        ("拝啓\n時下ますますご清栄のこととお喜び申し上げます。\n敬具", "ja", True, 1.0),
        ("明日の会議は16時からです。資料は今日送ります。", "ja", False, 1 / 9),  # 1 of 3 parts
        ("お世話になっております。明日の会議は16時からです。", "ja", False, 4 / 9),
        (EN_MAIL, "en", True, 1.0),
        ("Hi Priya,\n\nCan we meet on Friday?\n\nThanks,\nAlex", "en", True, 1.0),
        ("The meeting moves to 4 pm.", "en", False, 1 / 9),
        ("Dear Ms. Tanaka,\n\nThe meeting moves to 4 pm.", "en", False, 4 / 9),
        ("Dear Ms. Tanaka,\n\nBest regards,\nKen", "en", False, 4 / 9),  # no body
    ],
)
def test_mail(answer: str, lang: str, passed: bool, score: float) -> None:
    v = g.check_mail(answer, lang)
    assert (v.passed, v.score) == (passed, pytest.approx(score))
    assert v.kind == ("" if passed else "format")


def test_mail_subject_when_asked_and_only_the_opening_on_a_beginning() -> None:
    assert g.check_mail(JA_MAIL, "ja", subject=True).passed
    assert g.check_mail(EN_MAIL, "en", subject=True).passed
    no_subject = EN_MAIL.split("\n", 2)[2]
    assert g.check_mail(no_subject, "en").passed
    v = g.check_mail(no_subject, "en", subject=True)
    assert (v.passed, v.detail) == (False, "no mail subject")
    assert v.score == pytest.approx(9 / 16)
    beginning = "Subject: New time\n\nDear Ms. Tanaka,\n\nThe"
    assert g.check_mail(beginning, "en", subject=True, prefix=True).passed
    assert not g.check_mail("The meeting moves to", "en", prefix=True).passed


@pytest.mark.parametrize(
    ("answer", "passed"),
    [
        ("説明です。\n```python\ndef f():\n    return 1\n```", True),
        ("Here:\n```\ndef f():\n    return 1\n```", True),
        ("~~~py\nx = 1\n~~~", True),
        ("def f():\n    return 1", False),  # no fence
        ("```javascript\nconst x = 1;\n```", False),
    ],
)
def test_code_block(answer: str, passed: bool) -> None:
    v = g.check_code_block(answer, "python")
    assert v.passed is passed
    assert v.kind == ("" if passed else "format")


def test_code_blocks_parse_tags_and_unclosed_fence() -> None:
    blocks = code_blocks("a\n```Python title\nx = 1\n```\nb\n```\ny = 2\n")
    assert [(b.lang, b.body) for b in blocks] == [("python", "x = 1"), ("", "y = 2")]


# ---------------------------------------------------------------- JSON

KEYS = {"name": "str", "height_m": "number", "completed_year": "int"}


@pytest.mark.parametrize(
    ("answer", "allow_fence", "kind"),
    [
        ('{"name": "東京タワー", "height_m": 333, "completed_year": 1958}', True, ""),
        ('```json\n{"name": "x", "height_m": 332.9, "completed_year": 1958}\n```', True, ""),
        ('```json\n{"name": "x", "height_m": 1, "completed_year": 1}\n```', False, "invalid_json"),
        ('{"name": "x", "height_m": 333}', True, "format"),  # a key missing
        ('{"name": "x", "height_m": "333m", "completed_year": 1958}', True, "format"),
        ('{"name": "x", "height_m": 333, "completed_year": true}', True, "format"),  # bool≠int
        ('["東京タワー", 333, 1958]', True, "format"),
        ('{"name": "東京タワー", "height_m": 333,', True, "invalid_json"),
        ("東京タワーは333mです。", True, "invalid_json"),
        ("[" * 100_000 + "]" * 100_000, True, "invalid_json"),  # past the decoder's depth
    ],
)
def test_json(answer: str, allow_fence: bool, kind: str) -> None:
    v = g.check_json(answer, KEYS, allow_fence)
    assert v.kind == kind
    assert v.passed is (kind == "")


# ---------------------------------------------------------------- code runner

GOOD_CODE = "Here it is:\n```python\ndef double(x):\n    return x * 2\n```\n"


def test_run_python_passing_snippet() -> None:
    r = run_python("def double(x):\n    return x * 2\n", "assert double(21) == 42\n")
    assert r.passed and r.returncode == 0 and not r.timed_out


def test_run_python_failing_assert() -> None:
    r = run_python("def double(x):\n    return x + 2\n", "assert double(21) == 42\n")
    assert not r.passed and r.returncode != 0
    assert "AssertionError" in r.stderr_tail


def test_run_python_infinite_loop_hits_the_time_limit() -> None:
    start = time.monotonic()
    r = run_python("while True:\n    pass\n", "", timeout_s=1.0)
    assert not r.passed and r.timed_out and r.returncode is None
    assert time.monotonic() - start < 5


# touches 1.5 GB in 64 MB steps, then exits 0: it passes only if no limit stopped it
MEMORY_HOG = "hog = [b'\\x01' * (64 << 20) for _ in range(24)]\n"


def test_run_python_memory_hog_hits_the_memory_limit() -> None:
    r = run_python(MEMORY_HOG, "", timeout_s=20.0, memory_mb=256)
    assert not r.passed and not r.timed_out
    assert r.out_of_memory


def test_run_python_isolation() -> None:
    # demo code under __main__ does not run (input() would fail on the closed stdin);
    # an early sys.exit(0) cannot skip the checks; the cwd is a fresh temp dir
    demo = "def one():\n    return 1\nif __name__ == '__main__':\n    input()\n"
    assert run_python(demo, "assert one() == 1\n").passed
    assert not run_python("import sys\nsys.exit(0)\n", "assert False\n").passed
    cwd = "import os\nassert os.listdir('.') == [], os.listdir('.')\n"  # an empty private folder
    assert run_python("", cwd).passed
    assert not run_python("input()\n", "").passed


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (GOOD_CODE, "def double(x):\n    return x * 2\n"),
        ("```py\na = 1\n```\n```python\nb = 2\n```", "a = 1\n\nb = 2\n"),
        ("```python\nx = 1\n```\n```\n>>> x\n1\n```", "x = 1\n"),  # REPL transcript skipped
        ("```bash\npip install foo\n```", ""),
        ("x = 1\nprint(x)\n", "x = 1\nprint(x)\n"),  # bare code that compiles
        ("This is prose, not code.", ""),
    ],
)
def test_extract_python(answer: str, code: str) -> None:
    assert extract_python(answer) == code


@pytest.mark.parametrize(
    ("answer", "passed", "detail"),
    [
        (GOOD_CODE, True, "checks passed"),
        (GOOD_CODE.replace("x * 2", "x + 2"), False, "AssertionError"),
        ("```python\ndef double(x):\n    while True:\n        pass\n```", False, "timed out"),
        ("I cannot write code.", False, "no Python code"),
        ("```python\ndef double(x) return 2x\n```", False, "SyntaxError"),
    ],
)
def test_check_code(answer: str, passed: bool, detail: str) -> None:
    v = g.check_code(answer, g.Code(checks="assert double(21) == 42\n", timeout_s=1.0))
    assert v.passed is passed
    assert v.kind == ("" if passed else "code_failed")
    assert detail in v.detail


# ---------------------------------------------------------------- grade()

JA_SPECS: list[g.GraderSpec] = [g.Language(), g.Facts(required=HASH), g.Length(max_chars=400)]


@pytest.mark.parametrize(
    ("answer", "failures", "quality"),
    [
        (JA_GOOD, [], 1.0),
        ("", ["empty"], 0.0),
        ("  \n", ["empty"], 0.0),
        ("セキュリティのためです。", ["missing_fact"], 0.0),  # no evidence: nothing else counts
        ("<think>簡単に</think>" + JA_GOOD, ["leaked_reasoning"], 0.25),  # a gate: x 0.25
        ("申し訳ありませんが、そのご依頼にはお応えできません。", ["missing_fact", "refusal"], 0.0),
        (EN_GOOD, ["wrong_language"], 0.0),  # fatal
        (ZH, ["wrong_language", "missing_fact"], 0.0),
        ("ハッシュ化です。" * 60, ["too_long", "loop"], 0.0),
    ],
)
def test_grade(answer: str, failures: list[str], quality: float) -> None:
    result = g.grade(answer, JA_SPECS, "パスワードはなぜ安全なの?")
    assert result.failures == failures
    assert result.passed is (not failures)
    assert result.quality == pytest.approx(quality, abs=1e-3)
    assert set(result.failures) <= g.KINDS


def test_grade_is_the_product_of_the_evidence_weights_are_exponents() -> None:
    three = [["a1"], ["b2"], ["zz"]]  # 2 of 3 found: scores 2/3, passing with min_groups=2
    specs = [g.Facts(required=three, min_groups=2), g.Length(max_chars=5, weight=2.0)]
    result = g.grade("a1 b2 here", specs, "", lang="en", baseline=False)
    assert result.quality == pytest.approx(2 / 3 * (5 / 10) ** 2, abs=1e-4)
    assert len(result.verdicts) == 2
    root = [g.Facts(required=three, min_groups=2, weight=0.5)]
    assert g.grade("a1 b2", root, "", lang="en", baseline=False).quality == pytest.approx(
        (2 / 3) ** 0.5, abs=1e-4
    )


def test_gates_do_not_count_as_evidence() -> None:
    """A loop-free answer in the right language with no task evidence is worth nothing."""
    specs: list[g.GraderSpec] = [g.Language(), g.Facts(required=HASH)]
    result = g.grade("Sea turtles live long.", specs, "Why?", lang="en")
    assert result.quality == 0.0 and result.failures == ["missing_fact"]


def test_grade_length_ratio_defaults_to_the_prompt() -> None:
    prompt = "次の文章を要約してください。" + "長い原文です。" * 40
    assert g.grade("短い要約です。", [g.Length(max_ratio=0.5)], prompt).passed
    assert not g.grade(prompt, [g.Length(max_ratio=0.5)], prompt).passed


def test_verdict_and_grade_are_msgspec_structs() -> None:
    result = g.grade(JA_GOOD, JA_SPECS, "質問", lang="ja")
    decoded = msgspec.json.decode(msgspec.json.encode(result), type=g.Grade)
    assert decoded == result


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=400))
def test_grade_quality_is_always_in_range(answer: str) -> None:
    specs: list[g.GraderSpec] = [
        g.Language(expect="en"),
        g.Facts(required=HASH),
        g.Length(max_chars=100),
        g.Json(keys={"a": "int"}),
    ]
    result = g.grade(answer, specs, "Why?")
    assert 0.0 <= result.quality <= 1.0
    assert all(0.0 <= v.score <= 1.0 for v in result.verdicts)
    assert set(result.failures) <= g.KINDS
