"""The held-out split of the multi-turn classifier data, written apart from the training
generator: its own follow-up and switch phrasings, opening requests, material and assistant
answers, in Japanese and English. `make_turns.py` writes `heldout_turns.jsonl` with
`conversation()` below (same format as its other splits; see its docstring).

Written blind by an author who did not read the training or dev phrasings, so a phrasing
here that also appears in training is a coincidence, which
`tests/routing/test_classifier_turns.py` checks for.

Each follow-up phrasing names the tasks it keeps (a tone edit keeps a mail a mail, "keep
going" only fits a story): a follow-up's label is the task of the turn it follows. Each
switch phrasing that works on the last answer names the tasks it may follow: "translate it
to French" is a switch after a mail but would be a follow-up after a translation, and
"explain that simply" after code could be code, so it is not offered there. Phrases whose
label a careful reader could dispute were left out.

Task codes in the tables: s summarize, m business_mail, t story, e explain_simple,
r style_rewrite, x translate, c code, q qa.
"""

# ruff: noqa: E501  (a data file: its phrasings are string literals)

from __future__ import annotations

import random
import re

from router.tasks import TASKS

CODES = dict(zip("smterxcq", TASKS, strict=True))
Phrase = tuple[str, str]  # (text with {slots}, codes of the tasks it keeps or may follow)

# Follow-ups: (phrasing, the tasks whose turn it can follow, keeping that task).
FOLLOW: dict[str, list[Phrase]] = {
    "ja": [
        ("もう少し短くできる?", "smterq"),
        ("長すぎ。半分くらいにして", "smte"),
        ("もっと詳しく書いて", "smte"),
        ("一文で言うと?", "seq"),
        ("ポイントを箇条書きに直して", "se"),
        ("みじかくして", "smte"),
        ("もう少しカジュアル寄りでお願い", "mtrx"),
        ("もうちょい丁寧な感じで", "mrx"),
        ("つづきをお願いします", "t"),
        ("その続きは?", "t"),
        ("続き書いて〜", "t"),
        ("それ、もう一個お願い", "t"),
        ("うーん、微妙。別の案を", "smtrxc"),
        ("えっと、もう一回やり直して", "smterxcq"),
        ("さっきのやつ、主人公の名前をミナに変えて", "t"),
        ("結末をハッピーエンドにしてほしい", "t"),
        ("さっきのをもっと面白くして", "t"),
        ("件名が抜けてるので足してください", "m"),
        ("署名は営業部の佐藤でお願いします", "m"),
        ("締切が金曜だってことも書き加えて", "m"),
        ("丁寧すぎるかも。少し砕けた感じに", "m"),
        ("敬語まちがってない?直して", "m"),
        ("あと一文足して、感謝の気持ちを", "m"),
        ("たとえ話を使って説明し直して", "e"),
        ("小学生でもわかるくらいにして", "e"),
        ("もっとやさしいことばで", "e"),
        ("ほかの例もある?", "e"),
        ("じゃあ{topic}は?", "e"),
        ("どうしてそうなるの?", "eq"),
        ("それって今も同じ?", "q"),
        ("根拠は?", "q"),
        ("それはいつ頃の話?", "q"),
        ("ドイツの場合は?", "q"),
        ("これも同じように訳して: {sent}", "x"),
        ("韓国語だとどうなる?", "x"),
        ("直訳っぽいから、もっと自然にして", "x"),
        ("これも頼む\n{para}", "s"),
        ("同じ要領でこっちも\n\n{para}", "s"),
        ("これ、三行くらいにまとめ直せる?", "s"),
        ("数字の部分は消していいよ", "s"),
        ("こっちも同じノリで変換して: {sent}", "r"),
        ("語尾をもっと強めに", "r"),
        ("型ヒントもつけて", "c"),
        ("空のリストを渡すと落ちるんだけど", "c"),
        ("関数名を load_rows に変えて", "c"),
        ("テストも書いてくれる?", "c"),
        ("pythonじゃなくてgoで", "c"),
        ("それ、もうちょい短めに", "smtecq"),
    ],
    "en": [
        ("can you trim that down a bit", "smterqc"),
        ("way too long lol", "smteq"),
        ("hmm, expand on that a little", "smte"),
        ("give me that in a single line", "seq"),
        ("bullet it", "se"),
        ("that but in 3 bullet points", "se"),
        ("shortr", "smteq"),
        ("make it sound less stiff", "mrx"),
        ("a touch more formal pls", "mrx"),
        ("pls keep going with it", "t"),
        ("ok and then what happens", "t"),
        ("another one like that but with a dragon", "t"),
        ("change the kid's name to Priya", "t"),
        ("give it a twist ending", "t"),
        ("needs more humor", "t"),
        ("nah, try that again", "smterxcq"),
        ("meh. different version?", "mtrxc"),
        ("its missing a subject line", "m"),
        ("sign off as Dana from accounts", "m"),
        ("also mention we can do a call on thursday", "m"),
        ("add that the invoice is attached", "m"),
        ("Could you make it a bit warmer in tone?", "m"),
        ("simpler please, im not a scientist", "e"),
        ("use an analogy maybe?", "e"),
        ("less jargon", "e"),
        ("right, and what about {topic}?", "e"),
        ("why tho", "eq"),
        ("and Germany?", "q"),
        ("is that still the case now?", "q"),
        ("how do you know that?", "q"),
        ("when did that happen?", "q"),
        ("whats the source for that", "q"),
        ("and into Portuguese?", "x"),
        ("sounds too literal, smoother please", "x"),
        ("same for this one pls: {sent}", "xr"),
        ("now this line: {sent}", "xr"),
        ("do the same for this: {para}", "s"),
        ("here's another article, same treatment\n\n{para}", "s"),
        ("this one too?\n{para}", "s"),
        ("drop the second point", "s"),
        ("cut the numbers, just the gist", "s"),
        ("more over the top, really lay it on", "r"),
        ("could you add type annotations to it", "c"),
        ("it blows up when the list is empty", "c"),
        ("call the function parse_rows instead", "c"),
        ("write a couple of unit tests for it too", "c"),
        ("can u make it async", "c"),
        ("no external libraries please", "c"),
        ("can i get it in go instead", "c"),
    ],
}

# Switches that name another kind of work on the last answer: (phrasing, tasks it may follow),
# by the task it asks for.
NAMED: dict[str, dict[str, list[Phrase]]] = {
    "ja": {
        "summarize": [("それを要約して", "tem"), ("今のを三行で要点だけまとめて", "tem")],
        "business_mail": [
            ("これを上司宛てのメールにしてくれる?", "seqc"),
            ("その内容でお客さん向けのお知らせメールを作って", "seq"),
        ],
        "translate": [
            ("それを英語に訳して", "smterq"),
            ("中国語版も作って", "mstr"),
            ("このメールの英語版もほしい", "m"),
        ],
        "story": [("これを元に短いお話を書いて", "seq")],
        "explain_simple": [("それ、子どもにもわかるように説明して", "qs")],
        "code": [
            ("今の手順をPythonのスクリプトにして", "eq"),
            ("それを自動でやるシェルスクリプト書ける?", "eq"),
        ],
        "style_rewrite": [
            ("次はこの文を関西弁っぽくして: {sent}", "smtexcq"),
            ("この一文、ギャル語に変換して: {sent}", "smtexcq"),
        ],
    },
    "en": {
        "summarize": [("can you summarize that for me", "tem"), ("tl;dr of that?", "tem")],
        "business_mail": [
            ("now turn that into an email to my boss", "seqc"),
            ("write a quick email to the team sharing this", "seqc"),
        ],
        "translate": [
            ("translate it to French", "smterq"),
            ("could you put that into Japanese?", "smteq"),
        ],
        "story": [
            ("make a short bedtime story out of it", "eqs"),
            ("ok now write a little story inspired by that", "eqs"),
        ],
        "explain_simple": [("explain that to me like I'm 8", "qs")],
        "code": [
            ("write a python script that does this", "qe"),
            ("now give me the SQL for that", "qe"),
        ],
        "style_rewrite": [
            ("rewrite this in pirate speak: {sent}", "smtexcq"),
            ("make this sound like a gen z text: {sent}", "smtexcq"),
        ],
    },
}

# New requests, unrelated to what came before: openers and switches.
REQUESTS: dict[str, dict[str, list[str]]] = {
    "ja": {
        "summarize": [
            "この記事の要点を3つ挙げて\n\n{para}",
            "会議メモです。決まったことだけ抜き出して短くまとめてください。\n\n{para}",
            "以下をざっくり要約お願い\n{para}",
        ],
        "business_mail": [
            "来週の打ち合わせを木曜から金曜にずらしたいと取引先に伝えるメールを書いて",
            "見積書の送付が遅れたお詫びメールを作成してください",
            "新任の挨拶メールを社外向けに書いてほしい",
        ],
        "story": [
            "月に住むうさぎの郵便屋さんの話を書いて",
            "雪の夜に迷子になったロボットが主人公の短い物語をお願い",
            "古い時計屋を舞台にしたちょっと不思議な話を作って",
        ],
        "explain_simple": [
            "地震が起きる仕組みを小学生にわかるように教えて",
            "インフレって何?専門用語なしで説明して",
            "なんで飛行機は空を飛べるのか、やさしく説明してほしい",
        ],
        "style_rewrite": [
            "「本日の会議は中止となりました」を友達に送る感じのくだけた言い方にして",
            "この文をお嬢様言葉にして: {sent}",
            "次の文を武士っぽい口調に書き換えて\n{sent}",
        ],
        "translate": [
            "「駅まで歩いて何分かかりますか」を英語にして",
            "次の文をフランス語に訳してください: {sent}",
            "Please put this into natural Japanese: The meeting was moved to next week.",
        ],
        "code": [
            "JavaScriptで配列の重複を取り除く関数を書いて",
            "Pythonでフォルダ内の画像を全部リサイズするスクリプトがほしい",
            "SQLで月ごとの売上合計を出すクエリを書いてください",
        ],
        "qa": [
            "富士山の高さって何メートル?",
            "日本で一番長い川は?",
            "ビタミンCが多い果物ってなに?",
            "オリンピックって何年ごとに開かれる?",
        ],
    },
    "en": {
        "summarize": [
            "Give me the key points of this in a few bullets:\n\n{para}",
            "summarize pls\n{para}",
            "Can you boil this down to two sentences?\n\n{para}",
        ],
        "business_mail": [
            "Write an email to a client letting them know the shipment will be two days late.",
            "draft a polite note to my landlord asking to fix the heating",
            "I need an email declining a vendor's proposal, keep it friendly but firm",
        ],
        "story": [
            "Write a short story about a mail carrier on the moon.",
            "tell me a story about a robot that gets lost in the snow",
            "Could you write a spooky tale set in an old clock shop?",
        ],
        "explain_simple": [
            "Explain how earthquakes happen like I'm ten.",
            "what is inflation, in plain english, no jargon",
            "Can you explain in simple terms how vaccines work?",
        ],
        "style_rewrite": [
            "Rewrite this so it sounds like a medieval knight: {sent}",
            "make this sentence super casual, like texting a friend: {sent}",
            "Turn this into overly dramatic Shakespearean English:\n{sent}",
        ],
        "translate": [
            "How do you say 'how long does it take to walk to the station' in Japanese?",
            "Translate to Spanish: {sent}",
            "put this into German please: {sent}",
        ],
        "code": [
            "write a JS function that removes duplicates from an array",
            "I need a Python script that resizes every image in a folder",
            "SQL query for total sales per month from an orders table?",
        ],
        "qa": [
            "How tall is Mount Everest?",
            "what's the longest river in Africa",
            "Which planet has the most moons?",
            "How many bones are in the adult human body?",
        ],
    },
}

MARKERS = {
    "ja": [
        "ところで、",
        "別件ですが、",
        "全然関係ないんだけど、",
        "話変わるけど、",
        "あと別の話で、",
        "それとは別に、",
    ],
    "en": [
        "btw ",
        "unrelated: ",
        "Different topic — ",
        "oh also, ",
        "Separate thing: ",
        "ok new question. ",
        "Switching gears: ",
    ],
}

TRACE_INTROS = {
    "ja": ["", "これ何が悪いの?\n", "急にこんなの出た\n", "別件で、ビルドが落ちる\n"],
    "en": ["", "getting this now, any idea?\n", "unrelated but what does this mean\n", "ugh:\n"],
}

TRACES = [
    'Traceback (most recent call last):\n  File "report.py", line 41, in build\n    total = rows["amount"]\nKeyError: \'amount\'',
    "TypeError: Cannot read properties of undefined (reading 'map')\n    at renderList (list.js:17:22)\n    at App (App.js:9:5)",
    "thread 'main' panicked at 'index out of bounds: the len is 3 but the index is 3', src/main.rs:14:18\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
    'Exception in thread "main" java.lang.NullPointerException\n\tat com.shop.Cart.total(Cart.java:28)\n\tat com.shop.Main.main(Main.java:11)',
    "panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a2b1c]\n\ngoroutine 1 [running]:\nmain.load(...)\n\t/app/main.go:23",
]

SLOTS: dict[str, dict[str, list[str]]] = {
    "topic": {
        "ja": ["虹", "円高", "ワクチン", "ブロックチェーン", "潮の満ち引き"],
        "en": ["black holes", "compound interest", "tides", "blockchains", "rainbows"],
    },
    "sent": {
        "ja": [
            "明日の朝は雨が降るらしいので傘を持っていきます。",
            "このお店のパンは毎朝売り切れてしまう。",
            "資料は金曜日までに共有してください。",
            "週末は家でゆっくり映画を見たい。",
        ],
        "en": [
            "The printer on the third floor is out of paper again.",
            "We will close early on Friday for the holiday.",
            "I can't find my keys anywhere.",
            "Please send the slides before noon.",
        ],
    },
    "para": {
        "ja": [
            "市内の公園で来月から夜間ライトアップが始まる。期間は三か月で、入場は無料。混雑を避けるため、週末は整理券を配る予定だという。",
            "ある食品メーカーは、包装材を紙に切り替えると発表した。プラスチックの使用量を年間で二割減らす見込みだが、価格は据え置く。",
            "新しい図書館アプリでは、貸出の延長や予約がスマホから行える。利用者の声を受けて、来年には電子書籍の貸出も始める。",
        ],
        "en": [
            "The city will add twelve new bike lanes by next spring. Officials say the lanes will connect the main train station to three large parks, and drivers should expect short detours during construction.",
            "A small bakery in town has started a pay-what-you-can day every Sunday. The owner says sales have held steady and that more regulars now bring friends.",
            "The school board voted to push start times back by forty minutes next year. Parents are split: some welcome more sleep for teenagers, others worry about after-school jobs.",
        ],
    },
}

# The assistant's replies after a turn, by the turn's task (only their shape is read).
ANSWERS: dict[str, dict[str, list[str]]] = {
    "summarize": {
        "ja": [
            "・来月から開始\n・費用は無料\n・週末は整理券あり",
            "要点は、包装を紙に変えてプラスチックを二割減らし、価格は変えないことです。",
        ],
        "en": [
            "- New lanes by spring\n- Connect station and parks\n- Short detours expected",
            "In short: the bakery's Sunday pay-what-you-can day is working and bringing in new customers.",
        ],
    },
    "business_mail": {
        "ja": [
            "件名:打ち合わせ日程変更のお願い\n\n○○株式会社\n△△様\n\nいつも大変お世話になっております。\n誠に恐縮ながら、来週の打ち合わせを金曜日に変更いただけないでしょうか。\n\nよろしくお願いいたします。"
        ],
        "en": [
            "Subject: Shipment delay\n\nDear Ms. Lee,\n\nI'm writing to let you know your order will arrive two days later than planned. We apologize for the inconvenience.\n\nBest regards,\nSam",
            "Hi Mark,\n\nThank you for the proposal. After careful review we've decided not to move forward at this time.\n\nKind regards,\nAlex",
        ],
    },
    "story": {
        "ja": [
            "月の郵便屋さんのピョンは、今日も大きなかばんを背負ってクレーターを跳ねていきました。届け先は、地球を一度も見たことがないという小さなうさぎの家でした。",
            "雪の夜、小さなロボットのテツは帰り道を見失いました。街灯がひとつずつ消えていく中、足跡だけが後ろに続いていました。",
        ],
        "en": [
            "Nobody on the moon got letters anymore, except old Mrs. Crater, and Pip delivered every one of them by hopping across the dust.",
            "The snow had buried every landmark, and Unit 7 stood still at the crossroads, its sensors blinking at a world gone white.",
        ],
    },
    "explain_simple": {
        "ja": [
            "地面の下には大きな岩の板があって、ゆっくり動いています。板どうしがぶつかって、たまった力が一気にはじけると、地面がゆれます。これが地震です。"
        ],
        "en": [
            "Think of the ground as giant puzzle pieces that slowly push on each other. When they slip suddenly, the ground shakes. That's an earthquake.",
            "A vaccine is like a wanted poster: it shows your body what a germ looks like, so your body is ready if the real one shows up.",
        ],
    },
    "style_rewrite": {
        "ja": ["今日の会議、なくなったよ〜!", "本日の会議は取りやめになりましたの。"],
        "en": [
            "Hark! The printer upon the third floor hath once more run dry of parchment.",
            "heads up, we're closing early friday 🎉",
        ],
    },
    "translate": {
        "ja": [
            "How many minutes does it take to walk to the station?",
            "Veuillez partager les documents avant vendredi.",
        ],
        "en": [
            "駅まで歩いて何分かかりますか?",
            "Cerraremos temprano el viernes por el día festivo.",
        ],
    },
    "code": {
        "ja": [
            "```javascript\nconst unique = (xs) => [...new Set(xs)];\n```\n`Set`で重複を取り除いています。"
        ],
        "en": [
            "```python\nfrom pathlib import Path\nfrom PIL import Image\n\nfor p in Path('imgs').glob('*.jpg'):\n    Image.open(p).resize((800, 600)).save(p)\n```",
            "```sql\nSELECT date_trunc('month', created_at) AS month, SUM(total)\nFROM orders GROUP BY 1 ORDER BY 1;\n```",
        ],
    },
    "qa": {
        "ja": [
            "富士山の高さは3776メートルです。",
            "日本で一番長い川は信濃川で、約367キロメートルです。",
        ],
        "en": ["Mount Everest is about 8,849 meters tall.", "The Nile, at roughly 6,650 km."],
    },
}

FOLLOW_SHARE = 0.6  # of the turns after the first
_SLOT = re.compile(r"\{(\w+)\}")


def fill(rng: random.Random, text: str, lang: str) -> str:
    return _SLOT.sub(lambda m: rng.choice(SLOTS[m.group(1)][lang]), text)


def follows(task: str, lang: str) -> list[str]:
    """The follow-up phrasings that keep `task`."""
    return [text for text, codes in FOLLOW[lang] if task in {CODES[c] for c in codes}]


def named(new: str, old: str, lang: str) -> list[str]:
    """The phrasings that ask for `new` on an answer of task `old`."""
    return [t for t, codes in NAMED[lang].get(new, []) if old in {CODES[c] for c in codes}]


def noisy(rng: random.Random, text: str, lang: str) -> str:
    """Users' surface noise on a short English turn: no capital, no final punctuation."""
    if lang != "en" or rng.random() > 0.15:
        return text
    return re.sub(r"[.?!]$", "", text[0].lower() + text[1:])


def request(rng: random.Random, task: str, lang: str, opened: dict) -> dict[str, str]:
    """A new request for `task`: this file's own, or one of the held-out single-turn set."""
    theirs = [o for o in opened.get((task, lang), []) if len(o["text"]) < 400]
    if theirs and rng.random() < 0.4:
        return rng.choice(theirs)
    return {"text": fill(rng, rng.choice(REQUESTS[lang][task]), lang), "task": task}


def switch_turn(rng: random.Random, new: str, old: str, lang: str, opened: dict) -> str:
    """A turn asking for `new` after a turn of `old`: named on the answer, a trace, or new."""
    r = rng.random()
    on_answer = named(new, old, lang)
    if on_answer and r < 0.4:
        return noisy(rng, fill(rng, rng.choice(on_answer), lang), lang)
    if new == "code" and r < 0.7:
        return rng.choice(TRACE_INTROS[lang]) + rng.choice(TRACES)
    text = request(rng, new, lang, opened)["text"].strip()
    if rng.random() < 0.5:
        marker = rng.choice(MARKERS[lang])
        lower = lang == "en" and marker[-1] == " " and not text.startswith("I ")
        text = marker + (text[0].lower() + text[1:] if lower else text)
    return text


def conversation(rng: random.Random, lang: str, split: str, opened: dict) -> dict:
    """One held-out conversation (`split` is always "heldout"; kept for make_turns' call)."""
    first = request(rng, rng.choice(TASKS), lang, opened)
    task, anchor = first["task"], 1
    turns = [{"user": first["text"], "task": task, "kind": "first", "from": 1}]
    for i in range(2, rng.choice((2, 2, 3, 3, 3, 4, 4, 5, 6)) + 1):
        turns[-1]["answer"] = rng.choice(ANSWERS[task][lang])
        if rng.random() < FOLLOW_SHARE:
            text = noisy(rng, fill(rng, rng.choice(follows(task, lang)), lang), lang)
            turns.append({"user": text, "task": task, "kind": "follow", "from": anchor})
            continue
        old, task, anchor = task, rng.choice([t for t in TASKS if t != task]), i
        text = switch_turn(rng, task, old, lang, opened)
        turns.append({"user": text, "task": task, "kind": "switch", "from": i})
    conv: dict = {"lang": lang, "turns": turns}
    if first.get("system"):
        conv["system"] = first["system"]
    return conv


def phrasings(lang: str) -> list[str]:
    """Every follow-up and named-switch phrasing of a language, slots cut off: what must not
    appear among the training conversations' later turns."""
    texts = [t for t, _ in FOLLOW[lang]] + [t for ps in NAMED[lang].values() for t, _ in ps]
    return [_SLOT.split(t)[0].strip() for t in texts]
