"""The phrasings, material and answers of the third blind multi-turn set (`blind3_turns.py`),
written by a new author without reading the training phrasings or the other held-out set's.

Task letters: S summarize, M business_mail, T story, E explain_simple, R style_rewrite,
L translate, C code, Q qa. A follow-up is tagged with the tasks whose last answer it keeps
(it is a follow-up only after those); a named switch with the target task and the tasks it
may come after (never its own target). `{mat}` is new material of the conversation's task:
a paragraph (S), a sentence (L, R), a topic (E), an error (C).
"""

from __future__ import annotations

LETTER = {
    "S": "summarize",
    "M": "business_mail",
    "T": "story",
    "E": "explain_simple",
    "R": "style_rewrite",
    "L": "translate",
    "C": "code",
    "Q": "qa",
}

FOLLOW: dict[str, list[tuple[str, str]]] = {
    "en": [
        ("bit shorter please?", "SMTER"),
        ("can you cut that down a bit", "SMTER"),
        ("hmm, a little longer maybe", "SMTE"),
        ("less formal", "MRLE"),
        ("make it sound friendlier", "MRE"),
        ("too stiff, loosen it up", "MRL"),
        ("more polite please, it's for a client", "MRL"),
        ("try again with different wording", "SMTERL"),
        ("let me see an alternative take", "SMTRL"),
        ("nah. redo it", "SMTERLC"),
        ("sorry, one more try?", "SMTERLCQ"),
        ("that's good but a bit too long", "SMTERQ"),
        ("shortr pls", "SMTER"),
        ("agian, but better", "SMTERL"),
        ("in bullet points instead", "SEQ"),
        ("just one sentence", "SQ"),
        ("keep the numbers, drop the rest", "S"),
        ("add a line about the budget too", "SM"),
        ("and this one: {mat}", "S"),
        ("same for this: {mat}", "L"),
        ("this one too please:\n{mat}", "R"),
        ("now into German", "L"),
        ("what would it be in Italian?", "L"),
        ("is there a more natural way to say it?", "LR"),
        ("keep the names in English", "L"),
        ("carry on from where you stopped", "T"),
        ("keep going!", "TC"),
        ("so what happens after that?", "T"),
        ("give it a twist ending", "T"),
        ("make the main character a girl named Hana", "T"),
        ("another one but set on the moon", "T"),
        ("tell it from the dog's point of view", "T"),
        ("less scary, it's for my kid", "T"),
        ("add a subject line", "M"),
        ("sign it from Kenji in sales", "M"),
        ("mention we can meet on thursday", "M"),
        ("make it less pushy", "M"),
        ("address it to the whole team instead", "M"),
        ("now one declining the offer, same tone", "M"),
        ("simpler, please", "E"),
        ("give me an example", "EQ"),
        ("still confused tbh", "E"),
        ("use a food analogy", "E"),
        ("ok and where would I run into that in everyday life?", "E"),
        ("now the same kind of explanation for {mat}", "E"),
        ("wait, why though?", "QE"),
        ("how sure are you about that?", "Q"),
        ("is that still the case today?", "Q"),
        ("any source for that?", "Q"),
        ("could you put type annotations on it", "C"),
        ("turn it into an async version", "C"),
        ("can you add error handling for a missing file", "C"),
        ("rename the function to load_rows", "C"),
        ("use pathlib instead of os.path", "C"),
        ("write tests for it with pytest", "C"),
        ("{mat}\n\ngot this when I ran it", "C"),
        ("works, but it's slow on big inputs. faster?", "C"),
        ("no explanation please, just the code", "C"),
        ("THANKS! now make it handle empty input", "C"),
        ("same thing but in typescript", "C"),
        ("more dramatic", "RT"),
        ("like a pirate this time", "RT"),
        ("more casual, like texting a friend", "RML"),
    ],
    "ja": [
        ("もう少し短くしてもらえますか", "SMTER"),
        ("短く!", "SMTER"),
        ("もうちょい短くしてくれへん?", "SMTER"),
        ("もっと長めにお願いします", "SMTE"),
        ("別の言い回しで書き直してみて", "SMTERL"),
        ("ほかのバージョンもください", "SMTRL"),
        ("うーん、もう一度お願いできますか", "SMTERLCQ"),
        ("なんか違う。やり直しで", "SMTERLC"),
        ("もっと丁寧な感じにしてください", "MRL"),
        ("ちょっと硬いなあ、もっとくだけた感じで", "MRLT"),
        ("やわらかい口調にして", "MRLE"),
        ("箇条書きにしてほしい", "SEQ"),
        ("数字は残して、ほかは削って", "S"),
        ("一文でおねがい", "SQ"),
        ("これも同じようにまとめて:{mat}", "S"),
        ("次はこれ。\n{mat}", "SLR"),
        ("これもお願い:{mat}", "LR"),
        ("今度はドイツ語で", "L"),
        ("韓国語だとどうなる?", "L"),
        ("もっと自然な訳にしてくれる?", "L"),
        ("直訳っぽいから、こなれた感じに", "L"),
        ("固有名詞はそのまま残して", "L"),
        ("続きは?", "T"),
        ("続けてくれへん?", "T"),
        ("そのあとどうなったの?", "T"),
        ("結末をハッピーエンドに変えて", "T"),
        ("主人公を猫にしてみて", "T"),
        ("もう一本、今度は宇宙が舞台で", "T"),
        ("子ども向けだから、もっとこわくない感じに", "T"),
        ("件名もつけてください", "M"),
        ("署名は営業部の田中で", "M"),
        ("来週木曜なら打ち合わせできる、と書き足して", "M"),
        ("押しつけがましくないようにして", "M"),
        ("宛先を部署全体に変えてほしいです", "M"),
        ("同じ調子で、今度は断りのメールも", "M"),
        ("もっとかみくだいてほしい", "E"),
        ("例をひとつ出してもらえますか", "EQ"),
        ("正直まだピンとこない…", "E"),
        ("食べ物でたとえると?", "E"),
        ("{mat}についても同じように教えて", "E"),
        ("なんでそうなるん?", "QE"),
        ("それって今でもそうなんですか?", "Q"),
        ("どこ情報?", "Q"),
        ("どれくらい確かなの?", "Q"),
        ("型ヒントつけて", "C"),
        ("非同期版にしてください", "C"),
        ("ファイルがないときのエラー処理も入れて", "C"),
        ("関数名を load_rows に変えてもらえる?", "C"),
        ("{mat}\n\n実行したらこうなった", "C"),
        ("pytestのテストも書いて", "C"),
        ("大きいデータだと遅い。速くできる?", "C"),
        ("TypeScriptでも書いて", "C"),
        ("コメントは日本語でいれてほしい", "C"),
        ("もっとドラマチックに", "RT"),
        ("関西弁バージョンもちょうだい", "RT"),
        ("みじかくして", "SMTER"),
        ("もっとていねいに", "MRL"),
    ],
}

# (phrasing, target task letter, the tasks it may come after)
NAMED: dict[str, list[tuple[str, str, str]]] = {
    "en": [
        ("now turn that into an email to my team", "M", "STEQ"),
        ("write that up as a polite note to my landlord", "M", "SQ"),
        ("translate that into Spanish", "L", "SMTERQ"),
        ("can I get that in Japanese?", "L", "SMTEQ"),
        ("sum that up in two lines", "S", "MTE"),
        ("tl;dr?", "S", "TEM"),
        ("give me the gist of that as bullets", "S", "TM"),
        ("write a python function that does that", "C", "E"),
        ("can you code that up in JS?", "C", "EQ"),
        ("make a bedtime story out of that", "T", "SEQ"),
        ("turn it into a short story for kids", "T", "SE"),
        ("explain that code like I'm twelve", "E", "C"),
        ("explain the idea behind that in plain words for a beginner", "E", "SC"),
    ],
    "ja": [
        ("それをチーム宛てのメールにしてください", "M", "STEQ"),
        ("今の内容で大家さんへ丁寧な連絡文を書いて", "M", "SQ"),
        ("それ英語に訳して", "L", "SMTERQ"),
        ("中国語にするとどうなりますか", "L", "SMTEQ"),
        ("2行で要約して", "S", "MTE"),
        ("で、要点だけ3つにまとめると?", "S", "TEM"),
        ("ざっくりまとめて", "S", "TM"),
        ("それをPythonで書けますか?", "C", "EQ"),
        ("JavaScriptでコードにしてくれる?", "C", "EQ"),
        ("それを元に寝る前のお話を作って", "T", "SEQ"),
        ("子ども向けの物語に仕立てて", "T", "SE"),
        ("そのコード、初心者向けにやさしく説明して", "E", "C"),
        ("その考え方を中学生にもわかるように説明して", "E", "SC"),
    ],
}

# A pasted error after work of another kind (a switch to code).
ERROR_SWITCH = {
    "en": ["{err}", "{err}\n\nhow do I fix this?", "ugh, my script crashed:\n{err}"],
    "ja": ["{err}", "{err}\n\nこれどう直せばいい?", "スクリプトが落ちました。\n{err}"],
}

# Markers before an unrelated new request ("" = none).
MARKERS = {
    "en": [
        "Unrelated: ",
        "Different topic — ",
        "ok switching gears. ",
        "Separate thing: ",
        "Oh, also something else: ",
        "New task: ",
        "btw ",
        "Moving on. ",
    ],
    "ja": [
        "ところで、",
        "話変わるけど、",
        "まったく別件なんですが、",
        "あ、それとは関係ないんだけど、",
        "次は全然ちがう話で、",
        "そういえば、",
        "ほな別の頼みやけど、",
        "新しいお願いです。",
    ],
}

# A factual question after a mail (a switch to qa).
FACTS = {
    "en": [
        "quick question, what's the time difference between Tokyo and London?",
        "how many ounces are in a pound?",
        "when does daylight saving end in the US?",
        "what's the boiling point of water at the top of Mt Fuji?",
        "who wrote Pride and Prejudice?",
        "by the way, which planet has the most moons?",
    ],
    "ja": [
        "ところで、東京とロンドンの時差って何時間?",
        "1マイルは何キロですか?",
        "富士山の高さはどれくらい?",
        "オリンピックって何年ごとに開かれるんだっけ?",
        "『吾輩は猫である』の作者は誰ですか",
        "一年でいちばん昼が長い日はいつ?",
    ],
}

ERRORS = [
    'Traceback (most recent call last):\n  File "sort_rows.py", line 14, in <module>\n'
    "    rows.sort(key=lambda r: r[3])\nIndexError: list index out of range",
    'Traceback (most recent call last):\n  File "load.py", line 7, in read_all\n'
    "    with open(path) as f:\nFileNotFoundError: [Errno 2] No such file or directory: 'data.csv'",
    "TypeError: Cannot read properties of undefined (reading 'map')\n"
    "    at renderList (app.js:22:18)",
    'Traceback (most recent call last):\n  File "stats.py", line 3, in mean\n'
    "    return sum(xs) / len(xs)\nZeroDivisionError: division by zero",
    "error[E0382]: borrow of moved value: `names`\n --> src/main.rs:9:20",
]

# New material for "the same work on this one".
MATERIAL: dict[str, dict[str, list[str]]] = {
    "en": {
        "S": [
            "The bakery on Elm Street will move to a bigger shop next spring. The owners say the "
            "new kitchen lets them bake twice as much bread, and they plan to add a small cafe.",
            "Ticket sales for the autumn festival fell 12% this year. Organisers blame the rain "
            "on the first weekend and say next year's event will add a covered stage.",
            "Our team moved the weekly sync from Monday to Wednesday. Notes will now be posted "
            "in the shared folder, and anyone who misses the call should read them by Friday.",
        ],
        "L": [
            "The meeting room on the third floor is booked until noon.",
            "Could you send me the slides before tomorrow morning?",
            "We are out of milk, so I'll stop by the store on my way home.",
        ],
        "R": [
            "The printer is broken again and nobody knows who to call.",
            "Please remember to water the plants while I'm away.",
            "Our train was delayed for forty minutes this morning.",
        ],
        "E": ["inflation", "how vaccines work", "compound interest", "black holes"],
    },
    "ja": {
        "S": [
            "駅前の商店街では、来月から毎週土曜に朝市が開かれる。地元の農家が野菜や果物を持ち寄り、"
            "売り上げの一部は商店街の改修費にあてられる予定だ。",
            "今年の新入社員研修は、オンラインと対面を組み合わせた形で行う。最初の一週間は在宅で"
            "基礎を学び、二週目から各部署での実習に移る。",
            "市営バスの路線が四月に再編される。利用の少ない二路線を廃止する代わりに、病院と駅を"
            "結ぶ便を一時間に四本へ増やす。",
        ],
        "L": [
            "三階の会議室は正午まで予約が入っています。",
            "明日の朝までに資料を送っていただけますか。",
            "牛乳が切れたので、帰りにスーパーに寄ります。",
        ],
        "R": [
            "またプリンターが壊れていて、誰に連絡すればいいのか分からない。",
            "留守の間、植木に水をやるのを忘れないでね。",
            "今朝は電車が四十分も遅れた。",
        ],
        "E": ["インフレ", "ワクチンの仕組み", "複利", "ブラックホール"],
    },
}

# The assistant's answers: only their shape matters (length, a code fence for code).
ANSWERS: dict[str, dict[str, list[str]]] = {
    "en": {
        "summarize": [
            "- Moves to a larger shop in spring\n- Double the baking capacity\n- A cafe is planned",
            "Sales dropped 12%, mostly due to rain; a covered stage is planned for next year.",
        ],
        "business_mail": [
            "Subject: Schedule update\n\nHi all,\n\nJust a heads-up that the review moves to "
            "Thursday at 3 pm. Let me know if that doesn't work.\n\nBest regards,\nAlex",
            "Dear Ms. Carter,\n\nThank you for your inquiry. We would be glad to arrange a call "
            "next week. Please let us know a time that suits you.\n\nKind regards,\nSam Lee",
        ],
        "story": [
            "The fox waited by the frozen river until the moon came up. When the ice finally "
            "sang, she knew the old crossing was open again, and she ran home to tell her cubs.",
            "Mina found the key in a library book nobody had borrowed for forty years. That "
            "night, the tiny door behind the shelves opened onto a street lit by paper lanterns.",
        ],
        "explain_simple": [
            "Think of it like a savings jar that grows by itself: every month a little extra "
            "appears, and next month the extra grows too.",
            "Your body keeps a 'wanted poster' of the germ, so when the real one shows up, your "
            "defenders recognise it right away and stop it fast.",
        ],
        "style_rewrite": [
            "Arr, the printer be busted once more, and not a soul aboard knows who to hail!",
            "Heads up, folks: this morning's train crawled in a full forty minutes late.",
        ],
        "translate": [
            "三階の会議室は正午まで予約されています。",
            "La salle de réunion est réservée jusqu'à midi.",
            "Could you send me the materials by tomorrow morning?",
        ],
        "code": [
            "```python\nimport csv\n\n\ndef load_rows(path):\n    with open(path, newline='') as f:"
            "\n        return list(csv.reader(f))\n```",
            "```python\ndef mean(xs):\n    if not xs:\n        return 0.0\n    return sum(xs) / "
            "len(xs)\n```\nThis returns 0.0 for an empty list instead of raising.",
        ],
        "qa": [
            "It's Jupiter's neighbour Saturn, with over 140 confirmed moons.",
            "About 16 ounces make one pound.",
            "Mostly because warm, moist air rises quickly and the ice particles collide.",
        ],
    },
    "ja": {
        "summarize": [
            "・来月から毎週土曜に朝市\n・地元農家が出店\n・売上の一部を改修費に",
            "四月に路線を再編し、利用の少ない二路線を廃止、病院と駅の便を増やす。",
        ],
        "business_mail": [
            "件名:打ち合わせ日程のご相談\n\n株式会社△△ 佐藤様\n\nいつもお世話になっております。"
            "来週の打ち合わせについて、日程をご相談させてください。\n\nよろしくお願いいたします。",
            "件名:資料送付のお願い\n\n各位\n\nお疲れさまです。明日の会議資料を本日中に共有"
            "いただけますと幸いです。\n\n総務部 山本",
        ],
        "story": [
            "雪の降る町で、古い時計屋のおじいさんは毎晩ひとつだけ時計を直していました。"
            "ある夜、直した時計が小さな声で「ありがとう」と言ったのです。",
            "ハルは海辺で光るビンを拾いました。中の手紙には、十年前の自分の字で「明日、"
            "灯台へ行って」と書かれていました。",
        ],
        "explain_simple": [
            "貯金箱にお金を入れておくと、毎月ちょっとずつおまけが増えて、そのおまけにもまた"
            "おまけがつく、というイメージです。",
            "体の中に「この悪者に注意」という手配書を先に配っておくので、本物が来たときに"
            "すぐ見つけてやっつけられるのです。",
        ],
        "style_rewrite": [
            "またまたプリンターがご機嫌ななめ。誰に助けを求めればいいのやら!",
            "本日、電車は四十分ほど遅延いたしました。",
        ],
        "translate": [
            "The meeting room on the third floor is reserved until noon.",
            "Could you please send me the materials by tomorrow morning?",
            "I'll stop by the supermarket on my way home because we're out of milk.",
        ],
        "code": [
            "```python\nimport csv\n\n\ndef load_rows(path):\n    with open(path, newline='') as f:"
            "\n        return list(csv.reader(f))\n```",
            "```python\ndef mean(xs):\n    if not xs:\n        return 0.0\n    return sum(xs) / "
            "len(xs)\n```\n空のリストでは 0.0 を返します。",
        ],
        "qa": [
            "日本で一番大きい湖は琵琶湖で、面積は約670平方キロメートルです。",
            "一般的に、1マイルは約1.6キロメートルです。",
            "暖かく湿った空気が急に上昇し、氷の粒がぶつかり合うことで起こります。",
        ],
    },
}
