"""Generate the classifier's multi-turn data: conversations in Japanese and English whose later
user turns either follow up on the task (keep it) or switch to a new one.

`turns.jsonl` (training, written into the package beside `train.jsonl`), `dev_turns.jsonl` and
`heldout_turns.jsonl` (beside this file). Written for this project (nothing downloaded). One
conversation a line:

    {"lang": "en", "system": "...",           # system optional
     "turns": [{"user": ..., "task": ..., "kind": "first"|"follow"|"switch",
                "from": N, "answer": ...}, ...]}

`task` is the turn's true task; `from` the 1-based user turn its task was read from (a
follow-up's is the turn it follows, recursively; a first turn or a switch is its own);
`answer` the assistant's reply after the turn (absent on the last). 2-6 user turns.

What a follow-up is (keeps the task): an edit of the last answer (shorter, 1 line, more
polite, funnier, add X, rename Y), a continuation (continue, what next, another one), the same
work on new material ("and this one: ..."), a question about the same thing ("and France?").
What a switch is: work of another kind named on the last answer ("now translate that",
"summarize it", 「それをメールにして」), an unrelated new request (with or without a marker:
"by the way", 「話は変わるけど」), or a pasted stack trace after something else.

Each split has its own follow-up and switch phrasings and its own opening requests (the first
turns come from the split's single-turn set written by `make_data.py`: `train.jsonl`,
`dev.jsonl`, `heldout.jsonl`) and material slots (`make_data.SLOTS`), so the held-out set
measures generalisation, not memory. The assistant answers are shared by all splits: only
their shape (length, a code fence) is read. The held-out conversations are written by
`blind_turns.py` instead (its own phrasings, requests, material and answers, written blind to
the ones here; only `heldout.jsonl`'s openers are shared). The spent blind sets (v2-v5,
`SPENT`: each measured once, blind) are appended to `turns.jsonl` as training, every
`heldout.jsonl` text in them replaced (see `spent`). Seeded, so reproducible:

    .venv/bin/python benchmarks/classify/make_turns.py
"""

# ruff: noqa: E501  (a data file: its phrasings are string literals)

from __future__ import annotations

import argparse
import random
import re
import sys
from pathlib import Path

import msgspec

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent))

import blind_turns  # noqa: E402  (the held-out split's own phrasings)
import make_data  # noqa: E402
import turn_phrases  # noqa: E402

from router.tasks import TASKS  # noqa: E402

SEED = 20260315
CONVERSATIONS = {"train": 2500, "dev": 200, "heldout": 160}  # per language
FOLLOW_SHARE = 0.6  # of the turns after the first
COMPOSED = 0.75  # train and dev: share of later turns from turn_phrases' compositions
SPLITS = ("train", "dev", "heldout")
SPENT = (  # v2-v5: training
    "heldout_turns.jsonl",
    "blind3_turns.jsonl",
    "blind4_turns.jsonl",
    "blind5_turns.jsonl",
)
Pools = dict[str, dict[str, dict[str, list[str]]]]  # [task][lang][split]


def _pools(**by_task: tuple[list[str], ...]) -> Pools:
    """{task: (ja train, ja dev, ja heldout, en train, en dev, en heldout)} as [task][lang][split]."""
    return {
        task: {
            "ja": dict(zip(SPLITS, lists[:3], strict=True)),
            "en": dict(zip(SPLITS, lists[3:], strict=True)),
        }
        for task, lists in by_task.items()
    }


# Follow-ups that keep the task, per task.
FOLLOW = _pools(
    summarize=(
        [
            "もっと短く",
            "一行で",
            "もっと短くして",
            "二行にまとめ直して",
            "箇条書きにして",
            "これもお願い\n\n{m}",
            "同じ感じでこれも\n{m}",
            "次はこれ:\n{m}",
            "数字は省いて",
            "30字以内で",
            "もう少し詳しく",
            "二つ目のポイントをもう少し",
            "それ、もっと簡潔に",
            "結論だけ教えて",
            "長い。半分に",
        ],
        [
            "さらに短く",
            "一文でお願い",
            "こっちもまとめて\n{m}",
            "三つの箇条書きにして",
            "もうちょい詳しめに",
        ],
        [
            "ツイートくらいの長さにして",
            "半分の長さで",
            "この記事も同じように\n\n{m}",
            "見出しだけにして",
            "5項目以内の箇条書きで",
            "結論が抜けてる、入れ直して",
        ],
        [
            "shorter",
            "make it shorter",
            "in one line please",
            "can you cut it to 2 bullet points",
            "too long, half that",
            "and this one:\n\n{m}",
            "same for this:\n{m}",
            "now do this article too:\n\n{m}",
            "more detail on the second point",
            "keep it under 20 words",
            "use bullets instead",
            "drop the numbers, keep the gist",
            "it misses the part about the budget, add it",
            "even shorter",
            "just the key takeaway",
        ],
        [
            "shorter still",
            "one sentence only",
            "do the same with this one:\n{m}",
            "put it as three bullets",
            "a bit longer, you skipped stuff",
        ],
        [
            "trim that down to a tweet",
            "cut it in half",
            "this one as well please:\n\n{m}",
            "ok now give me just a headline version",
            "can you make it 5 bullets max",
            "you left out the conclusion, redo it",
        ],
    ),
    business_mail=(
        [
            "もっと丁寧にして",
            "もう少しカジュアルに",
            "件名もつけて",
            "日付を金曜に変えて",
            "署名を営業部の田中にして",
            "もう少し短く",
            "謝罪の一文を足して",
            "硬すぎるので柔らかく",
            "敬語をもう少し丁寧に",
            "請求書番号4471も入れて",
            "これも同じ感じで: {note}",
            "締めの挨拶を変えて",
        ],
        [
            "もっとへりくだった感じで",
            "最後の段落はいらない",
            "明日電話する旨も書いて",
            "これもメールにして: {note}",
        ],
        [
            "少しトーンを落として",
            "お詫びを冒頭に持ってきて",
            "火曜を木曜に直して",
            "結びの一文を追加して",
            "次はこの件で同じように:{note}",
            "長いのでもう少しコンパクトに",
        ],
        [
            "more polite",
            "make it more formal",
            "a bit shorter please",
            "add a line thanking them for their patience",
            "change the date to Friday",
            "sign it as Ken from Sales",
            "less stiff",
            "can you add a subject line",
            "make the tone warmer",
            "it sounds too pushy, soften it",
            "also mention the invoice number 4471",
            "again but for this one: {note}",
        ],
        [
            "more formal still",
            "drop the last paragraph",
            "add that we'll call them tomorrow",
            "and the same for this one: {note}",
        ],
        [
            "tone it down a little",
            "put the apology first",
            "swap Tuesday for Thursday in it",
            "needs a closing line",
            "could you also write one for this: {note}",
            "too long for an email, tighten it",
        ],
    ),
    story=(
        [
            "続きを書いて",
            "続き",
            "もっと面白くして",
            "悲しい結末にして",
            "主人公の名前をミアに変えて",
            "ドラゴンを登場させて",
            "もっと短く",
            "次の章もお願い",
            "猫の視点で書き直して",
            "もっと怖くして",
            "セリフを増やして",
            "オチを変えて",
            "その後どうなるの?",
            "もう少し長く",
        ],
        ["続きお願い", "ハッピーエンドにして", "しゃべる犬を出して", "第二話も"],
        [
            "それで、どうなったの?続けて",
            "結末をみんな助かる形に書き換えて",
            "悪役も出してほしい",
            "一人称で書き直して",
            "真ん中をもう少し膨らませて",
            "この先も書いて",
        ],
        [
            "continue it",
            "continue",
            "what happens next?",
            "make it funnier",
            "give it a sad ending",
            "shorter please",
            "add a dragon",
            "rename the hero to Mia",
            "write the next chapter",
            "again, but from the cat's point of view",
            "make it scarier",
            "more dialogue",
            "keep going",
            "end it with a twist",
        ],
        ["go on", "now a happier ending", "add a talking dog", "part two please"],
        [
            "keep it going",
            "what does she do after that?",
            "rewrite the ending so everyone survives",
            "put a villain in it",
            "tell it in first person instead",
            "make the middle part longer",
        ],
    ),
    explain_simple=(
        [
            "もっと簡単に",
            "もっとやさしく",
            "お菓子で例えて",
            "うちの子まだわかってない",
            "一文で",
            "4歳にもわかるように",
            "{concept}も同じように",
            "難しい言葉なしで",
            "面白い豆知識も足して",
            "例を一つ増やして",
        ],
        ["さらにやさしく", "おもちゃで例えて", "次は{concept}で同じように", "もう少し短く"],
        [
            "まだ難しいみたい、もう一回",
            "ピザで例えてみて",
            "{concept}も同じノリで",
            "カタカナ語を使わないで",
            "ひとことで言うと?",
            "最後に確認クイズをひとつ付けて",
        ],
        [
            "simpler",
            "even simpler please",
            "use an example with candy",
            "my kid still doesn't get it",
            "shorter, one sentence",
            "explain it like she's 4",
            "same for {concept}",
            "without any big words",
            "add a fun fact",
            "one more example please",
        ],
        ["simpler still", "use a toy example", "now the same for {concept}", "fewer words"],
        [
            "a five-year-old would still be lost, try again",
            "can you use a pizza analogy",
            "do {concept} the same way",
            "drop the jargon",
            "one short sentence please",
            "add a little question to check she got it",
        ],
    ),
    style_rewrite=(
        [
            "もっと",
            "もっとギャルっぽく",
            "もう少し控えめに",
            "これもお願い:{s}",
            "同じ感じで:{s}",
            "絵文字減らして",
            "もっと大げさに",
            "もう一回、もっと強めに",
            "次これ:{s}",
            "もうちょいナチュラルに",
        ],
        ["さらに強めで", "ちょっとマイルドに", "これも:{s}", "もう一声"],
        [
            "もっと盛って",
            "ちょっとやりすぎ、抑えて",
            "この文も同じノリで:{s}",
            "テンション上げて",
            "記号少なめで",
            "次の文:{s}",
        ],
        [
            "more!",
            "even more slang",
            "tone it down a bit",
            "and this one: {s}",
            "same style for: {s}",
            "make it sound older",
            "less emoji",
            "more over the top",
            "try again, stronger",
            "now do: {s}",
        ],
        ["go further", "a bit milder", "this one too: {s}", "again, stronger"],
        [
            "crank it up",
            "dial it back a notch",
            "do the same to this: {s}",
            "needs more attitude",
            "fewer exclamation marks",
            "next sentence: {s}",
        ],
    ),
    translate=(
        [
            "次はドイツ語で",
            "スペイン語だと?",
            "これもお願い:{s}",
            "もっと自然に",
            "直訳で",
            "同じように:{s}",
            "丁寧語で",
            "韓国語にも",
            "もう少しくだけた感じで",
            "別の訳し方も",
        ],
        ["フランス語でも", "これも:{s}", "カジュアルに", "イタリア語は?"],
        [
            "ポルトガル語版も",
            "中国語だとどうなる?",
            "次:{s}",
            "ネイティブっぽい言い回しで",
            "逐語訳にして",
            "この一文も同じく:{s}",
        ],
        [
            "now German",
            "and in Spanish?",
            "and this one: {s}",
            "more casual",
            "more literal please",
            "same for: {s}",
            "shorter",
            "use the polite form",
            "now into Korean",
            "give me two alternatives",
        ],
        ["now French", "this one too: {s}", "less formal", "what about Italian?"],
        [
            "Portuguese as well",
            "how about in Chinese",
            "next: {s}",
            "too stiff, say it like a native would",
            "word for word this time",
            "do this line the same way: {s}",
        ],
    ),
    code=(
        [
            "型ヒントを付けて",
            "エラー処理も入れて",
            "もっと速くして",
            "テストも書いて",
            "内包表記で書き直して",
            "空のリストだと落ちる",
            "関数名をmean_ofに変えて",
            "コメントを付けて",
            "JavaScriptでも同じの",
            "非同期にして",
            "もっと短く書ける?",
            "計算量は?",
            "これもお願い\n{code}",
        ],
        ["docstringを付けて", "再帰をやめてループにして", "単体テストを書いて", "Goに移植して"],
        [
            "ジェネレーターも受け付けるようにして",
            "O(n)にできる?",
            "関数を二つに分けて",
            "Rustで同じことを",
            "各ステップでログを出して",
            "要素が一つのとき壊れる",
        ],
        [
            "add type hints",
            "now with error handling",
            "make it faster",
            "can you add tests for it",
            "use a list comprehension instead",
            "it fails on empty input",
            "rename the function to mean_of",
            "add comments",
            "same thing in JavaScript",
            "make it async",
            "shorter version?",
            "what's the time complexity of it?",
            "and this one:\n{code}",
            "handle None too",
        ],
        ["add docstrings", "now make it iterative", "write a unit test for that", "port it to Go"],
        [
            "it should also accept a generator",
            "could you make it run in O(n)",
            "split it into two functions",
            "same idea but in Rust",
            "log each step",
            "it breaks when the list has one item",
        ],
    ),
    qa=(
        [
            "なんで?",
            "フランスは?",
            "どのくらいかかる?",
            "本当に?",
            "ソースある?",
            "冬だと?",
            "二番目は?",
            "いくらくらい?",
            "それってどういう意味?",
            "キロで言うと?",
            "もっと短く答えて",
            "今もそう?",
        ],
        ["それはなぜ?", "カナダは?", "距離はどのくらい?", "マジで?"],
        [
            "前の年はどうだった?",
            "どっちが大きい?",
            "え、どうして?",
            "子供の場合は?",
            "だいたい何人くらい?",
            "数字だけ教えて",
        ],
        [
            "why?",
            "and what about France?",
            "how long does it take?",
            "are you sure?",
            "source?",
            "what about in winter?",
            "and the second largest?",
            "how much does it cost?",
            "in kilometers please",
            "shorter answer please",
            "what does that mean?",
            "is that still true today?",
        ],
        ["why is that?", "and Canada?", "how far is that?", "really?"],
        [
            "what about the year before?",
            "which one is bigger?",
            "wait, how come?",
            "and for kids?",
            "roughly how many people?",
            "give me the number only",
        ],
    ),
)

# Follow-ups that fit any task.
GENERIC = {
    "ja": {
        "train": [
            "もう一回",
            "もう一つ",
            "やり直して",
            "もうちょっと短く",
            "もう少し長く",
            "別パターンで",
        ],
        "dev": ["もう一度", "他のも", "少し短めに"],
        "heldout": ["もう一回お願いできる?", "似たのをもう一つ", "ぎゅっと縮めて"],
    },
    "en": {
        "train": [
            "shorter",
            "try again",
            "another one",
            "one more",
            "redo it",
            "longer please",
            "can you make it a bit shorter?",
            "again",
        ],
        "dev": ["again please", "one more time", "a little shorter"],
        "heldout": ["give it another go", "one more like that", "tighter please"],
    },
}

# Switches that name new work on the last answer, per new task (no qa: a question about the
# answer is a follow-up; a new question is an unrelated request).
SWITCH = _pools(
    summarize=(
        ["今のを三行で要約して", "それ、要約して", "要点だけまとめて", "一言でまとめると?"],
        ["今の答えを二行に縮めて要約して"],
        ["ここまでの内容を箇条書き3つに圧縮して", "今の話をかいつまんで三行で"],
        [
            "summarize that in 3 lines",
            "tl;dr of what you just wrote",
            "give me the gist of it in two bullets",
            "sum that up in one sentence",
        ],
        ["condense your answer into a 2-line summary"],
        ["boil all of that down to three bullet points", "recap what you said in a sentence"],
    ),
    business_mail=(
        [
            "それを上司へのメールにして",
            "これを取引先向けのメールに書き直して",
            "この内容でチーム宛のメールを作って",
        ],
        ["今のを部長宛てのメールにして"],
        ["この件、仕入先に送るメール文にして", "それをもとに人事部への連絡メールを書いて"],
        [
            "turn that into an email to my manager",
            "write an email to the client explaining this",
            "now draft a formal mail to the team about it",
        ],
        ["make that into a polite email for my boss"],
        ["can you put this in an email to our supplier?", "draft a message to HR based on that"],
    ),
    story=(
        ["それを元に短い物語を書いて", "これを童話にして", "この話で短編小説を書いて"],
        ["それをネタに小話を作って"],
        ["今の内容をもとに冒険の物語を書いて", "それを主人公にした絵本のお話を考えて"],
        [
            "write a short story based on that",
            "turn it into a bedtime story",
            "now make a fairy tale out of it",
        ],
        ["write a little story around that"],
        ["spin that into a short adventure story", "use that as the plot of a children's story"],
    ),
    explain_simple=(
        [
            "それを小学生にもわかるように説明して",
            "5歳児にもわかるように言って",
            "子供向けに説明し直して",
        ],
        ["おばあちゃんにもわかるように説明して"],
        ["それ、小学一年生に説明するならどう言う?", "今のを子供でもわかる言葉でかみくだいて"],
        [
            "explain that to a 10-year-old",
            "I don't get it, explain it like I'm five",
            "can you explain this for a kid",
        ],
        ["now explain that so my grandma gets it"],
        [
            "break that down for a child in primary school",
            "how would you say that to a first grader?",
        ],
    ),
    style_rewrite=(
        ["それをギャル語にして", "関西弁で言い換えて", "{style}に書き換えて"],
        ["今のを武士っぽい口調にして"],
        ["それをオネエ言葉で言い直して", "今の文を若者言葉に変換して"],
        ["now rewrite that in Gen Z slang", "say it like a pirate", "rewrite it in {style}"],
        ["make that sound like a cowboy"],
        ["redo that as a Shakespearean speech", "put that in valley girl speak"],
    ),
    translate=(
        ["それを英語に翻訳して", "今のを英訳して", "これを中国語にして"],
        ["その答えをフランス語に訳して"],
        ["今の文章、ドイツ語だとどうなる?", "それをスペイン語に直して"],
        [
            "now translate that into French",
            "translate it to Japanese",
            "can you put that in Spanish?",
        ],
        ["translate your answer into German"],
        ["render that in Italian please", "what would that be in Korean?"],
    ),
    code=(
        ["それをPythonで書いて", "これを自動化するスクリプトを書いて", "関数として実装して"],
        ["それをシェルスクリプトにして"],
        ["今のをJavaScriptの関数にして", "それをSQLで書くとどうなる?"],
        [
            "write a Python script that does that",
            "now write code to automate this",
            "can you implement that as a function?",
        ],
        ["give me a bash one-liner for that"],
        ["turn that into a small JavaScript function", "how would I do that in SQL?"],
    ),
)

# Markers before an unrelated new request.
MARKERS = {
    "ja": {
        "train": [
            "話は変わるけど、",
            "ところで、",
            "別件で、",
            "全然関係ないけど、",
            "話変わって、",
            "あと別の質問なんだけど、",
        ],
        "dev": ["それとは別に、", "話題を変えて、"],
        "heldout": ["ちなみに全く別の話で、", "さて、次の相談です。", "関係ない質問だけど、"],
    },
    "en": {
        "train": [
            "By the way, ",
            "Unrelated, but ",
            "Different topic: ",
            "New question: ",
            "Switching gears - ",
            "OK, something else. ",
            "Also, unrelated: ",
        ],
        "dev": ["Changing the subject, ", "Totally different thing: "],
        "heldout": ["Random question, ", "On another note, ", "Moving on: "],
    },
}

# What goes before a pasted stack trace.
TRACE_INTROS = {
    "ja": {
        "train": ["", "これ出た\n", "別件でエラー:\n", "スクリプトが落ちる\n"],
        "dev": ["", "こんなエラーが出る\n"],
        "heldout": ["", "関係ないけどこのエラー何?\n"],
    },
    "en": {
        "train": [
            "",
            "getting this now:\n",
            "new problem:\n",
            "different thing, my script crashes:\n",
        ],
        "dev": ["", "help, this came up:\n"],
        "heldout": ["", "unrelated, my build just died with this:\n"],
    },
}

# The assistant's answers, per task (shared by every split: only their shape is read).
ANSWERS = {
    "summarize": {
        "ja": [
            "要点は3つです。\n1. 工事のため一時的に閉鎖される\n2. 代わりの窓口が用意される\n3. 再開後は設備が新しくなる",
            "まとめると、利便性は上がる一方で課題も残っている、という内容です。",
            "・結論:計画は予定どおり進む\n・懸念:人手と予算\n・次の一手:来週までに案を出す",
        ],
        "en": [
            "Here's the gist:\n- the service pauses for renovation\n- a temporary alternative is available\n- it reopens with new facilities",
            "In short: the change helps most people, but cost and staffing remain open questions.",
            "Summary: the plan goes ahead on schedule; the main risk is the budget, and a revised proposal is due next week.",
        ],
    },
    "business_mail": {
        "ja": [
            "件名:打ち合わせ日程変更のお願い\n\n○○株式会社\n△△様\n\nいつもお世話になっております。\n誠に恐縮ですが、明日の打ち合わせを16時に変更させていただけますでしょうか。\nご迷惑をおかけし申し訳ございません。\n\nよろしくお願いいたします。",
            "お世話になっております。\n先日はありがとうございました。ご依頼の件、今週中にご回答いたします。\n引き続きよろしくお願いいたします。",
        ],
        "en": [
            "Subject: Updated delivery date\n\nDear Ms. Carter,\n\nThank you for your patience. Unfortunately, your order will arrive two days later than planned. We apologise for the inconvenience.\n\nBest regards,\nKen",
            "Hi team,\n\nA quick update: the review meeting moves to Thursday at 3 pm. Please let me know if that doesn't work for you.\n\nThanks,\nSara",
        ],
    },
    "story": {
        "ja": [
            "ある小さな港町に、空を飛ぶことを夢見る猫がいました。毎晩、灯台のてっぺんで星を数えていた猫のもとに、ある日一通の手紙が届きます。そこには「月で待っています」とだけ書かれていました……",
            "雨の夜、古本屋の奥で少女は光る一冊を見つけた。ページを開くと、知らない街の地図が浮かび上がり、彼女の名前が小さく書き込まれていた。",
        ],
        "en": [
            'Once upon a time, in a harbor town, a cat named Pip dreamed of flying. Every night she counted stars from the top of the lighthouse, until one morning a letter arrived that said only: "We are waiting for you on the moon."',
            "The rain hadn't stopped for three days when Mara found the glowing book at the back of the shop. Its first page was a map of a city she had never seen, with her own name written in the corner.",
        ],
    },
    "explain_simple": {
        "ja": [
            "植物は、おひさまの光をごはんにしているんだよ。葉っぱが光と水と空気を使って、自分の栄養を作っているんだ。",
            "お金の値打ちが少しずつ下がって、同じおかしを買うのにたくさんお金がいるようになることだよ。",
        ],
        "en": [
            "Plants make their own food from sunlight! Their leaves catch the light and mix it with water and air to make sugar, like a tiny kitchen.",
            "Imagine your favorite candy cost 1 dollar last year and 2 dollars now. Your money buys less, and that's inflation.",
        ],
    },
    "style_rewrite": {
        "ja": [
            "今日マジ疲れたから秒で寝るわ〜💤 おやすみ〜!",
            "まじ卍〜!明日の会議10時からとか朝早すぎてウケる😂",
        ],
        "en": [
            "ngl today wiped me out fr, i'm going to bed early, night y'all 💤",
            "Verily, I am most weary this day, and so I shall retire early to my chambers.",
        ],
    },
    "translate": {
        "ja": [
            "I'm really tired today, so I'll go to bed early.",
            "The meeting tomorrow starts at 10 a.m.",
            "Where is the nearest station?",
        ],
        "en": [
            "今日はとても疲れたので、早めに寝ます。",
            "明日の会議は午前10時から始まります。",
            "Où est la gare la plus proche ?",
        ],
    },
    "code": {
        "ja": [
            'こちらです。\n\n```python\ndef average(nums: list[float]) -> float:\n    if not nums:\n        raise ValueError("empty list")\n    return sum(nums) / len(nums)\n```\n\n空のリストでは例外を出すようにしています。',
            '```javascript\nfunction reverse(s) {\n  return [...s].reverse().join("");\n}\n```\nスプレッド構文でサロゲートペアも正しく扱えます。',
        ],
        "en": [
            'Here you go:\n\n```python\ndef average(nums: list[float]) -> float:\n    if not nums:\n        raise ValueError("empty list")\n    return sum(nums) / len(nums)\n```\n\nIt raises on an empty list instead of dividing by zero.',
            '```javascript\nfunction reverse(s) {\n  return [...s].reverse().join("");\n}\n```\nSpreading the string keeps emoji intact.',
        ],
    },
    "qa": {
        "ja": [
            "富士山の標高は3,776メートルで、日本で最も高い山です。",
            "オーストラリアの首都はキャンベラです。シドニーと間違えられやすいですね。",
            "一般的には大人で1日7〜8時間の睡眠がすすめられています。",
        ],
        "en": [
            "Mount Fuji is 3,776 meters tall, the highest mountain in Japan.",
            "The capital of Australia is Canberra, not Sydney as many people think.",
            "Most adults need about seven to eight hours of sleep a night.",
        ],
    },
}

_SLOT = re.compile(r"\{(\w+)\}")


def openers(split: str) -> dict[tuple[str, str], list[dict[str, str]]]:
    """The split's single-turn requests by (task, language): a conversation's first turns
    and its unrelated new requests."""
    path = make_data.TRAIN_DIR / "train.jsonl" if split == "train" else HERE / f"{split}.jsonl"
    rows = [msgspec.json.decode(line) for line in path.read_bytes().splitlines() if line]
    out: dict[tuple[str, str], list[dict[str, str]]] = {}
    for row in rows:
        out.setdefault((row["task"], row["lang"]), []).append(row)
    return out


def spent(opened: dict[tuple[str, str], list[dict[str, str]]]) -> list[dict]:
    """The spent blind sets' conversations (`SPENT`: each author's phrasings, measured once
    blind, now training), with nothing of `heldout.jsonl` (the single-turn held-out set, which
    later blind sets open with): a turn (or system prompt) holding one of its texts becomes a
    training request of the same task and language, or, a follow-up, ends the conversation."""
    return [conv for convs in spent_sets(opened).values() for conv in convs]


def spent_sets(
    opened: dict[tuple[str, str], list[dict[str, str]]], names: tuple[str, ...] = SPENT
) -> dict[str, list[dict]]:
    """`spent`'s conversations by the blind set they come from (`names`, in order; the
    leave-one-author-out evaluation, `loao.py`, also asks for sets not yet training), each
    marked with its `author` (the set's name: `heldout` for v2, `blind3`, ...), which the
    detector's fitting weighs more than make_turns' own (`classifier_turns.AUTHORED`)."""
    rng = random.Random(f"{SEED}/spent")
    rows = [
        msgspec.json.decode(line)
        for line in (HERE / "heldout.jsonl").read_bytes().split(b"\n")
        if line
    ]
    texts = {r["text"].strip() for r in rows}
    held = {r["text"].strip()[:40] for r in rows if len(r["text"].strip()) >= 12}
    held |= {r["system"] for r in rows if r.get("system")}
    out: dict[str, list[dict]] = {}
    for name in names:
        out[name] = []
        for line in (HERE / name).read_bytes().splitlines():
            conv = msgspec.json.decode(line)
            if conv.get("system") in held:
                del conv["system"]
            kept: list[dict] = []
            for turn in conv["turns"]:
                if turn["user"].strip() in texts or any(h in turn["user"] for h in held):
                    if turn["kind"] == "follow":
                        break
                    pool = opened[(turn["task"], conv["lang"])]
                    short = [o for o in pool if len(o["text"]) < 400 and not o.get("system")]
                    choice = rng.choice(short if kept else pool)
                    turn["user"] = choice["text"]
                    if not kept and choice.get("system"):
                        conv["system"] = choice["system"]
                kept.append(turn)
            if len(kept) >= 2:
                kept[-1].pop("answer", None)
                out[name].append(conv | {"turns": kept, "author": name.split("_")[0]})
    return out


def fill(rng: random.Random, text: str, lang: str, split: str) -> str:
    return _SLOT.sub(lambda m: make_data.slot_value(rng, m.group(1), lang, split), text)


def follow_turn(rng: random.Random, task: str, lang: str, split: str) -> str:
    if split != "heldout" and rng.random() < COMPOSED:
        return fill(rng, turn_phrases.follow_phrase(rng, task, lang, split), lang, split)
    pool = FOLLOW[task][lang][split]
    if rng.random() < 0.2:
        pool = GENERIC[lang][split]
    return fill(rng, rng.choice(pool), lang, split)


def switch_turn(
    rng: random.Random, new: str, lang: str, split: str, opened: dict[tuple[str, str], list]
) -> str:
    """A turn that asks for `new`: named on the last answer, a pasted trace, or unrelated."""
    r = rng.random()
    if split != "heldout" and r < 0.4 and rng.random() < COMPOSED:
        composed = turn_phrases.switch_phrase(rng, new, lang, split)
        if composed is not None:
            return fill(rng, composed, lang, split)
    if new in SWITCH and r < 0.4:
        return fill(rng, rng.choice(SWITCH[new][lang][split]), lang, split)
    if new == "code" and r < 0.7:
        trace = make_data.slot_value(rng, "trace", lang, split)
        return rng.choice(TRACE_INTROS[lang][split]) + trace
    short = [o["text"] for o in opened[(new, lang)] if len(o["text"]) < 400]
    text = rng.choice(short or [o["text"] for o in opened[(new, lang)]]).strip()
    if rng.random() < 0.5:
        marker = rng.choice(MARKERS[lang][split])
        if split != "heldout" and rng.random() < COMPOSED:
            marker = turn_phrases.marker(rng, lang, split)
        text = marker + (text[0].lower() + text[1:] if lang == "en" and marker[-1] == " " else text)
    return text


def conversation(rng: random.Random, lang: str, split: str, opened: dict) -> dict:
    first = rng.choice(opened[(rng.choice(TASKS), lang)])
    task, anchor = first["task"], 1
    turns = [{"user": first["text"], "task": task, "kind": "first", "from": 1}]
    n = rng.choice((2, 2, 3, 3, 3, 4, 4, 5, 6))
    for i in range(2, n + 1):
        turns[-1]["answer"] = rng.choice(ANSWERS[task][lang])
        if rng.random() < FOLLOW_SHARE:
            turns.append(
                {
                    "user": follow_turn(rng, task, lang, split),
                    "task": task,
                    "kind": "follow",
                    "from": anchor,
                }
            )
            continue
        task, anchor = rng.choice([t for t in TASKS if t != task]), i
        text = switch_turn(rng, task, lang, split, opened)
        turns.append({"user": text, "task": task, "kind": "switch", "from": i})
    conv: dict = {"lang": lang, "turns": turns}
    if first.get("system"):
        conv["system"] = first["system"]
    return conv


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--splits", default=",".join(SPLITS), help="which to write, e.g. train,dev")
    wanted = ap.parse_args(argv).splits.split(",")
    enc = msgspec.json.Encoder()
    for split in (s for s in SPLITS if s in wanted):
        rng = random.Random(f"{SEED}/{split}")
        opened = openers(split)
        make = blind_turns.conversation if split == "heldout" else conversation
        convs = [
            make(rng, lang, split, opened)
            for lang in ("ja", "en")
            for _ in range(CONVERSATIONS[split])
        ]
        rng.shuffle(convs)
        if split == "train":
            convs += spent(opened)
        folder = make_data.TRAIN_DIR if split == "train" else HERE
        name = "turns.jsonl" if split == "train" else f"{split}_turns.jsonl"
        with open(folder / name, "wb") as f:
            for conv in convs:
                f.write(enc.encode(conv) + b"\n")
        later = [t for c in convs for t in c["turns"][1:]]
        kinds = {k: sum(t["kind"] == k for t in later) for k in ("follow", "switch")}
        print(f"{split}: {len(convs)} conversations, {len(later)} later turns {kinds}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
