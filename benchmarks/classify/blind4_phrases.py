"""Phrasings, material and answers of the fourth blind multi-turn set (`blind4_turns.py`).

Written blind by a new author: not taken from, nor checked against, the classifier's training or
dev phrasings. `{m}` in a phrasing is new material of the conversation's task.
"""

from __future__ import annotations

TEXTUAL = ("summarize", "business_mail", "story", "explain_simple", "style_rewrite")

# Follow-ups that fit any textual task: tone, length and format edits of the last answer.
GENERIC = {
    "en": [
        "can you cut that down by half",
        "too long tbh, trim it",
        "make it sound less stiff",
        "a bit warmer please",
        "hmm, more upbeat? 🙂",
        "drop the last paragraph",
        "less formal pls",
        "can u redo that but friendlier",
        "give me 2 alternative versions",
        "keep it under 100 words",
        "good but lose the exclamation marks",
        "again, in a calmer tone",
        "teh second sentence sounds awkward, fix it",
        "ok now make it punchier",
        "Could you make it a little more concise?",
    ],
    "ja": [
        "もう少し短くしてほしい",
        "半分くらいの長さで頼む",
        "もっとやわらかい感じにして!",
        "堅すぎるので砕けた感じでお願いします",
        "最後の段落はいらないです",
        "別パターンも2つほしい",
        "もうちょいテンション高めで😊",
        "100字以内におさめてください",
        "2文目が不自然なので直して",
        "もっと落ち着いたトーンでお願いします",
        "ちょっとくどいかも、すっきりさせて",
        "みじかくしてー",
        "もっとカジュアルでいいよ",
        "語尾をです・ます調にそろえてほしい",
    ],
}

# Follow-ups of one task (`{m}`: new material of that task, pasted).
FOLLOW = {
    "en": {
        "summarize": [
            "just the key numbers please",
            "3 bullets max",
            "what's the single most important point there?",
            "include the part about costs too",
            "one sentence, no more",
            "and this one too:\n\n{m}",
            "can you do the same for this article\n\n{m}",
        ],
        "business_mail": [
            "add a subject line",
            "sign it from Dana in procurement",
            "mention we're free for a call on thursday",
            "make the apology stronger",
            "address it to Mr. Okada instead",
            "don't promise any date in it",
            "close with a thank-you for bearing with us",
            "no names pls, it goes to a shared inbox",
        ],
        "story": [
            "keep writing from where you stopped",
            "what happens after that?",
            "write the next chapter pls",
            "give it a twist ending",
            "add some dialogue between them",
            "make the ending happier",
            "give it a title",
            "another one like that but set in winter",
            "more spooky 👻",
            "retell it from the villain's point of view",
        ],
        "explain_simple": [
            "still confusing, even simpler",
            "can you use an analogy",
            "my kid is 6, simplify it more",
            "give me an everyday example",
            "why does that happen though?",
            "two sentences a child could follow, please",
        ],
        "style_rewrite": [
            "even more formal",
            "now a more casual take",
            "tone it down a notch",
            "keep my wording for the first line",
            "same treatment for this paragraph:\n\n{m}",
            "and this bit as well\n{m}",
            "less flowery",
            "make it sound like me, not a robot",
        ],
        "translate": [
            "more casual version?",
            "the polite form please",
            "and this one:\n{m}",
            "this too -> {m}",
            "how would a native put it more naturally",
            "it sounds too literal, loosen it up",
            "and in Korean?",
            "what about German",
            "next line: {m}",
        ],
        "code": [
            "type-annotate the params and return value",
            "add error handling for empty input",
            "can you write pytest tests for it",
            "rename the function to parse_rows",
            "rewrite it with asyncio so it doesnt block",
            "use pathlib instead of os.path",
            "add comments pls",
            "now handle the case where the file is missing",
            "doesnt work on python 3.8",
            "can u make it faster",
            "same thing but in TypeScript",
            "why do you use a set there?",
            "and fix this one too:\n```\n{m}\n```",
        ],
        "qa": [
            "wait, how come?",
            "are you sure? any source?",
            "does that still hold in 2024?",
            "give me a bit more detail",
            "one-word answer pls",
            "any exceptions to that?",
            "hm ok, and how do people usually find that out?",
        ],
    },
    "ja": {
        "summarize": [
            "数字だけ抜き出して",
            "3点にしぼって",
            "一行でまとめ直して",
            "費用の話も入れてほしい",
            "これもお願い:\n{m}",
            "こっちも同じように要約して\n\n{m}",
            "一番大事なポイントはどれ?",
        ],
        "business_mail": [
            "件名を入れてください",
            "署名は営業部の佐藤で",
            "来週の打ち合わせ候補日も書き添えて",
            "お詫びをもう少し強めに",
            "宛名を山田部長に変えて",
            "納期は約束しない書き方にして",
            "最後にお礼の一文を足してほしい",
            "社内向けにもう少しくだけた感じで頼む",
        ],
        "story": [
            "続きが読みたいです",
            "そのあとどうなったの?",
            "第二話もお願い",
            "ラストをどんでん返しにしてほしい",
            "会話をもっと増やして",
            "ハッピーエンドに変えて!",
            "タイトルをつけて",
            "冬が舞台のバージョンも書いて",
            "もっと怖くして👻",
            "つづきー",
        ],
        "explain_simple": [
            "まだ難しい…もっとかんたんに",
            "たとえ話で説明してくれる?",
            "5歳の子にもわかるように頼む",
            "身近な例をひとつ挙げて",
            "なんでそうなるの?",
            "漢字を減らしてひらがな多めにして",
        ],
        "style_rewrite": [
            "さらにフォーマルに",
            "逆にくだけた言い方にして",
            "もう少しトーンを抑えて",
            "一文目は元のままでいい",
            "この段落も同じようにお願いします\n{m}",
            "こちらも直してほしい:\n{m}",
            "大げさな表現は削って",
            "ロボットっぽくない自然な感じに",
        ],
        "translate": [
            "もう少しくだけた訳にして",
            "丁寧語バージョンもほしい",
            "これもお願いします:\n{m}",
            "次はこれ→ {m}",
            "ネイティブっぽく自然にして",
            "直訳っぽいので意訳で頼む",
            "韓国語だと?",
            "ドイツ語でもお願い",
        ],
        "code": [
            "型ヒントをつけてほしい",
            "空のリストが来たときのエラー処理も",
            "テストも書いてください",
            "関数名をparse_rowsにして",
            "asyncにできる?",
            "pathlib使う形に書き換えて",
            "コメント多めで",
            "ファイルがない場合も対応して",
            "python3.8だと動かないんだけど",
            "もっと速くできますか",
            "TypeScriptで同じのを",
            "なんでここでsetを使ってるの?",
            "これも直してほしい\n```\n{m}\n```",
        ],
        "qa": [
            "それってなんで?",
            "ほんとに?根拠ある?",
            "今でもそうなの?",
            "もうちょっと詳しく",
            "一言で言うと?",
            "例外ってある?",
        ],
    },
}

# Work of another kind named on the last answer: (phrasing, its task, the tasks it may follow).
NAMED = {
    "en": [
        ("turn that into a short email to my team", "business_mail", ("summarize", "qa")),
        ("ok now write the client an email based on this summary", "business_mail", ("summarize",)),
        ("now summarize the story in three bullet points", "summarize", ("story",)),
        ("give me a summary of that explanation in 2 bullets", "summarize", ("explain_simple",)),
        ("put that into Japanese for me", "translate", ("summarize", "business_mail", "story")),
        ("can I get that whole thing in Spanish?", "translate", ("business_mail", "style_rewrite")),
        ("now explain this to me like I'm 10", "explain_simple", ("summarize",)),
        ("write a short bedtime story based on this", "story", ("summarize", "explain_simple")),
        ("write a Python script that counts the words in that text", "code", TEXTUAL),
    ],
    "ja": [
        ("今の内容で上司あてのメールにして", "business_mail", ("summarize", "qa")),
        ("これをもとに取引先へのメール文を作ってほしい", "business_mail", ("summarize",)),
        ("書いてくれた話を3行で要約して", "summarize", ("story",)),
        ("今の説明を箇条書き2点で要約して", "summarize", ("explain_simple",)),
        ("今のを英訳してほしい", "translate", ("summarize", "business_mail", "story")),
        ("全文を中国語に訳してください", "translate", ("business_mail", "style_rewrite")),
        ("小学生向けにかみくだいて説明して", "explain_simple", ("summarize",)),
        ("この内容で子ども向けの短いお話を作って", "story", ("summarize", "explain_simple")),
        ("この文章の文字数を数えるPythonコード書いて", "code", TEXTUAL),
    ],
}

MARKERS = {
    "en": [
        "unrelated, but ",
        "different topic: ",
        "btw ",
        "oh also, separate thing: ",
        "switching gears — ",
        "new question: ",
        "quick one, nothing to do with that: ",
        "ok something else. ",
        "totally different request: ",
        "on another note, ",
    ],
    "ja": [
        "話は変わるけど、",
        "ところで、",
        "全然関係ないんだけど、",
        "別件です。",
        "あ、あとひとつ別の話で、",
        "それとは別に、",
        "急ぎで別のお願い:",
        "すみません、別の質問です。",
        "さっきのとは関係ないけど、",
    ],
}

# Unrelated new requests (`{m}`: material of that task).
NEW = {
    "en": {
        "qa": [
            "what's the boiling point of ethanol?",
            "How many time zones does Russia have?",
            "who painted The Night Watch?",
            "Is it safe to eat eggs past the date on the carton?",
            "when did the Berlin Wall come down",
            "How far is the Moon from Earth on average?",
        ],
        "story": [
            "write a short story about a robot cooking its first meal",
            "Can you write a bedtime tale about a lost balloon?",
            "I need a 300-word story set in a night market",
            "write a little fable about a tortoise who wants to fly",
            "Tell me a story about two strangers stuck in a snowed-in station",
            "write a ghost story for a campfire, not too scary",
        ],
        "business_mail": [
            "Draft an email postponing next month's review meeting.",
            "write an apology email to a client for sending the quote late",
            "Please write an email introducing myself to a new supplier.",
            "write an email telling a customer their invoice amount was wrong",
            "Draft a mail offering three interview slots to a candidate",
            "Email to thank visitors who came to our trade-show booth",
        ],
        "explain_simple": [
            "explain inflation so a 12-year-old gets it",
            "How would you explain blockchain to a kid?",
            "why is the sky blue? simple terms please",
            "explain the difference between weather and climate for beginners",
            "Explain photosynthesis in plain language for my grandma",
            "explain how vaccines work like I'm five",
        ],
        "code": [
            "write a Python script that resizes every image in a folder",
            "JS function to remove duplicates from an array?",
            "SQL query for total sales per month from an orders table",
            "write a bash one-liner deleting logs older than 7 days",
            "Write a minimal HTTP server in Go.",
            "python regex function that validates an email address",
        ],
        "summarize": [
            "Summarize this for me:\n\n{m}",
            "{m}\n\ntl;dr?",
            "give me the gist of this in 3 lines\n\n{m}",
        ],
        "style_rewrite": [
            "Rewrite this in a formal business tone:\n\n{m}",
            "{m}\n\nmake this sound friendlier",
            "rephrase this for a LinkedIn post:\n{m}",
        ],
        "translate": [
            "Translate into French: {m}",
            "{m}\n\nhow do I say this in Italian?",
            "Spanish please: {m}",
        ],
    },
    "ja": {
        "qa": [
            "日本で一番長いトンネルはどこ?",
            "ビタミンDって何に多く含まれてる?",
            "ノーベル賞の授賞式は何月にあるの?",
            "東京から大阪まで新幹線で何分くらい?",
            "パンダの赤ちゃんって生まれたとき何グラム?",
            "うるう年になる条件を教えて",
        ],
        "story": [
            "雪の降る駅で出会う二人の短編を書いて",
            "ロボットが初めて料理をする話を作ってほしい",
            "500字くらいで、迷子の風船の物語をお願い",
            "眠れない夜に読む短いおとぎ話を書いて",
            "時間を巻き戻せる時計を拾った少年の話を書いてください",
            "商店街のたい焼き屋を舞台にしたほっこりする話を",
        ],
        "business_mail": [
            "来月の定例会議を延期するお知らせメールを書いてください",
            "見積書の送付が遅れたことのお詫びメールを作って",
            "新任の挨拶メールを取引先向けに書いて",
            "請求書の金額に誤りがあったことを伝えるメール文をお願い",
            "面接日程の候補を3つ提示するメールを書いて",
            "展示会への来場お礼メールを作成してほしい",
        ],
        "explain_simple": [
            "インフレってなに?中学生にわかるように教えて",
            "ブロックチェーンを小学生向けに説明して",
            "なぜ空は青いのか子どもにもわかるように説明して",
            "円高と円安のちがいをやさしく教えて",
            "光合成をかんたんに説明してほしい",
            "ワクチンの仕組みを高齢の母に説明したいのでやさしく",
        ],
        "code": [
            "Pythonでフォルダ内の画像を一括リサイズするスクリプト書いて",
            "JavaScriptで配列の重複を消す関数を書いてください",
            "SQLで月ごとの売上合計を出すクエリを書いて",
            "7日より古いログを消すbashのワンライナーがほしい",
            "Goで最小限のHTTPサーバを書いて",
            "メールアドレスを正規表現でチェックする関数をPythonで",
        ],
        "summarize": [
            "以下を要約してください。\n{m}",
            "{m}\n\nこれ3行で要約して",
            "この記事のポイントを短くまとめて\n\n{m}",
        ],
        "style_rewrite": [
            "次の文をビジネス向けの丁寧な文体に書き換えて\n{m}",
            "{m}\n\nこれをもっとやわらかい言い回しに直してほしい",
            "この文章をSNS向けのくだけた文体にして:\n{m}",
        ],
        "translate": [
            "次の文を英語に訳して:{m}",
            "{m}\n\nこれを英訳してください",
            "これ中国語にして→{m}",
        ],
    },
}

# New material, by task and language (code is shared).
MATERIAL = {
    "en": {
        "summarize": [
            "The city council approved a plan to turn two car lanes on Main Street into bike "
            "lanes by next spring. Shop owners worry about deliveries; cyclists' groups say "
            "traffic injuries on the street fell by a third in a similar trial last year.",
            "Our Q3 revenue rose 8% to $4.2M, driven by the new subscription tier, while support "
            "costs climbed 15% after the app redesign. Churn stayed flat at 3%. The team plans "
            "to hire two support agents and ship a self-service help center in Q4.",
            "A study of 2,000 office workers found that those who took a 10-minute walk after "
            "lunch reported less afternoon fatigue. The effect was strongest on days with back-"
            "to-back meetings, and disappeared when the walk was replaced by phone browsing.",
        ],
        "style_rewrite": [
            "hey so the meeting got moved to 3, dont be late ok, boss is gonna be there",
            "We regret to inform all residents that water supply will be suspended on Saturday "
            "between 9 and 12 for pipe inspection.",
            "the product is good i guess but shipping took forever and the box was kinda smashed",
        ],
        "translate": [
            "The museum is closed on Mondays.",
            "Could you send me the slides after the meeting?",
            "I left my umbrella on the train.",
            "We're out of milk, can you grab some on the way home?",
            "The deadline has been extended to Friday.",
        ],
    },
    "ja": {
        "summarize": [
            "市は来春までに駅前通りの車線を2本減らし、自転車レーンにする計画を承認した。商店主"
            "からは荷物の搬入を心配する声が出ているが、昨年の試験では事故が3割減ったという。",
            "第3四半期の売上は前年比8%増の4億2千万円だった。新プランが好調な一方、アプリ刷新後"
            "に問い合わせが増えサポート費用は15%増えた。第4四半期はヘルプページを整備する。",
            "社員2000人を対象にした調査で、昼食後に10分歩いた人は午後の疲れを感じにくいことが"
            "わかった。会議が続く日ほど効果が大きく、スマホを見て過ごした場合は効果がなかった。",
        ],
        "style_rewrite": [
            "会議3時に変わったから遅れないでね、部長も来るってさ",
            "土曜の9時から12時まで水道止まります。点検です。ごめんなさい。",
            "商品はまあ良かったけど、届くの遅すぎだし箱もつぶれてた",
        ],
        "translate": [
            "美術館は月曜日が休館です。",
            "会議のあとで資料を送っていただけますか。",
            "電車に傘を忘れてしまいました。",
            "牛乳が切れたから帰りに買ってきてくれる?",
            "締め切りが金曜日まで延びました。",
        ],
    },
}
CODE = [
    "def mean(xs):\n    return sum(xs) / len(xs)",
    "for i in range(len(items)):\n    if items[i] = None:\n        items.pop(i)",
    "const total = orders.map(o => o.price).reduce((a, b) => a + b)",
    "with open(path) as f:\n    data = json.load(f)\nprint(data['user']['name'])",
]
MATERIAL["en"]["code"] = MATERIAL["ja"]["code"] = CODE

# Pasted errors (a switch to code after other work), with an optional line after them.
ERRORS = [
    'Traceback (most recent call last):\n  File "main.py", line 8, in <module>\n'
    '    rows = load(path)\n  File "main.py", line 3, in load\n    return json.load(f)\n'
    "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)",
    "Uncaught TypeError: Cannot read properties of undefined (reading 'map')\n"
    "    at renderList (list.js:14:22)\n    at App (App.js:9:5)",
    'Exception in thread "main" java.lang.NullPointerException\n'
    "\tat com.shop.Cart.total(Cart.java:42)\n\tat com.shop.Main.main(Main.java:11)",
    "error[E0382]: borrow of moved value: `name`\n --> src/main.rs:6:20\n"
    "  |\n4 |     let other = name;\n  |                 ---- value moved here",
]
ERROR_LINES = {
    "en": ["", "why am I getting this?", "help? 😩", "got this when I ran it, any idea?"],
    "ja": ["", "これ何のエラー?", "直し方わかる?", "実行したらこうなった…"],
}

SYSTEMS = {
    "en": ["You are a helpful assistant.", "Answer concisely. The user is a busy professional."],
    "ja": ["あなたは親切なアシスタントです。", "簡潔に日本語で答えてください。"],
}

# Task-shaped assistant answers (only their shape matters to a classifier).
ANSWERS = {
    "en": {
        "summarize": [
            "- The plan passed with conditions\n- Costs rise in the short term\n- Review in a year",
            "In short: demand grew, costs grew faster, and the fix is planned for next quarter.",
        ],
        "business_mail": [
            "Subject: Update on your order\n\nDear Ms. Carter,\n\nThank you for your patience. "
            "We are writing to let you know about a change to the schedule.\n\nBest regards,\nKen",
            "Subject: Meeting follow-up\n\nHi all,\n\nThanks for joining today. Please find the "
            "action items below.\n\nKind regards,\nAmy",
        ],
        "story": [
            "The lantern flickered twice before Mira noticed the door was open. Outside, the "
            "snow had stopped, and a small set of footprints led toward the old pier.\n\n"
            "She followed them, heart pounding, until the prints simply ended.",
            "Once upon a time, in a town where the clocks ran backwards, a baker named Otto "
            "woke up yesterday. He knew at once that something had gone wrong.",
        ],
        "explain_simple": [
            "Think of it like a piggy bank: when prices go up, the same coins buy fewer sweets. "
            "That's all it means.",
            "Imagine a big notebook that everyone shares, and nobody can erase a page. "
            "That's the basic idea.",
        ],
        "style_rewrite": [
            "Please note that the meeting has been rescheduled to 3 p.m. Your punctual "
            "attendance would be appreciated.",
            "Hi everyone! Just a heads-up: the water will be off Saturday morning for a quick "
            "check.",
        ],
        "translate": [
            "Le musée est fermé le lundi.",
            "¿Podrías enviarme las diapositivas después de la reunión?",
            "I left my umbrella on the train.",
        ],
        "code": [
            "```python\ndef load(path: str) -> list[dict]:\n    with open(path) as f:\n"
            "        return json.load(f)\n```\nThis reads the file and returns the parsed list.",
            "```javascript\nconst unique = (xs) => [...new Set(xs)];\n```\n"
            "A Set keeps only the first of equal values.",
        ],
        "qa": [
            "About 78 °C at sea level.",
            "It was in 1989, on the night of November 9.",
            "Generally yes, as long as they were kept refrigerated and smell normal.",
        ],
    },
    "ja": {
        "summarize": [
            "・計画は条件付きで承認\n・短期的には費用が増加\n・1年後に見直し",
            "要するに、需要は伸びたがコストがそれ以上に増え、対策は来期の予定です。",
        ],
        "business_mail": [
            "件名:ご注文の件につきまして\n\n株式会社○○\n□□様\n\nいつもお世話になっております。"
            "先日ご依頼いただいた件についてご連絡いたします。\n\n何卒よろしくお願いいたします。",
            "件名:会議日程変更のお知らせ\n\n各位\n\nお疲れさまです。来月の定例会議の日程を変更"
            "いたします。\n\nよろしくお願いします。",
        ],
        "story": [
            "ランタンが二度またたいたとき、ミラはドアが開いていることに気づいた。外では雪がやみ、"
            "小さな足あとが古い桟橋のほうへ続いていた。\n\n彼女はそれを追いかけた。",
            "むかしむかし、時計がさかさまに進む町に、オットーというパン屋がいました。ある朝、"
            "目をさますと、そこはきのうでした。",
        ],
        "explain_simple": [
            "ちょきんばこで考えてみよう。ものの値段が上がると、同じお金で買えるおかしが少なくなるんだ。",
            "みんなで使う大きなノートがあって、だれもページを消せない、というイメージです。",
        ],
        "style_rewrite": [
            "会議の開始時刻が15時に変更となりました。部長も出席されますので、時間厳守でお願いいたします。",
            "土曜日の9時から12時まで、点検のため断水いたします。ご不便をおかけし申し訳ございません。",
        ],
        "translate": [
            "The museum is closed on Mondays.",
            "Could you send me the materials after the meeting?",
            "我把伞忘在电车上了。",
        ],
        "code": [
            "```python\ndef load(path: str) -> list[dict]:\n    with open(path) as f:\n"
            "        return json.load(f)\n```\nファイルを読み込んでリストを返します。",
            "```javascript\nconst unique = (xs) => [...new Set(xs)];\n```\n"
            "Setを使うと重複が取り除かれます。",
        ],
        "qa": [
            "青函トンネルで、全長は約53.85kmです。",
            "一般的には約78℃です。",
            "毎年12月10日に行われます。",
        ],
    },
}
