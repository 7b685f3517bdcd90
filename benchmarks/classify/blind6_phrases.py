"""Phrasings of the sixth blind held-out multi-turn set (`blind6_turns.py` turns them into
conversations with `blind_generator.py`). Written by an author who saw no training phrasing and
no earlier blind set: follow-ups that keep the task (edits, continuations, "again but for X",
"and this one: ...", corrections, questions on the answer, typos, mixed language, pasted text)
and switches that ask for another task (named on the last answer, new requests with or without
a marker, pasted errors). `{m}` is filled with a MATERIAL item of the turn's task.
"""

TEXTUAL = {"summarize", "business_mail", "story", "explain_simple", "style_rewrite"}

GENERIC = {
    "en": [
        "shorter",
        "a bit longer pls",
        "two sentences max",
        "bullet points please",
        "try another version",
        "again",
        "no emojis",
        "cut the intro",
        "too long",
        "hmm not quite, try again",
        "perfect, thanks! can i get one more version?",
        "can u make it shorter lol",
        "make it punchier",
        "less stiff",
        "simpler words please",
        "keep it under 100 words",
        "shortr",
        "ok but make it tighter",
        "arigato! one more take on it, a little warmer",
        "Could you trim it down to about half the length without losing anything important?",
    ],
    "ja": [
        "もう少し短く",
        "もうちょっと長めでお願い",
        "2文以内で",
        "箇条書きにして",
        "別パターンもちょうだい",
        "もう一回お願い",
        "絵文字なしで",
        "もっと簡潔に",
        "なんか硬いから、もう少しくだけた感じで",
        "いいね、ありがと！もう少しだけ短くできる？",
        "長すぎ",
        "うーん、ちょっと違う。やり直して",
        "前置きいらない",
        "100字くらいに収めて",
        "もっとわかりやすい言葉で",
        "ひらがな多めにして",
        "もうすこしみじかくして",
        "もうちょいshortに",
        "シンプルにして",
        "悪くないけど、もう少しテンポよくできる？",
    ],
}

FOLLOW = {
    "en": {
        "summarize": [
            "now in 3 bullet points",
            "make it one line, it's for a Slack update",
            "and this one: {m}",
            "can you keep the numbers in? you dropped the figures",
            "what was the main conclusion again, in one sentence",
            "shorter pls",
            "summarise this next part too:\n\n{m}",
            "you left out the part about the deadline, add it",
            "tl;dr of that tl;dr?",
            "ok do the same for this paragraph {m}",
            "good. now a version under 50 words",
            "focus on the action items only",
            "make it a summary my boss can read in 10 seconds",
            "summry plz, shorter, no fluff",
        ],
        "business_mail": [
            "make it more polite",
            "a bit less formal, we know each other",
            "add that I can do a call on Thursday afternoon",
            "sign it as Kenji Mori, Sales",
            "give me a subject line too",
            "shorten it, nobody reads long emails",
            "ok now one {m}",
            "can you make it sound less apologetic",
            "also mention the invoice number INV-2291",
            "change the date to March 14 and keep the rest",
            "thx. could you write the reply I'd send if they say no?",
            "make it firmer, this is the third reminder",
            "remove the last paragraph, it sounds desperate",
            "pls make it more profesional",
            'They replied with this: "We can\'t make Thursday, would Monday work?" '
            "Write my answer confirming Monday 10am.",
        ],
        "story": [
            "continue",
            "keep going, what happens next?",
            "make the ending happier",
            "add a talking cat",
            "rewrite it from the villain's point of view",
            "shorter, it's for a 4 year old",
            "another one but set on Mars",
            "can u write part 2",
            "give the main character a name, and make her older",
            "less cheesy pls",
            "now one about {m}",
            "nice!! can you add a twist at the end",
            "make it scarier",
            "write the next chapter where they finally meet",
        ],
        "explain_simple": [
            "still don't get it, even simpler?",
            "can you use an analogy?",
            "ok now explain {m} the same way",
            "what about for a 7 year old",
            "wait, why does that happen? explain like before",
            "give me a real-life example",
            "shorter, my kid loses interest fast",
            "no jargon please",
            "what does 'compound' mean in what you wrote?",
            "ok that helped. can you go one level deeper but still simple",
            "explain it like im 5 lol",
            "break it into simple steps",
            "cool, and the same thing for {m}?",
        ],
        "style_rewrite": [
            "even more gyaru pls",
            "tone it down a bit, too much slang",
            "now the same but like a pirate",
            "and this one: {m}",
            "make it sound like a Gen Z tweet instead",
            "more sarcastic",
            "keep the meaning but make it sound like a 1920s detective",
            "less cringe lol",
            "do it in Kansai dialect instead",
            "still too formal, make it sound like texting a friend",
            "same vibe, but for this line: {m}",
            "can you add some emojis",
            "make it sound like a Shakespeare character",
            "now a super polite customer-service version",
        ],
        "translate": [
            "now into French too",
            "more natural please, that sounds like a machine",
            "and this one: {m}",
            "use the polite form",
            "is there a more casual way to say it?",
            "how would you say it in Korean",
            "keep the names untranslated",
            "translate the next paragraph as well:\n\n{m}",
            "can you give me the romaji",
            "hmm 'deadline' should be 締め切り not 期限, fix that",
            "Spanish version pls",
            "make it shorter, it has to fit on a button",
            "thanks! and this: {m}",
            "translat this too {m}",
            "and in 日本語?",
        ],
        "code": [
            "add type hints",
            "now write pytest tests for it",
            "can you do it in TypeScript instead",
            "it fails with KeyError: 'id' when the list is empty",
            "make it async",
            "why did you use a set there?",
            "same thing for this function:\n{m}",
            "shorter, no comments",
            "add docstrings",
            "it works, thanks. now add a CLI flag for the output path",
            "can you make it O(n) instead of O(n^2)",
            "use requests instead of urllib",
            "refactor into smaller functions",
            "doesnt compile: expected `;` on line 12",
        ],
        "qa": [
            "and in Canada?",
            "source?",
            "how sure are you about that?",
            "what about in 2010?",
            "why is that?",
            "ok, and who came second?",
            "another one: {m}",
            "wait, is that still true today?",
            "just the number please",
            "can you give more detail on the second point",
            "thx. also {m}",
            "is that the same in Japan?",
            "hm, I thought it was bigger than that. are you sure?",
        ],
    },
    "ja": {
        "summarize": [
            "3行にして",
            "箇条書きで3つにまとめて",
            "これもお願い：{m}",
            "数字は残してほしい",
            "結論だけ一文で",
            "もっと短く、Slackに貼る用",
            "次の段落も要約して\n\n{m}",
            "締め切りの話が抜けてるので入れて",
            "上司が10秒で読めるくらいにして",
            "アクションアイテムだけ抜き出して",
            "同じ感じでこっちも {m}",
            "もうちょいみじかくようやくして",
            "50字以内で",
            "summaryをbullet pointsで",
        ],
        "business_mail": [
            "もっと丁寧にして",
            "もう少しくだけた感じで、社内向けなので",
            "木曜の午後なら打ち合わせ可能、と追記して",
            "署名を営業部 森 健二にして",
            "件名も考えて",
            "長いので半分くらいに",
            "謝りすぎな感じがするので調整して",
            "請求書番号 INV-2291 も入れておいて",
            "日付を3月14日に変えて、他はそのままで",
            "断られた場合の返信も書いて",
            "次は{m}をお願い",
            "3回目の催促なので、もう少し強めに",
            "最後の段落いらないかも、消して",
            "敬語おかしくない？直して",
            "先方からこう返ってきた：「木曜は難しいので月曜はいかがでしょうか」"
            "月曜10時でOKと返信したい",
        ],
        "story": [
            "続けて",
            "続きは？",
            "結末をハッピーエンドにして",
            "しゃべる猫を登場させて",
            "悪役の視点で書き直して",
            "4歳の子向けにもっと短く",
            "舞台を火星にしてもう一本",
            "第2話書いて",
            "主人公に名前つけて、年齢も上げて",
            "ちょっとクサすぎるので控えめに",
            "次は{m}の話で",
            "最後にどんでん返し入れて",
            "もっと怖くして",
            "つづきかいて",
        ],
        "explain_simple": [
            "まだ難しい、もっとかみ砕いて",
            "たとえ話で説明して",
            "じゃあ{m}も同じ感じで",
            "小学1年生向けだと？",
            "具体例ある？",
            "専門用語なしでお願い",
            "さっきの『複利』ってどういう意味？",
            "なるほど！もう一段階だけ詳しく、でも簡単に",
            "ステップごとに分けて説明して",
            "短くして、子供がすぐ飽きるので",
            "それってなんで？そこもやさしく",
            "{m}はどう？同じくらい簡単に",
            "わかりやすかった、ありがとう。ついでに{m}も",
        ],
        "style_rewrite": [
            "もっとギャルっぽく",
            "ちょっとやりすぎ、ギャル感控えめで",
            "今度は関西弁で",
            "これもお願い：{m}",
            "武士っぽい口調にして",
            "お嬢様言葉バージョンも",
            "もっと皮肉っぽく",
            "絵文字もつけて",
            "意味はそのままで、おじさん構文にして",
            "同じノリでこの文も {m}",
            "若者言葉すぎて分からん、少し普通寄りに",
            "執事っぽく丁寧すぎる感じにして",
            "ギャル語もっと盛って笑",
            "ツンデレ風にして",
        ],
        "translate": [
            "フランス語もお願い",
            "もっと自然な英語にして",
            "これもお願い：{m}",
            "もう少しカジュアルな言い方ある？",
            "韓国語だと？",
            "固有名詞はそのままで",
            "次の段落も訳して\n\n{m}",
            "「締め切り」は deadline で統一して",
            "ボタンに入れるので短めの訳にして",
            "アメリカ英語っぽく",
            "ありがとう！ついでにこれも {m}",
            "ビジネス向けに硬めの訳で",
            "中国語（簡体字）でも",
            "やくしてこれも {m}",
        ],
        "code": [
            "型ヒントつけて",
            "pytestのテストも書いて",
            "TypeScriptで書き直して",
            "リストが空だと KeyError: 'id' が出る",
            "async対応にして",
            "なんでここsetを使ったの？",
            "この関数にも同じことして\n{m}",
            "コメントなしで短く",
            "docstring追加して",
            "動いた、ありがとう。出力先をCLI引数で指定できるようにして",
            "O(n^2)になってるのでO(n)にできる？",
            "urllibじゃなくてrequestsでお願い",
            "関数に分割してリファクタして",
            "12行目でコンパイルエラー出る",
        ],
        "qa": [
            "カナダだと？",
            "ソースある？",
            "それ本当？自信ある？",
            "2010年時点では？",
            "なんで？",
            "じゃあ2位は？",
            "もう一つ質問：{m}",
            "今もそうなの？",
            "数字だけ教えて",
            "2つ目のところもう少し詳しく",
            "ありがと。あと{m}",
            "日本だとどう？",
            "もっと大きいと思ってた。合ってる？",
        ],
    },
}

_ALL = {"summarize", "business_mail", "story", "explain_simple", "style_rewrite", "translate"}
_ALL |= {"code", "qa"}

# (phrase, the task it asks for, the tasks after which it is a switch)
NAMED = {
    "en": [
        ("now translate that into German", "translate", _ALL - {"translate", "code"}),
        (
            "can you put that into Japanese for my colleague?",
            "translate",
            _ALL - {"translate", "code"},
        ),
        ("now the story in Spanish please", "translate", {"story"}),
        ("translate the email into Japanese", "translate", {"business_mail"}),
        ("turn this into an email to my team", "business_mail", {"summarize", "explain_simple"}),
        (
            "great, now write a short email sending this summary to the client",
            "business_mail",
            {"summarize"},
        ),
        (
            "send that to my boss as a formal email and ask for approval",
            "business_mail",
            {"summarize", "translate", "explain_simple"},
        ),
        (
            "summarize that in 3 bullets",
            "summarize",
            {"story", "explain_simple", "translate", "business_mail"},
        ),
        ("tl;dr of that story for the back cover", "summarize", {"story"}),
        (
            "rewrite that in gyaru style lol",
            "style_rewrite",
            {"summarize", "explain_simple", "translate", "qa"},
        ),
        (
            "make that sound like a pirate wrote it",
            "style_rewrite",
            {"summarize", "explain_simple", "translate"},
        ),
        ("write a short story based on that", "story", {"summarize", "explain_simple", "qa"}),
        (
            "cool, can you make that into a bedtime story for my daughter?",
            "story",
            {"explain_simple", "qa", "summarize"},
        ),
        (
            "explain that to me like I'm 10, I didn't get it",
            "explain_simple",
            {"code", "summarize"},
        ),
        (
            "what does this code do? explain it simply, I'm not a programmer",
            "explain_simple",
            {"code"},
        ),
        ("write a python script that does that", "code", {"explain_simple", "qa"}),
        ("can you give me the SQL for that?", "code", {"qa", "explain_simple"}),
        (
            "is any of that historically accurate? when did the Edo period actually end?",
            "qa",
            {"story"},
        ),
        ("unrelated to the code, what year did Python 3 come out?", "qa", {"code"}),
    ],
    "ja": [
        ("これをドイツ語に訳して", "translate", _ALL - {"translate", "code"}),
        ("今のを英語にして", "translate", _ALL - {"translate", "code"}),
        ("この物語を英語に翻訳して", "translate", {"story"}),
        ("このメールを英訳して", "translate", {"business_mail"}),
        ("これをメールにして", "business_mail", {"summarize", "explain_simple", "qa", "translate"}),
        (
            "この内容で上司に報告メール書いて",
            "business_mail",
            {"summarize", "translate", "explain_simple"},
        ),
        (
            "今の話を3行で要約して",
            "summarize",
            {"story", "explain_simple", "translate", "business_mail"},
        ),
        (
            "それをギャル語にして",
            "style_rewrite",
            {"summarize", "explain_simple", "translate", "qa"},
        ),
        ("今の説明を関西弁っぽく言い換えて", "style_rewrite", {"explain_simple", "summarize"}),
        ("これをもとに短いお話を書いて", "story", {"summarize", "explain_simple", "qa"}),
        ("それを子供向けの童話にしてみて", "story", {"explain_simple", "qa", "summarize"}),
        (
            "このコード何してるか、プログラミング知らない人向けにやさしく説明して",
            "explain_simple",
            {"code"},
        ),
        ("小学生にもわかるように説明し直して", "explain_simple", {"summarize", "code"}),
        ("これPythonで実装して", "code", {"explain_simple", "qa"}),
        ("今の条件でSQL書いて", "code", {"qa", "explain_simple"}),
        ("この話の時代背景って史実だとどうなの？", "qa", {"story"}),
        ("コードとは関係ないけど、Python 3が出たのって何年？", "qa", {"code"}),
    ],
}

MARKERS = {
    "en": [
        "Unrelated question: ",
        "Different topic - ",
        "btw, totally separate thing: ",
        "OK switching gears. ",
        "Something else now. ",
        "New task: ",
        "Forget that for a sec. ",
        "also, unrelated, ",
        "ok next thing:\n",
        "Changing the subject — ",
    ],
    "ja": [
        "話は変わるけど、",
        "全然関係ないんだけど、",
        "ところで、",
        "別件です。",
        "あ、あと別の話で、",
        "それとは別に、",
        "話変わって申し訳ないけど、",
        "次は違うお願い。",
        "ちなみに全然別件で、",
        "いったん別の話。\n",
    ],
}

NEW = {
    "en": {
        "summarize": [
            "Summarize this article for me: {m}",
            "can you tl;dr this?\n\n{m}",
            "give me the key points of this in 3 bullets:\n{m}",
            "what's the gist of this, short version please: {m}",
            "Need a quick summary of the following for a meeting:\n\n{m}",
            "sum up this text in two sentences: {m}",
        ],
        "business_mail": [
            "Write an email to my landlord asking them to fix the heater, politely but firmly",
            "Draft a short email to a client apologizing for the delayed shipment",
            "write a polite email {m}",
            "I need a professional email declining a vendor's proposal",
            "can you write a follow-up email to a recruiter I haven't heard back from in 2 weeks",
            "email to my team announcing that the office is closed on Friday",
        ],
        "story": [
            "write a short story about {m}",
            "Tell me a bedtime story about a robot who is scared of the dark",
            "can you write a 200-word horror story set in an office",
            "I want a fairy tale where the princess saves the dragon",
            "write a flash fiction piece that starts with 'The rain stopped at noon.'",
            "make up a funny story about a penguin who wants to fly",
        ],
        "explain_simple": [
            "explain {m} in simple terms, like to a kid",
            "ELI5: how do vaccines work?",
            "explain what inflation is like I'm 10",
            "can you explain blockchain simply, no jargon",
            "in plain words, what is machine learning?",
            "how would you explain to my grandma what the cloud is?",
        ],
        "style_rewrite": [
            "rewrite this in gyaru speak: {m}",
            "make this sound like a pirate: {m}",
            "turn this into Gen Z slang: {m}",
            "can you rewrite this to sound way more casual: {m}",
            "say this like a medieval knight would: {m}",
            "rewrite this sentence in an over-the-top dramatic tone: {m}",
        ],
        "translate": [
            "translate into Japanese: {m}",
            "How do I say this in Spanish? {m}",
            "translate this to French please:\n{m}",
            "can you translate this into Korean: {m}",
            "Japanese translation of this, polite form: {m}",
            "put this into German: {m}",
        ],
        "code": [
            "write a Python function that removes duplicates from a list but keeps order",
            "fix this function: {m}",
            "how do I read a CSV in pandas and drop empty rows? show code",
            "add error handling to this:\n\n{m}",
            "write a bash one-liner that finds files bigger than 100MB",
            "regex to validate an email address in JavaScript?",
            "write a SQL query that gets the top 5 customers by total order amount",
        ],
        "qa": [
            "what's the tallest mountain in Africa?",
            "{m}",
            "when was the first iPhone released?",
            "how far is the moon from earth?",
            "who wrote Pride and Prejudice?",
            "what's the time difference between Tokyo and London?",
            "quick q: how many ounces are in a pound?",
        ],
    },
    "ja": {
        "summarize": [
            "この記事を要約して：{m}",
            "これ3行でまとめて\n\n{m}",
            "要点を箇条書きで：{m}",
            "会議用に短くまとめてほしい\n{m}",
            "ざっくり何て書いてある？短く：{m}",
            "以下の文章を2文で要約：{m}",
        ],
        "business_mail": [
            "大家さんに暖房の修理をお願いするメールを書いて",
            "取引先に納期遅延のお詫びメールを書いてください",
            "{m}を書いて",
            "業者からの提案を丁寧に断るメールの文面をお願い",
            "2週間返事がない採用担当にフォローのメールを送りたい。文面考えて",
            "チームに金曜はオフィス閉鎖と知らせる社内メールを作って",
        ],
        "story": [
            "{m}の短いお話を書いて",
            "暗闇が怖いロボットのおやすみ前のお話を書いて",
            "オフィスが舞台の200字ホラーを書いて",
            "お姫様がドラゴンを助ける童話を書いて",
            "「正午に雨がやんだ。」で始まるショートショートを書いて",
            "空を飛びたいペンギンの面白い話を作って",
        ],
        "explain_simple": [
            "{m}を子供にもわかるように説明して",
            "ワクチンの仕組みを5歳児にもわかるように教えて",
            "インフレって何？小学生向けに",
            "ブロックチェーンを専門用語なしで簡単に説明して",
            "機械学習ってざっくり言うと何？やさしく",
            "おばあちゃんに「クラウド」を説明するならどう言う？",
        ],
        "style_rewrite": [
            "これをギャル語にして：{m}",
            "この文を関西弁に変えて：{m}",
            "武士の口調で言い換えて：{m}",
            "もっとくだけた感じに書き換えて：{m}",
            "お嬢様言葉にして：{m}",
            "若者言葉っぽく言い換えて→{m}",
        ],
        "translate": [
            "英語に翻訳して：{m}",
            "これ英語で何て言う？ {m}",
            "フランス語に訳してください\n{m}",
            "韓国語に訳して：{m}",
            "ビジネス英語で訳して：{m}",
            "ドイツ語にして：{m}",
        ],
        "code": [
            "リストの重複を順番を保ったまま削除するPython関数を書いて",
            "この関数直して：{m}",
            "pandasでCSV読んで空行を消すコード教えて",
            "これにエラー処理を追加して\n\n{m}",
            "100MB以上のファイルを探すbashワンライナーを書いて",
            "JavaScriptでメールアドレスを検証する正規表現ある？",
            "注文金額の合計が多い顧客トップ5を出すSQLを書いて",
        ],
        "qa": [
            "アフリカで一番高い山は？",
            "{m}",
            "初代iPhoneの発売はいつ？",
            "月と地球の距離ってどのくらい？",
            "『高慢と偏見』の作者は？",
            "東京とロンドンの時差は？",
        ],
    },
}

_CODE = [
    "def avg(xs):\n    return sum(xs) / len(xs)",
    "function getUser(id) {\n  return fetch('/api/users/' + id).then(r => r.json())\n}",
    "def find(items, target):\n    for i in range(len(items)):\n        if items[i] == target:\n"
    "            return i",
    "def load(path):\n    with open(path) as f:\n        data = json.load(f)\n"
    "    return data['items']",
    "func sum(xs []int) int {\n\tt := 0\n\tfor i := 0; i <= len(xs); i++ {\n\t\tt += xs[i]\n\t}\n"
    "\treturn t\n}",
]

MATERIAL = {
    "en": {
        "summarize": [
            "The city council voted on Tuesday to extend the night bus service until 2am on "
            "weekends. The trial will run for six months starting in April and cost about "
            "$1.2 million. Officials said ridership data will decide whether it becomes "
            "permanent.",
            "Our Q3 sales grew 8% year over year, mainly driven by the new subscription plan. "
            "However, churn rose to 4.1% and support tickets doubled after the September "
            "release. The team proposes pausing new features for two sprints to fix stability.",
            "Researchers found that people who took a 20-minute walk after lunch had lower "
            "blood sugar spikes than those who sat. The study followed 300 adults for 12 weeks. "
            "The effect was strongest in people over 50.",
            "Starting next month, all employees must submit expense reports through the new "
            "portal. Paper receipts will no longer be accepted after June 30. Training sessions "
            "are scheduled for the first two weeks, and managers must approve reports within "
            "five business days.",
        ],
        "business_mail": [
            "to my manager asking for next Friday off",
            "to a supplier asking for a revised quote",
            "thanking a client for the meeting yesterday",
            "to HR asking how many vacation days I have left",
            "to a customer explaining that their refund was processed",
        ],
        "story": [
            "a lighthouse keeper and a lost seagull",
            "a girl who finds a door in the back of her closet",
            "two old friends meeting after 30 years",
            "a cat who runs a ramen shop",
            "the last tree on a space station",
        ],
        "explain_simple": [
            "how interest rates work",
            "what a neural network is",
            "why the sky is blue",
            "how a credit score works",
            "what DNS does",
        ],
        "style_rewrite": [
            "I can't come to the party tonight, sorry.",
            "The meeting has been moved to 3pm.",
            "Thank you for your patience while we fix the issue.",
            "I'm really tired today and just want to go home.",
            "We regret to inform you that the event is cancelled.",
        ],
        "translate": [
            "The package will arrive on Tuesday.",
            "Could you send me the slides after the meeting?",
            "I've been learning Japanese for two years.",
            "Please let me know if you have any questions.",
            "The store closes early on Sundays.",
        ],
        "code": _CODE,
        "qa": [
            "who painted The Night Watch?",
            "how long does light from the sun take to reach earth?",
            "what's the capital of Australia?",
            "when did the Berlin Wall fall?",
            "how many bones does an adult human have?",
        ],
    },
    "ja": {
        "summarize": [
            "市議会は火曜日、週末の深夜バスを午前2時まで延長する案を可決した。4月から半年間の"
            "試験運行で、費用は約1億8千万円。利用者数を見て本格運行にするか判断するという。",
            "第3四半期の売上は前年比8%増で、主に新しいサブスクプランが寄与した。一方で解約率は"
            "4.1%に上昇し、9月のリリース後に問い合わせが倍増した。チームは新機能開発を2スプリント"
            "止めて安定化に集中することを提案している。",
            "昼食後に20分歩いた人は、座っていた人に比べて血糖値の急上昇が小さかったという研究結果"
            "が出た。成人300人を12週間追跡した。効果は50歳以上で最も大きかった。",
            "来月から経費精算はすべて新しいポータルで行うこと。紙の領収書は6月30日以降受け付け"
            "ない。最初の2週間に説明会を行い、上長は5営業日以内に承認すること。",
        ],
        "business_mail": [
            "上司に来週金曜の休みをお願いするメール",
            "仕入れ先に見積もりの再提出をお願いするメール",
            "昨日の打ち合わせのお礼を取引先に送るメール",
            "人事に有給の残り日数を問い合わせるメール",
            "お客様に返金処理が完了したことを伝えるメール",
        ],
        "story": [
            "灯台守と迷子のカモメ",
            "クローゼットの奥に扉を見つけた女の子",
            "30年ぶりに再会した幼なじみ",
            "ラーメン屋を営む猫",
            "宇宙ステーションに残った最後の木",
        ],
        "explain_simple": [
            "金利の仕組み",
            "ニューラルネットワーク",
            "空が青い理由",
            "クレジットスコア",
            "DNSの役割",
        ],
        "style_rewrite": [
            "本日の会議は15時からに変更になりました。",
            "今夜のパーティーには行けません、ごめんなさい。",
            "ご不便をおかけして申し訳ございません。",
            "今日はとても疲れたので早く帰りたいです。",
            "イベントは中止となりました。",
        ],
        "translate": [
            "荷物は火曜日に届きます。",
            "会議の後で資料を送ってもらえますか？",
            "日本語を2年間勉強しています。",
            "ご不明な点があればお知らせください。",
            "日曜日は早めに閉店します。",
        ],
        "code": _CODE,
        "qa": [
            "『夜警』を描いたのは誰？",
            "太陽の光が地球に届くまで何分かかる？",
            "オーストラリアの首都は？",
            "ベルリンの壁が崩壊したのはいつ？",
            "大人の骨は何本ある？",
        ],
    },
}

# Pasted errors (any language) and what the user writes under them ("" for nothing).
ERRORS = [
    'Traceback (most recent call last):\n  File "app.py", line 42, in <module>\n    main()\n'
    '  File "app.py", line 37, in main\n    total = sum(r["amount"] for r in rows)\n'
    "KeyError: 'amount'",
    "Uncaught TypeError: Cannot read properties of undefined (reading 'map')\n"
    "    at TodoList (TodoList.jsx:14:23)\n"
    "    at renderWithHooks (react-dom.development.js:14985:18)",
    "error[E0502]: cannot borrow `v` as mutable because it is also borrowed as immutable\n"
    " --> src/main.rs:6:5\n  |\n4 |     let first = &v[0];\n"
    "  |                  - immutable borrow occurs here\n5 |\n6 |     v.push(4);\n"
    "  |     ^^^^^^^^^ mutable borrow occurs here",
    "panic: runtime error: index out of range [3] with length 3\n\ngoroutine 1 [running]:\n"
    "main.main()\n\t/home/me/proj/main.go:12 +0x1d\nexit status 2",
    "npm ERR! code ERESOLVE\nnpm ERR! ERESOLVE unable to resolve dependency tree\n"
    "npm ERR! Found: react@18.2.0\nnpm ERR! Could not resolve dependency:\n"
    'npm ERR! peer react@"^17.0.0" from react-beautiful-dnd@13.1.1',
    'Exception in thread "main" java.lang.NullPointerException: Cannot invoke '
    '"String.length()" because "name" is null\n\tat com.example.App.greet(App.java:21)\n'
    "\tat com.example.App.main(App.java:9)",
    'ERROR:  column "created_at" does not exist\nLINE 1: SELECT id, created_at FROM users '
    "WHERE active = true;\n                   ^\n"
    'HINT:  Perhaps you meant to reference the column "users.createdAt".',
    'Traceback (most recent call last):\n  File "/Users/me/train.py", line 3, in <module>\n'
    "    import torch\nModuleNotFoundError: No module named 'torch'",
    "main.c: In function 'main':\nmain.c:8:5: warning: implicit declaration of function "
    "'prinf'; did you mean 'printf'?\n/usr/bin/ld: main.o: undefined reference to `prinf'\n"
    "collect2: error: ld returned 1 exit status",
]

ERROR_LINES = {
    "en": [
        "",
        "what's going on here?",
        "getting this after I updated, any idea?",
        "how do I fix this",
        "help pls",
        "this started happening out of nowhere",
        "why??",
    ],
    "ja": [
        "",
        "このエラーどうやって直す？",
        "急にこれ出るようになった…",
        "これ何が原因？",
        "助けて、動かない",
        "アップデートしたらこうなった",
        "意味わからん",
    ],
}

ANSWERS = {
    "en": {
        "summarize": [
            "Summary: The proposal extends the service for a six-month trial; the final decision "
            "depends on usage data.",
            "- Revenue up 8%\n- Churn rising\n- Team wants two sprints for stability",
            "In short: the main change takes effect next month, and the old process ends June 30.",
        ],
        "business_mail": [
            "Subject: Request for Time Off\n\nHi Sarah,\n\nI'd like to request Friday, May 10 off. "
            "My tasks are covered by Tom. Please let me know if that works.\n\nBest,\nKen",
            "Dear Mr. Lee,\n\nThank you for your time yesterday. As discussed, we will send the "
            "revised proposal by Wednesday.\n\nKind regards,\nAiko Tanaka",
            "Hello team,\n\nA quick reminder that the office will be closed this Friday. Please "
            "plan to work from home.\n\nThanks,\nMaria",
        ],
        "story": [
            "Once upon a time, in a village at the edge of the sea, an old lighthouse keeper "
            "found a seagull with a hurt wing. Night after night he fed it...",
            "The door had always been there, Mia realized, hidden behind her winter coats. "
            "When she turned the brass knob, warm air and the smell of oranges rushed in.",
            "Pip the penguin practiced every morning, flapping as hard as he could. The other "
            "penguins laughed, until the day the wind came.",
        ],
        "explain_simple": [
            "Imagine you borrow a toy from a friend. To say thanks, you give back the toy plus "
            "a sticker. Interest is that sticker!",
            "Sunlight has all the colors mixed together. When it hits the air, the blue part "
            "bounces around the most, so the sky looks blue.",
            "Think of DNS like a phone book for the internet: you look up a name, and it gives "
            "you the number the computer needs.",
        ],
        "style_rewrite": [
            "omg sooo sorry, can't make it to the party tonite 😭💦",
            "Arr, the meetin's been pushed to three bells, ye scallywags!",
            "ngl the meeting got moved to 3 lol, be there or whatever",
        ],
        "translate": [
            "荷物は火曜日に届きます。",
            "¿Podrías enviarme las diapositivas después de la reunión?",
            "Veuillez me faire savoir si vous avez des questions.",
        ],
        "code": [
            "```python\ndef dedupe(xs):\n    seen = set()\n    return [x for x in xs if not "
            "(x in seen or seen.add(x))]\n```",
            "```bash\nfind . -type f -size +100M\n```",
            "```sql\nSELECT customer_id, SUM(amount) AS total\nFROM orders\nGROUP BY customer_id\n"
            "ORDER BY total DESC\nLIMIT 5;\n```",
        ],
        "qa": [
            "Mount Kilimanjaro, at about 5,895 meters.",
            "The Berlin Wall fell on November 9, 1989.",
            "Canberra is the capital of Australia.",
        ],
    },
    "ja": {
        "summarize": [
            "要約：半年間の試験運行を行い、利用状況をもとに本格導入を判断する。",
            "・売上8%増\n・解約率が上昇\n・2スプリントを安定化に充てる提案",
            "まとめると、来月から新しい手続きに切り替わり、旧方式は6月30日で終了します。",
        ],
        "business_mail": [
            "件名：休暇取得のお願い\n\n佐藤部長\n\nお疲れ様です。来週金曜日に休暇をいただきたく、"
            "ご相談申し上げます。業務は田中さんに引き継ぎ済みです。\n\nよろしくお願いいたします。\n森",
            "株式会社ABC 李様\n\n昨日はお時間をいただきありがとうございました。ご相談の件、水曜日"
            "までに修正案をお送りいたします。\n\n田中",
            "各位\n\n今週金曜日はオフィスを閉鎖いたします。在宅勤務でのご対応をお願いします。",
        ],
        "story": [
            "むかしむかし、海辺の村に年老いた灯台守がいました。ある嵐の夜、羽を痛めたカモメが"
            "窓辺に降りてきて……",
            "クローゼットの奥に、ミアは見覚えのない扉を見つけた。真鍮のノブを回すと、オレンジの"
            "香りがふわりと流れ込んできた。",
            "ペンギンのピップは毎朝羽ばたく練習をしていました。みんなに笑われても、あきらめません"
            "でした。",
        ],
        "explain_simple": [
            "友だちからおもちゃを借りて、返すときに「ありがとう」のシールを1枚つけるとします。"
            "そのシールが「利息」です。",
            "太陽の光にはいろんな色がまざっています。空気にぶつかると青い光がいちばん散らばるので、"
            "空は青く見えるんです。",
            "DNSはインターネットの電話帳のようなもの。名前を調べると、コンピューターが使う番号を"
            "教えてくれます。",
        ],
        "style_rewrite": [
            "今夜のパーティー行けないの、まじごめん🙏💦",
            "本日の会議、15時からに変わったでござる。",
            "会議15時からになったで〜、よろしゅう！",
        ],
        "translate": [
            "The package will arrive on Tuesday.",
            "Could you send me the materials after the meeting?",
            "Please let me know if you have any questions.",
        ],
        "code": [
            "```python\ndef dedupe(xs):\n    return list(dict.fromkeys(xs))\n```",
            "```bash\nfind . -type f -size +100M\n```",
            "```js\nconst isEmail = (s) => /^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$/.test(s);\n```",
        ],
        "qa": [
            "キリマンジャロで、標高は約5,895メートルです。",
            "ベルリンの壁が崩壊したのは1989年11月9日です。",
            "オーストラリアの首都はキャンベラです。",
        ],
    },
}

SYSTEMS = {
    "en": [
        "You are a helpful assistant.",
        "You are a concise assistant. Keep answers brief.",
        "You are a friendly assistant. Answer in the user's language.",
    ],
    "ja": [
        "あなたは親切なアシスタントです。",
        "簡潔に答えてください。",
        "丁寧な日本語で回答してください。",
    ],
}
