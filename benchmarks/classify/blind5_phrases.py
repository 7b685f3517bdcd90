"""Phrasings, material and answers of the fifth blind held-out multi-turn set (blind5_turns.py).

Written by a new author blind to the training/dev phrasings and to the earlier held-out sets.
`{m}` in a phrasing is filled from MATERIAL[lang][task]. Follow-ups keep the task of the turn
they follow (edits of the last answer, continuations, the same work on new material, questions
about the answer, approval with a small change, pushback). Switches ask for another task:
work of another kind named on the last answer (NAMED: phrasing, new task, tasks it may follow),
a new unrelated request (NEW, optionally after a MARKER), or a pasted error (ERRORS).
"""

from __future__ import annotations

# Tasks whose answers are prose a generic edit ("shorter", "more casual") applies to.
TEXTUAL = ("summarize", "business_mail", "story", "explain_simple", "style_rewrite")

GENERIC = {
    "ja": [
        "半分くらいの長さにできますか",
        "もうちょい短くまとめてほしい",
        "うーん、ちょっと固すぎるかな。もう少しくだけた感じで",
        "ええやん!でももうちょい柔らかい言い方にしてくれへん?",
        "いいですね。ただ最後の一文だけ削ってもらえますか",
        "箇条書きに直してもらえる?",
        "敬語をもう一段階上げてください",
        "ちょっと長すぎ。3文以内で",
        "別パターンも見たいです",
        "なんか違うんだよなぁ…もう一回書き直して",
        "小学生にもわかる言葉づかいにしてほしい",
        "語尾を「です・ます」に統一してもらえますか",
        "絵文字を少し足してカジュアルにして",
        "今のをもう少し詳しく書いてもらえますか",
        "最初の段落はそのままで、後半だけ変えてほしい",
        "それ、上司に見せる用にもっとちゃんとした感じにして",
        "草。もうちょい真面目なトーンでおなしゃす",
        "さっきのやつ、一文目を疑問形にしてみて",
    ],
    "en": [
        "can you cut that down to half the length",
        "too wordy tbh, trim it",
        "ok but make it sound less stiff",
        "love it! just drop the last sentence",
        "put that in bullet points pls",
        "make it a bit warmer",
        "hmm not quite. give me a different version",
        "shorter. like two sentences max",
        "could you make that more formal? it's going to my manager",
        "can u make it less corporate lol",
        "add a little more detail to the middle part",
        "good, but lose the exclamation marks",
        "rewrite that for a 12 year old",
        "keep the first paragraph, redo the rest",
        "that's a bit much 😅 tone it down",
        "same thing but as a numbered list",
        "nice. can the opening line be punchier?",
        "use simpler words, my audience isn't technical",
    ],
}

FOLLOW = {
    "ja": {
        "summarize": [
            "これもお願い:{m}",
            "同じ感じでこっちも要約して→{m}",
            "重要なポイント抜けてない?数字も入れて",
            "3行じゃなくて1行で",
            "いや、結論を先頭に持ってきてほしいんだけど",
            "要約の中の「コスト」って具体的に何のこと?",
            "それ、もうちょっと中立的な書き方にできる?",
        ],
        "business_mail": [
            "日付が間違ってます、正しくは15日(金)です",
            "件名をもう少し具体的にしてもらえますか",
            "いい感じ!ただ、お詫びの一文を冒頭に追加して",
            "宛先は部長じゃなくて課長でした、直してください",
            "署名は要らないので消してください",
            "これだと押しが強すぎる気がする、やわらかめで",
            "同じ内容で、社内向けバージョンもちょうだい",
            "「ご査収ください」って使い方合ってます?",
        ],
        "story": [
            "続きは?",
            "で、そのあとどうなったの?",
            "主人公を猫に変えてもう一回",
            "結末をハッピーエンドにしてほしい",
            "いいね!ただ名前を日本っぽくして",
            "今度は{m}の話で同じようなのを書いて",
            "もっと怖くできる?夜に読む用に",
            "最後の場面、ちょっと駆け足すぎない?膨らませて",
        ],
        "explain_simple": [
            "まだよくわからん…たとえ話で言うと?",
            "つまり、電気がなくても動くってこと?",
            "もっとかみくだいて、5歳児向けに",
            "じゃあ{m}はどういう仕組み?同じ感じで教えて",
            "図で描くとしたらどうなる?文字で表現して",
            "いや、そういうことじゃなくて、なんで必要なのかが知りたい",
            "なるほど!もう一個具体例ほしい",
        ],
        "style_rewrite": [
            "もっとギャルっぽく",
            "逆に、めちゃくちゃ堅い文体にしてみて",
            "これも同じ感じでお願い:{m}",
            "あー、意味が変わっちゃってる。元の意味は残して",
            "関西弁バージョンもほしいわ",
            "いいですね、でも「〜させていただく」は減らして",
            "ツイートっぽく140字以内で",
        ],
        "translate": [
            "これも訳して:{m}",
            "もうちょい自然な英語にできる?直訳っぽい",
            "「お疲れ様です」のところ、そのまま訳すと変じゃない?",
            "カジュアルな言い方だとどうなりますか",
            "あ、ごめん英語じゃなくて中国語でお願い",
            "二文目の訳が抜けてるよ",
            "アメリカ英語じゃなくてイギリス英語寄りで",
        ],
        "code": [
            "空のリストを渡すとIndexErrorになりました",
            "型ヒントもつけてほしい",
            "これ、もっと速くできる?データが100万行ある",
            "同じことをTypeScriptで",
            "テストも書いてくれる?pytestで",
            "なんでここでsortedを使ってるの?",
            "いや、標準ライブラリだけで書いてほしいんだけど",
            "ありがとう!あとエラー処理も追加して",
            "動いた!次はCSVに書き出す部分もお願い",
        ],
        "qa": [
            "それ、どこ情報?出典ある?",
            "え、それ本当?去年変わったって聞いたけど",
            "じゃあ{m}は?",
            "もっと詳しく",
            "一言で言うと?",
            "それって日本でも同じ?",
            "いや、人口じゃなくて面積のほうを聞いてる",
        ],
    },
    "en": {
        "summarize": [
            "do this one too: {m}",
            "same again for this: {m}",
            "you missed the part about the budget",
            "one sentence pls",
            "no, i meant summarize it for the engineering team, not sales",
            "what did you mean by 'delays' in point 2?",
            "can the summary lead with the decision?",
        ],
        "business_mail": [
            "the date's wrong, it's thursday the 14th",
            "make the subject line more specific",
            "perfect, but add a line apologizing for the late reply",
            "it's going to Priya, not the whole team. fix the greeting",
            "drop the sign-off",
            "too pushy. soften the ask",
            "great. now a version for the client instead of internal",
            "is 'per my last email' too passive aggressive here?",
        ],
        "story": [
            "what happens next??",
            "keep going",
            "make the dragon the narrator",
            "can it end happily instead",
            "love it 😍 but give the kid a name",
            "now one about {m}",
            "make it creepier, it's for a campfire",
            "the ending feels rushed, stretch it out",
        ],
        "explain_simple": [
            "still lost. use an analogy?",
            "so it's basically like a savings account?",
            "even simpler, like im five",
            "ok now do {m} the same way",
            "wait why does it need that step",
            "nah i get what it is, i want to know why it matters",
            "got it! one more example?",
        ],
        "style_rewrite": [
            "more gen z",
            "now the opposite, super formal",
            "do the same to this one: {m}",
            "you changed the meaning though, keep what it says",
            "make it sound like a pirate",
            "nice, but fewer adverbs",
            "fit it in a tweet",
        ],
        "translate": [
            "and this: {m}",
            "sounds too literal, make it natural",
            "hm, wouldn't 'tu' be better than 'vous' there?",
            "how would a teenager say it",
            "sorry, i meant spanish not italian",
            "you skipped the second sentence",
            "what's the more polite version",
        ],
        "code": [
            "this throws IndexError on an empty list",
            "could you add type annotations",
            "can it be faster? there are like a million rows",
            "port it to rust",
            "write pytest tests for it",
            "why sorted() and not .sort()?",
            "no, stdlib only please",
            "thx! handle the errors too",
            "works 👍 now make it write the result to csv",
        ],
        "qa": [
            "got a source for that?",
            "are you sure? i read it changed last year",
            "what about {m}?",
            "go deeper",
            "tl;dr?",
            "is it the same in canada",
            "no, i asked about area not population",
        ],
    },
}

# Work of another kind named on the last answer: (phrasing, its task, tasks it may follow).
_PROSE = ("summarize", "story", "explain_simple", "qa", "business_mail", "style_rewrite")
NAMED = {
    "ja": [
        ("今の文章をスペイン語に訳してもらえますか", "translate", _PROSE),
        ("それ英語にして", "translate", _PROSE),
        ("その内容、韓国語だとどうなる?翻訳して", "translate", _PROSE),
        ("今の話を3行に要約して", "summarize", ("story", "explain_simple", "qa")),
        ("長いから要点だけ箇条書きで抜き出して", "summarize", ("story", "explain_simple")),
        (
            "これをもとに取引先へのお知らせメールを作ってください",
            "business_mail",
            ("summarize", "explain_simple", "qa"),
        ),
        ("今の内容をチームに共有するメール文にして", "business_mail", ("summarize", "qa")),
        ("これを題材にして短い物語を書いて", "story", ("summarize", "explain_simple", "qa")),
        (
            "このコードが何をしてるか、プログラミング知らない人向けに説明して",
            "explain_simple",
            ("code",),
        ),
        (
            "今の答え、中学生にもわかるようにかみ砕いて説明してくれる?",
            "explain_simple",
            ("qa", "summarize"),
        ),
        ("その計算をPythonの関数にして", "code", ("qa", "explain_simple")),
        ("今説明してくれたアルゴリズム、JavaScriptで実装して", "code", ("explain_simple",)),
        ("このコードのコメントを英語に翻訳して", "translate", ("code",)),
        ("そのメールの要点を上司向けに2行で要約して", "summarize", ("business_mail",)),
    ],
    "en": [
        ("now translate that into german", "translate", _PROSE),
        ("can you put that in japanese", "translate", _PROSE),
        ("how would that read in portuguese? translate it", "translate", _PROSE),
        (
            "summarize what you just wrote in 3 bullets",
            "summarize",
            ("story", "explain_simple", "qa"),
        ),
        ("tldr that for me", "summarize", ("story", "explain_simple")),
        (
            "turn this into an email to the client",
            "business_mail",
            ("summarize", "explain_simple", "qa"),
        ),
        ("write that up as an email to my team", "business_mail", ("summarize", "qa")),
        ("spin that into a little short story", "story", ("summarize", "explain_simple", "qa")),
        (
            "explain what this code does to someone who has never programmed",
            "explain_simple",
            ("code",),
        ),
        ("break that answer down for a 10 year old", "explain_simple", ("qa", "summarize")),
        ("write a python function that calculates that", "code", ("qa", "explain_simple")),
        ("implement the algorithm you just described in go", "code", ("explain_simple",)),
        ("translate the comments in that code to french", "translate", ("code",)),
        ("summarize that email in two lines for my boss", "summarize", ("business_mail",)),
    ],
}

MARKERS = {
    "ja": [
        "話変わるんですけど、",
        "全然関係ないけど、",
        "別件です。",
        "ところで、",
        "あ、それとは別に、",
        "ほな次いこか。",
        "ついでにもう一個、",
        "次の質問です。",
    ],
    "en": [
        "unrelated, but ",
        "different topic: ",
        "ok new thing. ",
        "btw ",
        "switching gears — ",
        "separate question, ",
        "also, totally different: ",
        "oh and ",
    ],
}

NEW = {
    "ja": {
        "summarize": [
            "この議事録を3行でまとめて:{m}",
            "以下の記事を要約してください。\n\n{m}",
            "{m}\n\nこれ、ざっくり言うと何が言いたいの?要点だけ",
        ],
        "business_mail": [
            "来週の打ち合わせを延期したいとお客様に伝えるメールを書いてください",
            "見積もりのお礼と、発注は来月になる旨を伝えるメール文を作って",
            "新しく入った派遣さんに、初日の持ち物を案内する社内メールお願い",
        ],
        "story": [
            "雨の日にだけ開く古本屋のお話を書いて",
            "宇宙エレベーターの整備士が主人公のショートショートを書いてほしい",
            "寝る前に子どもに読む、くまの兄弟の短いお話をお願い",
        ],
        "explain_simple": [
            "円安ってなに?小学生にもわかるように説明して",
            "ブロックチェーンを、おばあちゃんにわかるように教えて",
            "なんで空は青いのか、子ども向けにやさしく説明して",
        ],
        "style_rewrite": [
            "次の文をビジネス向けの丁寧な言い方に書き換えて:{m}",
            "「{m}」をもっとやわらかい表現にして",
            "この文章、若者っぽい口調に直して→{m}",
        ],
        "translate": [
            "「{m}」を英語に訳してください",
            "これフランス語にして:{m}",
            "次の文をドイツ語に翻訳して。{m}",
        ],
        "code": [
            "ディレクトリ内の画像を一括でリサイズするPythonスクリプト書いて",
            "SQLで、月ごとの売上合計を出すクエリを教えて",
            "bashで、7日より古いログファイルを消すワンライナーちょうだい",
        ],
        "qa": [
            "富士山の高さって何メートルだっけ",
            "日本で一番長い川は?",
            "ビタミンDって何に多く含まれてる?",
            "オリンピックって次はどこで開催?",
        ],
    },
    "en": {
        "summarize": [
            "summarize these meeting notes in 3 lines: {m}",
            "can you give me the gist of this article?\n\n{m}",
            "{m}\n\ntl;dr please",
        ],
        "business_mail": [
            "write an email to a customer pushing our call to next week",
            "draft a polite reminder to a vendor that their invoice is missing a PO number",
            "email to new hires telling them what to bring on day one",
        ],
        "story": [
            "write a story about a bookshop that only opens when it rains",
            "short sci-fi story, main character repairs space elevators",
            "bedtime story for my 4yo about two bear brothers pls",
        ],
        "explain_simple": [
            "explain inflation like I'm 8",
            "eli5 how vaccines train the immune system",
            "how does wifi work? simple terms, for my grandma",
        ],
        "style_rewrite": [
            "rewrite this to sound professional: {m}",
            'make this less blunt: "{m}"',
            "can you make this sound more casual? {m}",
        ],
        "translate": [
            "translate to german: {m}",
            'how do you say "{m}" in french',
            "translate into spanish pls: {m}",
        ],
        "code": [
            "python script to bulk resize all images in a folder",
            "sql query for total sales per month",
            "bash one-liner to delete log files older than 7 days",
        ],
        "qa": [
            "how tall is mount everest",
            "what's the longest river in africa",
            "which foods have the most vitamin D",
            "where are the next winter olympics",
        ],
    },
}

MATERIAL = {
    "ja": {
        "summarize": [
            "4月から社員食堂の営業時間が11時〜14時に短縮されます。理由は利用者の減少と人手不足です。"
            "代わりに夕方は軽食の自販機を置きます。",
            "新しいアプリは来月リリース予定だったが、決済部分の審査が長引き、2週間遅れる見込み。"
            "マーケティングの広告出稿も合わせて後ろ倒しにする。",
            "市の図書館では、今年から電子書籍の貸し出しを始めた。登録者は半年で3千人を超え、"
            "特に通勤中の会社員に人気がある。",
        ],
        "story": ["迷子のロボット", "月に住むうさぎの郵便屋さん", "魔法が使えなくなった魔女"],
        "explain_simple": ["電子レンジ", "インターネット", "地震が起きる仕組み"],
        "style_rewrite": [
            "明日は来なくていいです",
            "その件はもう終わったことなので話したくありません",
            "資料まだですか",
        ],
        "translate": [
            "会議は午後3時からに変更になりました",
            "駅から徒歩5分のところにあります",
            "お忙しいところ恐縮ですが、ご確認をお願いします",
        ],
        "qa": ["フランス", "ブラジル", "オーストラリア"],
    },
    "en": {
        "summarize": [
            "Starting in April the staff cafeteria will only be open 11 to 2 because fewer "
            "people use it and we're short on staff. Vending machines with snacks will cover "
            "the evenings.",
            "The app launch is slipping two weeks because the payment review took longer than "
            "planned. Marketing will push the ad campaign back to match.",
            "The city library started lending e-books this year. Over 3,000 people signed up "
            "in six months, mostly commuters.",
        ],
        "story": ["a lost robot", "a mail carrier on the moon", "a witch who forgot her magic"],
        "explain_simple": ["microwaves", "the internet", "earthquakes"],
        "style_rewrite": [
            "don't come in tomorrow",
            "i'm done talking about that",
            "where are the slides",
        ],
        "translate": [
            "The meeting has been moved to 3 pm.",
            "It's a five minute walk from the station.",
            "Sorry to bother you, but could you take a look?",
        ],
        "qa": ["france", "brazil", "australia"],
    },
}

ERRORS = [
    'Traceback (most recent call last):\n  File "app.py", line 42, in <module>\n'
    "    main()\n  File \"app.py\", line 17, in main\n    total += row['price']\n"
    "TypeError: unsupported operand type(s) for +=: 'int' and 'str'",
    "Uncaught TypeError: Cannot read properties of undefined (reading 'map')\n"
    "    at renderList (List.jsx:23:18)",
    "error[E0502]: cannot borrow `v` as mutable because it is also borrowed as immutable\n"
    " --> src/main.rs:6:5",
    "npm ERR! code ERESOLVE\nnpm ERR! ERESOLVE unable to resolve dependency tree",
    'psycopg2.errors.UndefinedColumn: column "created_at" does not exist\n'
    "LINE 1: SELECT id, created_at FROM orders",
]

ERROR_LINES = {
    "ja": ["", "これ何が悪いの?", "急にこれが出るようになった、直し方教えて", "助けて〜"],
    "en": ["", "what am i doing wrong", "started getting this after an update, fix?", "help"],
}

SYSTEMS = {
    "ja": ["あなたは親切なアシスタントです。", "簡潔に答えてください。"],
    "en": ["You are a helpful assistant.", "Be concise."],
}

ANSWERS = {
    "ja": {
        "summarize": [
            "・営業時間を短縮\n・理由は利用減と人手不足\n・夕方は自販機で対応",
            "要点:リリースが2週間遅れ、広告も後ろ倒しになります。",
        ],
        "business_mail": [
            "件名:お打ち合わせ日程変更のお願い\n\n株式会社△△ 佐藤様\n\n"
            "いつも大変お世話になっております。\n誠に恐縮ですが、来週のお打ち合わせを"
            "延期させていただけないでしょうか。\n\nよろしくお願いいたします。",
            "件名:お見積もりのお礼\n\n山田様\n\nこのたびはお見積もりをいただき、"
            "誠にありがとうございました。発注は来月を予定しております。",
        ],
        "story": [
            "雨が降ると、路地の奥に小さな灯りがともる。店主のしずくさんは、濡れた客にだけ"
            "本を売った。ある晩、傘を持たない少年がやってきて――",
            "整備士のカイは、高度三万メートルで今日も軋むケーブルを撫でた。下界の灯りが"
            "ひとつずつ消えていく。",
        ],
        "explain_simple": [
            "たとえば、みんなが同じ日記帳を一冊ずつ持っていて、だれかが書いたら全員の日記に"
            "同じことが書かれる、そんな仕組みです。",
            "太陽の光にはいろんな色がまざっていて、青い光は空気にぶつかって散らばりやすい"
            "から、空が青く見えるんだよ。",
        ],
        "style_rewrite": [
            "恐れ入りますが、資料のご準備状況はいかがでしょうか。",
            "明日はご出勤いただかなくて大丈夫です。",
        ],
        "translate": [
            "The meeting has been rescheduled to 3 p.m.",
            "Nous sommes à cinq minutes à pied de la gare.",
        ],
        "code": [
            "```python\nfrom pathlib import Path\nfrom PIL import Image\n\n"
            "for p in Path('img').glob('*.jpg'):\n"
            "    Image.open(p).resize((800, 600)).save(p)\n```",
            "```sql\nSELECT date_trunc('month', sold_at) AS m, SUM(amount)\nFROM sales\n"
            "GROUP BY m ORDER BY m;\n```",
        ],
        "qa": ["3,776メートルです。", "信濃川で、長さは約367kmです。"],
    },
    "en": {
        "summarize": [
            "- Shorter cafeteria hours from April\n- Fewer users, too few staff\n"
            "- Vending machines in the evening",
            "Launch slips two weeks (payment review); ads move with it.",
        ],
        "business_mail": [
            "Subject: Moving our call to next week\n\nHi Dana,\n\nWould it be possible to move "
            "our call to next week? Something urgent came up on our side.\n\nBest,\nSam",
            "Subject: Missing PO number on invoice #4471\n\nHello,\n\nThank you for the invoice. "
            "Could you reissue it with our PO number?\n\nKind regards",
        ],
        "story": [
            "The bell over the door only rang when it rained. Mrs. Hale dried her glasses and "
            "looked up at the boy dripping on the welcome mat.",
            "Kai patted the groaning cable thirty kilometres up and watched the city lights go "
            "out one by one below him.",
        ],
        "explain_simple": [
            "Imagine your piggy bank: if prices go up, the same coins buy fewer sweets. That's "
            "inflation.",
            "A vaccine is like a wanted poster: your body learns the germ's face before it ever "
            "shows up.",
        ],
        "style_rewrite": [
            "Could you let me know when the slides will be ready?",
            "No need to come in tomorrow — enjoy the day off.",
        ],
        "translate": ["La réunion a été déplacée à 15 h.", "Está a cinco minutos de la estación."],
        "code": [
            "```python\nfrom pathlib import Path\nfrom PIL import Image\n\n"
            "for p in Path('img').glob('*.jpg'):\n"
            "    Image.open(p).resize((800, 600)).save(p)\n```",
            "```bash\nfind /var/log/app -name '*.log' -mtime +7 -delete\n```",
        ],
        "qa": ["8,849 metres.", "The Nile, about 6,650 km."],
    },
}
