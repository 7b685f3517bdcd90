"""Generate the task classifier's labelled data: `train.jsonl` (written into the package,
`router/data/classify/`), `dev.jsonl` and `heldout.jsonl` (beside this file).

Written for this project (nothing downloaded). Each line is
`{"text": ..., "task": ..., "lang": "ja"|"en"}`, optionally with `"system": ...`.

Three splits, each composed from its own request templates (wording), its own subjects
(topics, pasted articles, notes, code, stack traces, sentences to convert, story premises)
and its own hand-written requests:
- `train`: what the classifier learns from (shipped; read at start-up). Besides templates it
  has a phrasebook (instruction vocabulary composed part by part) and cross-task subjects, so
  that subject matter says nothing about the task and only the instruction does.
- `dev`: the set the model and features were designed against (its errors were looked at).
- `heldout`: the blind set, written after the design was frozen against `dev`, used to report
  accuracy and never to tune.
No dev or held-out request shares its wording or its subject with a training one; a
near-duplicate check at the end (the share of a request's character 5-grams found in any
single training request, must stay under 0.8) enforces it. Instruction vocabulary
(target-language names, style names such as ギャル語) is shared by design: it is what the
classifier must learn. Seeded per split, so the output is reproducible:

    .venv/bin/python benchmarks/classify/make_data.py
"""

# ruff: noqa: E501  (a data file: its requests and articles are long string literals)

from __future__ import annotations

import random
import re
import string
import sys
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from router.tasks import TASKS

SEED = 20260208
HERE = Path(__file__).resolve().parent
TRAIN_DIR = HERE.parent.parent / "router" / "data" / "classify"
N_PER = {"train": 240, "dev": 30, "heldout": 30}  # per (task, language)

# ---------------------------------------------------------------------------------------------
# Slot pools: SLOTS[slot][lang][split]. `mx` / `sx` / `notex` take the other language's pool.
# ---------------------------------------------------------------------------------------------
SLOTS: dict[str, dict[str, dict[str, list[str]]]] = {}


def pool(
    slot: str, ja_train: list[str], ja_dev: list[str], en_train: list[str], en_dev: list[str]
) -> None:
    SLOTS[slot] = {
        "ja": {"train": ja_train, "dev": ja_dev},
        "en": {"train": en_train, "dev": en_dev},
    }


pool(
    "m",
    [
        "市立中央図書館は来月から約半年間、耐震工事のため休館します。休館中は駅前の臨時窓口で予約本の受け取りと返却のみ受け付けます。電子書籍サービスは通常どおり利用でき、工事後は学習スペースとカフェが新設される予定です。",
        "【議事録】4月定例会議。出席:営業部3名、開発部2名。新プランの価格は月額980円で確定。リリースは6月第2週を目標とする。課題:サポート体制の人員不足。次回までに採用計画案を人事と詰める。",
        "先週買ったワイヤレスイヤホン、音質はかなり良いけどノイキャンは値段なり。ケースが大きめでポケットに入れるとかさばる。バッテリーは公称8時間だけど実際は6時間くらい。総合的には満足。",
        "今日は朝から雨で、予定していたキャンプは中止。代わりに家で積んでいたゲームを一気に進めた。夕方には晴れてきたので近所を散歩したら、公園の桜がもう散りかけていて少し寂しかった。",
        "リモートワークの普及により、地方へ移住する若い世代が増えている。自治体は住宅補助やコワーキングスペースの整備で移住者を呼び込もうとしているが、医療や交通の不便さが定住の壁になっているとの指摘もある。",
        "社員各位\n来週月曜日から社内システムのパスワードポリシーが変更になります。12文字以上、英数字記号の混在が必須となり、90日ごとの変更が求められます。期限までに変更しない場合はログインできなくなりますのでご注意ください。",
        "鍋に水500mlと昆布を入れて30分置き、弱火にかける。沸騰直前に昆布を取り出し、かつお節を加えて2分煮たら火を止め、こす。これで基本の合わせだしの完成。味噌汁や煮物に使える。",
        "京都旅行二日目。早朝の伏見稲荷は人が少なく、千本鳥居をゆっくり歩けた。昼は錦市場で食べ歩きをし、午後は嵐山へ。竹林の小径は混雑していたが、夕方の渡月橋からの景色は最高だった。",
        "昨夜の試合は、序盤に2点を先制されたものの、後半に途中出場のフォワードが2ゴールを決めて同点に追いついた。終了間際のPKを守護神が止め、チームは貴重な勝ち点1を手にした。",
        "日銀は本日の金融政策決定会合で、短期金利の誘導目標を据え置くことを決めた。物価上昇率は目標の2%を上回って推移しているが、賃金の伸びが持続的かどうかを見極める必要があるとしている。",
        "江戸時代の参勤交代は、大名に一年おきに江戸と領地を往復させる制度だった。大名の財政に大きな負担を与える一方、街道や宿場町の発展を促し、文化の交流にもつながったとされる。",
        "睡眠の質を高めるには、寝る1時間前にスマホを見るのをやめ、部屋を暗く涼しく保つことが大切です。また、毎日同じ時間に起きることで体内時計が整い、自然と眠くなるリズムができます。",
        "A: 明日の飲み会って何時からだっけ?\nB: 19時に駅前集合だよ\nA: 了解、ちょっと遅れるかも\nB: 店の場所送っとくね\nA: 助かる、ありがと",
        "本製品をご使用になる前に、付属の充電ケーブルで3時間以上充電してください。電源ボタンを3秒長押しすると起動します。ランプが赤く点滅している場合は、バッテリー残量が少なくなっています。",
        "新しく駅ビルに入ったパン屋、平日の朝でも行列ができていた。看板のクロワッサンはバターの香りが強くてサクサク。値段は少し高めだけど、また買いに行きたい。",
        "当社は2025年度の通期決算において、売上高が前年比12%増の480億円となりました。主力の家電事業が好調だった一方、海外事業は為替の影響で減益となりました。",
        "【週次MTG】\n・新機能Aのリリースは来月10日\n・QA工数が不足、外部委託を検討\n・問い合わせ件数は先週比+15%\n・次回:価格改定の方針決め",
        "買い物リスト\n- 牛乳 2本\n- 卵\n- 洗剤(詰め替え)\n- 電池 単3×4\n- 猫のエサ",
        "旅行のTODO\n1. パスポートの期限確認\n2. ホテル予約(3泊)\n3. 海外用SIMを買う\n4. 両替は現地空港で",
        "M4 Mac mini(24GB)でローカルLLMを6つ比較してみた。1.2Bのモデルは2.4秒で150トークンと爆速だったが、文脈の理解は弱かった。12Bのモデルは文章がきれいだが生成に50秒以上かかった。",
    ],
    [
        "気象庁によると、今年の梅雨明けは平年より10日ほど早くなる見込みです。7月以降は厳しい暑さが続くとされ、熱中症への警戒が呼びかけられています。",
        "来春、県北部と空港を結ぶ新しい鉄道路線が開業する。所要時間は従来のバスより約40分短縮される見込みで、観光客の増加や沿線の地価上昇が期待されている。",
        "近所にできた保護猫カフェに行ってきた。店内には十数匹の猫がいて、気に入った子がいれば譲渡の相談もできるらしい。ドリンクは普通だったけど、猫に囲まれて癒やされた。",
        "市立美術館で開催中の印象派展では、モネやルノワールなど約70点が展示されている。音声ガイドは人気俳優が担当しており、会期は9月末まで。土日は整理券が必要となる。",
        "大地震に備えて、家具の固定や3日分の水と食料の備蓄が推奨されています。また、家族で避難場所や連絡方法を事前に話し合っておくことも重要です。",
        "ドローンを使った農薬散布が広がっている。従来の人手による作業に比べて時間を大幅に短縮でき、高齢化が進む農村の人手不足対策として注目されているが、操縦資格の取得費用が課題だ。",
        "【定例MTGメモ】\n・次期キャンペーンのKPIはCVR1.5%\n・バナー案は3パターン作成、来週火曜までにデザイナーへ依頼\n・予算は前回比120%で申請予定\n・懸念:競合の値下げ",
        "昨日観た映画、前半はテンポが悪くて少し眠くなったけど、後半の伏線回収が見事だった。主演の演技も良くて、ラストシーンでは思わず泣いてしまった。",
        "町内会からのお知らせです。今月の資源ごみ回収日は第2・第4水曜日に変更となりました。段ボールは紐で縛り、朝8時までに指定の場所へ出してください。",
    ],
    [
        "The city council voted on Tuesday to convert two downtown parking garages into affordable housing units. Construction is expected to begin next spring and finish within 18 months. Local businesses raised concerns about the loss of parking spaces during the holiday season.",
        "Meeting notes - Q3 planning. Attendees: Sara, Tom, Priya. Decided to move the product launch from August to September. Marketing budget increased by 10%. Open issue: the onboarding flow still has a 40% drop-off rate. Tom to share revised mockups by Friday.",
        "I've been using this standing desk for about three months now. The motor is quiet and the height presets are handy, but the desktop wobbles a bit at full height. Assembly took me nearly two hours. Overall it's worth the price if you work from home.",
        "Scientists have discovered that certain species of coral can survive higher ocean temperatures than previously thought. The study, which tracked reefs over a decade, suggests that some corals adapt by changing the algae that live inside them.",
        "Remote work has changed how companies think about office space. Many firms are downsizing their headquarters and investing in shared hubs closer to where employees live, while others are requiring staff to return at least three days a week.",
        "Hi team,\nStarting next Monday all expense reports must be submitted through the new portal. Paper receipts will no longer be accepted. Please attend one of the short training sessions this week if you haven't used the system before.",
        "Preheat the oven to 200°C. Toss the chopped vegetables with olive oil, salt and pepper, and spread them on a baking tray in a single layer. Roast for 25 minutes, turning once halfway, until golden at the edges.",
        "Day three in Lisbon. We took the old tram up to the castle in the morning and spent the afternoon wandering through Alfama. Dinner was grilled sardines at a tiny place with six tables. My feet hurt but it was worth it.",
        "The home team came back from a 15-point deficit in the fourth quarter, with their rookie guard scoring 12 straight points. A last-second block sealed the win and extended their streak to seven games.",
        "Inflation eased slightly last month, driven mainly by lower energy prices. Core prices, which exclude food and fuel, rose 0.3%, and economists expect the central bank to hold rates steady at its next meeting.",
        "The printing press, developed by Johannes Gutenberg around 1440, made it possible to produce books quickly and cheaply. It helped spread literacy across Europe and played a key role in the Reformation and the Scientific Revolution.",
        "Regular exercise does not have to mean hours at the gym. Studies show that even 20 minutes of brisk walking a day can lower the risk of heart disease and improve mood and sleep quality.",
        "Alex: are we still on for Saturday?\nJamie: yeah but can we push it to 3?\nAlex: sure, same place?\nJamie: yep, I'll bring the board games\nAlex: perfect",
        "To reset the router, press and hold the reset button on the back for 10 seconds until the lights flash. Wait two minutes for it to restart, then reconnect using the default network name printed on the label.",
        "Our company reported revenue of $2.1 billion for the fiscal year, up 8% from last year. Growth in the cloud division offset weaker hardware sales, and the board approved a new share buyback program.",
        "The new bakery on Elm Street has been packed every morning since it opened. Their sourdough is the real deal, crusty outside and chewy inside, though the pastries are a bit too sweet for my taste.",
        "Weekly sync:\n- Feature A ships on the 10th\n- QA is short-staffed, considering outsourcing\n- Support tickets up 15% week over week\n- Next: decide pricing changes",
        "Grocery list\n- milk x2\n- eggs\n- detergent refill\n- AA batteries (4)\n- cat food",
        "Trip to-do:\n1. check passport expiry\n2. book hotel (3 nights)\n3. buy a travel SIM\n4. exchange money at the airport",
        "I compared six local LLMs on an M4 Mac mini with 24 GB of memory. The 1.2B model produced 150 tokens in 2.4 seconds, but it misread slang. The 12B model wrote the best prose and took over 50 seconds.",
    ],
    [
        "Forecasters warn that this summer could bring record-breaking heat across the southern states. Officials are urging residents to stay hydrated, check on elderly neighbors, and avoid outdoor work during the hottest hours.",
        "A new high-speed rail line connecting the two largest cities in the region is set to open in 2027. Travel time will drop from four hours to ninety minutes, and planners hope it will ease congestion at the airport.",
        "Went to the cat cafe downtown last weekend. There were about a dozen rescue cats, and you can apply to adopt them on the spot. The coffee was average, but honestly I was there for the cats.",
        "The museum's new exhibition brings together more than sixty works by Impressionist painters, including several rarely shown pieces on loan from private collections. Timed tickets are required on weekends.",
        "Experts recommend keeping at least three days of water and non-perishable food at home in case of an earthquake, securing heavy furniture to the walls, and agreeing on a family meeting point in advance.",
        "Farmers are increasingly using drones to monitor crops and spray fertilizer. The technology cuts labor time dramatically, but the cost of equipment and pilot certification remains a barrier for small farms.",
        "Sync notes:\n- Campaign KPI: 1.5% conversion\n- Three banner concepts due to design next Tuesday\n- Budget request at 120% of last quarter\n- Risk: competitor price cut",
        "Saw the new thriller last night. The first hour drags, but the last act ties every loose thread together in a really satisfying way, and the lead actor is fantastic. I may have cried at the end.",
        "Neighborhood notice: recycling pickup moves to the second and fourth Wednesday of each month. Please flatten cardboard boxes, tie them with string, and put them out by 8 a.m.",
    ],
)

pool(
    "note",
    [
        "明日の打ち合わせ、14時→16時に変更したい。場所は変わらず。",
        "請求書の金額間違えてた。正しくは55,000円。再発行して送る。",
        "納期、1週間遅れそう。部品の入荷待ち。",
        "見積もりありがとう。ただ予算オーバーなので10%くらい下げてほしい。",
        "来週の展示会、うちのブースにも来てほしいって誘いたい",
        "新担当になりました、よろしくって挨拶したい。一度オンラインで顔合わせしたい",
        "サンプル届いた。品質OK。量産進めてください。",
        "先日の会議のお礼+議事録を添付",
        "体調不良で明日休みます。急ぎの件は田中さんに。",
        "契約更新の件、条件見直したいので一度話したい",
        "新機能のリリース、来月1日に決定。問い合わせ窓口はサポートチーム",
    ],
    [
        "支払いがまだ確認できてない。先月末期限だったやつ。",
        "オフィス移転します。新住所は来月から。電話番号は変わらない",
        "打ち合わせの資料、送り忘れてた。今送る。",
        "採用面接の日程、候補日3つ出して調整したい",
        "発注数を100個から150個に増やしたい。納期は据え置きで",
        "年末は28日まで営業、年始は5日から",
    ],
    [
        "need to move tomorrow's call from 2pm to 4pm, same link",
        "invoice had the wrong amount, correct is $550, will resend",
        "delivery will be a week late, waiting on parts",
        "thanks for the quote but it's over budget, can they do 10% off?",
        "invite them to our booth at the trade show next week",
        "I'm the new account manager, say hi and set up an intro call",
        "samples arrived, quality is fine, go ahead with production",
        "thank them for the meeting, minutes attached",
        "out sick tomorrow, urgent stuff goes to Dana",
        "want to renegotiate contract terms before renewal",
        "new feature ships on the 1st, questions go to the support team",
    ],
    [
        "payment still not received, it was due end of last month",
        "we're moving offices, new address from next month, phone stays the same",
        "forgot to send the slides from the meeting, sending now",
        "need to schedule an interview, offer three time slots",
        "increase the order from 100 units to 150, same delivery date",
        "closed Dec 28 to Jan 4 for the holidays",
    ],
)

pool(
    "code",
    [
        "def average(nums):\n    total = 0\n    for n in nums:\n        total += n\n    return total / len(nums)",
        "function getUser(id) {\n  fetch('/api/users/' + id)\n    .then(res => res.json())\n  return data;\n}",
        "SELECT name, COUNT(*)\nFROM orders\nGROUP BY customer_id;",
        "for f in *.txt do\n  mv $f ${f%.txt}.md\ndone",
        "class Stack:\n    def __init__(self):\n        self.items = []\n    def pop(self):\n        return self.items.pop(0)",
        "for i := 0; i <= len(arr); i++ {\n    fmt.Println(arr[i])\n}",
        "const [count, setCount] = useState(0);\nuseEffect(() => {\n  setCount(count + 1);\n});",
        "public int sum(List<Integer> xs) {\n    int s = 0;\n    for (int i = 1; i < xs.size(); i++) s += xs.get(i);\n    return s;\n}",
        "import requests\nr = requests.get(url)\ndata = r.json\nprint(data['items'])",
        'let v = vec![1, 2, 3];\nlet w = v;\nprintln!("{:?}", v);',
    ],
    [
        "def is_palindrome(s):\n    return s == s.reverse()",
        "async function load() {\n  const res = await fetch(url);\n  items = res.json();\n  render(items);\n}",
        "UPDATE accounts SET balance = balance - 100\nWHERE id = 42\nUPDATE accounts SET balance = balance + 100 WHERE id = 7",
        "while read line; do\n  echo $line | cut -d, -f2\ndone < data.csv",
        "fn longest(a: &str, b: &str) -> &str {\n    if a.len() > b.len() { a } else { b }\n}",
        "counts = {}\nfor w in words:\n    counts[w] += 1",
    ],
    [],
    [],
)
SLOTS["code"]["en"] = SLOTS["code"]["ja"]

pool(
    "trace",
    [
        'Traceback (most recent call last):\n  File "app.py", line 12, in <module>\n    main()\n  File "app.py", line 8, in main\n    print(total / count)\nZeroDivisionError: division by zero',
        "Traceback (most recent call last):\n  File \"/srv/api/views.py\", line 41, in get\n    user = USERS[user_id]\nKeyError: 'u123'",
        "Uncaught TypeError: Cannot read properties of undefined (reading 'map')\n    at App (App.jsx:14:22)\n    at renderWithHooks (react-dom.development.js:16305:18)",
        'Exception in thread "main" java.lang.NullPointerException\n\tat com.example.Main.run(Main.java:27)\n\tat com.example.Main.main(Main.java:10)',
        'npm ERR! code ERESOLVE\nnpm ERR! ERESOLVE unable to resolve dependency tree\nnpm ERR! peer react@"^17.0.0" from react-modal@3.14.4',
        "error[E0382]: borrow of moved value: `v`\n --> src/main.rs:4:22\n  |\n3 |     let w = v;\n  |             - value moved here",
        "panic: runtime error: index out of range [5] with length 5\n\ngoroutine 1 [running]:\nmain.main()\n\t/tmp/main.go:9 +0x1d",
    ],
    [
        "Traceback (most recent call last):\n  File \"etl.py\", line 88, in transform\n    row[3] = float(row[3])\nValueError: could not convert string to float: 'N/A'",
        'Exception in thread "worker-2" java.lang.ArrayIndexOutOfBoundsException: Index 10 out of bounds for length 10\n\tat com.shop.Cart.total(Cart.java:52)',
        "ReferenceError: process is not defined\n    at Object.<anonymous> (config.js:3:15)\n    at Module._compile (node:internal/modules/cjs/loader:1256:14)",
        "/usr/bin/ld: main.o: in function `main':\nmain.c:(.text+0x1e): undefined reference to `sqrt'\ncollect2: error: ld returned 1 exit status",
        "error[E0502]: cannot borrow `list` as mutable because it is also borrowed as immutable\n --> src/lib.rs:12:5",
    ],
    [],
    [],
)
SLOTS["trace"]["en"] = SLOTS["trace"]["ja"]

pool(
    "s",
    [
        "今日はとても疲れたので早く寝ます",
        "明日の会議は10時からです",
        "このケーキはすごく美味しいですね",
        "駅まで歩いて10分くらいかかります",
        "週末は友達と映画を見に行く予定です",
        "宿題がまだ終わっていません",
        "新しいスマホを買ったけど使い方がわからない",
        "ご飯を食べに行きませんか",
        "遅刻してしまい申し訳ありません",
        "この服、似合うと思う?",
        "資料を確認してください",
        "雨が降ってきたので傘を持っていってね",
        "テスト前なのに全然勉強してない",
        "その件は後で連絡します",
        "お先に失礼します",
    ],
    [
        "部屋の掃除をしなければなりません",
        "コンビニでアイスを買ってきた",
        "来月から新しい部署に異動になります",
        "電車が遅れていて到着が遅くなります",
        "誕生日プレゼントありがとう",
        "今夜は鍋にしようかな",
        "髪を切ったんだけどどう?",
        "この問題の答えを教えてください",
        "明日は早起きしてジョギングする",
    ],
    [
        "I'm really tired today so I'm going to bed early.",
        "The meeting starts at 10 tomorrow.",
        "This cake is delicious.",
        "It takes about ten minutes to walk to the station.",
        "I'm going to the movies with friends this weekend.",
        "I haven't finished my homework yet.",
        "I bought a new phone but I can't figure out how to use it.",
        "Want to grab dinner?",
        "Sorry I'm late.",
        "Does this shirt look good on me?",
        "Please review the document.",
        "It's raining, take an umbrella.",
        "I haven't studied at all and the test is tomorrow.",
        "I'll get back to you on that later.",
        "I'm heading out first, see you tomorrow.",
    ],
    [
        "I have to clean my room.",
        "I grabbed some ice cream from the store.",
        "I'm transferring to a new department next month.",
        "The train is delayed so I'll be late.",
        "Thanks for the birthday present.",
        "Maybe hot pot for dinner tonight.",
        "I got a haircut, what do you think?",
        "Could you tell me the answer to this question?",
        "I'm getting up early tomorrow to go jogging.",
    ],
)

pool(
    "slang",
    [
        "とりま駅前集合で。マジやばくない?",
        "それな〜、ガチでエモいんだけど",
        "え、待って無理すぎてウケる",
        "今日のメイク盛れすぎてテンアゲ",
        "あのカフェ映えるし行くしかなくない?",
    ],
    [
        "ぴえん、テスト爆死したんだが",
        "彼ピとバイブス合わなすぎてしんどみ",
        "このネイルかわちすぎて優勝",
    ],
    [
        "no cap that party was bussin fr",
        "bro is lowkey cooked lmao",
        "she ate and left no crumbs",
        "it's giving main character energy",
    ],
    ["ngl this fit is fire", "that test was mid, I'm so done", "he's got zero rizz, it's over"],
)

pool(
    "style",
    [
        "ギャル語",
        "関西弁",
        "敬語",
        "タメ口",
        "若者言葉",
        "おじさん構文",
        "お嬢様言葉",
        "武士語",
        "博多弁",
        "赤ちゃん言葉",
        "中二病っぽい口調",
        "ですます調",
        "である調",
        "ツンデレ口調",
        "広島弁",
        "丁寧語",
        "ラップ調",
        "沖縄の方言",
        "王様っぽい口調",
        "アナウンサー風",
        "ロボットっぽい口調",
    ],
    [
        "ギャル語",
        "名古屋弁",
        "広島弁",
        "執事っぽい口調",
        "江戸っ子口調",
        "ラップ調",
        "丁寧語",
        "体育会系の口調",
    ],
    [
        "Gen Z slang",
        "formal English",
        "casual English",
        "corporate jargon",
        "teen texting",
        "sarcastic",
        "Shakespearean",
        "Victorian",
        "old-fashioned",
        "overly polite",
        "upbeat",
        "hip-hop",
        "poetic",
        "dramatic",
        "deadpan",
    ],
    [
        "Gen Z slang",
        "passive-aggressive",
        "overly dramatic",
        "hip-hop",
        "whimsical",
        "stiff bureaucratic",
    ],
)

pool(
    "persona",
    [],
    [],
    [
        "pirate",
        "cowboy",
        "sports commentator",
        "noir detective",
        "Yoda",
        "British butler",
        "news anchor",
        "robot",
        "grumpy old man",
        "fairy-tale narrator",
        "valley girl",
        "drill sergeant",
        "game show host",
        "surfer",
        "medieval king",
    ],
    [
        "surfer dude",
        "medieval knight",
        "1950s radio announcer",
        "kindergarten teacher",
        "soap opera villain",
    ],
)

pool(
    "lang",
    # Language names are vocabulary the classifier must know: training knows them all.
    [
        "英語",
        "フランス語",
        "ドイツ語",
        "スペイン語",
        "中国語",
        "韓国語",
        "イタリア語",
        "ポルトガル語",
        "ベトナム語",
        "タイ語",
        "ロシア語",
        "アラビア語",
        "インドネシア語",
        "オランダ語",
        "ヒンディー語",
        "トルコ語",
        "台湾華語",
    ],
    ["英語", "イタリア語", "ポルトガル語", "ベトナム語", "タイ語", "ロシア語"],
    [
        "Japanese",
        "French",
        "German",
        "Spanish",
        "Chinese",
        "Korean",
        "Italian",
        "Portuguese",
        "Vietnamese",
        "Thai",
        "Russian",
        "Arabic",
        "Indonesian",
        "Dutch",
        "Hindi",
        "Turkish",
        "Polish",
    ],
    ["Japanese", "Italian", "Portuguese", "Vietnamese", "Thai", "Russian"],
)

pool(
    "book",
    [
        "走れメロス",
        "坊っちゃん",
        "ハリー・ポッターと賢者の石",
        "千と千尋の神隠し",
        "ロミオとジュリエット",
        "君の名は。",
    ],
    ["銀河鉄道の夜", "羅生門", "となりのトトロ", "シャーロック・ホームズの緋色の研究"],
    [
        "Hamlet",
        "The Great Gatsby",
        "Harry Potter and the Philosopher's Stone",
        "Spirited Away",
        "Romeo and Juliet",
        "The Lord of the Rings",
    ],
    ["Moby-Dick", "Frankenstein", "My Neighbor Totoro", "A Study in Scarlet"],
)

pool(
    "mailtopic",
    [
        "会議日程の変更",
        "納期遅延のお詫び",
        "見積もりの依頼",
        "請求書の送付",
        "新任の挨拶",
        "打ち合わせのお礼",
        "契約更新の確認",
        "価格改定のお知らせ",
        "商品発送の連絡",
        "休暇取得の連絡",
        "資料送付",
        "内定の連絡",
        "セミナーへのご招待",
        "支払い期日の確認",
        "仕様変更の相談",
    ],
    [
        "入金確認の督促",
        "事務所移転のお知らせ",
        "面接日程の調整",
        "発注数量の変更",
        "年末年始休業のお知らせ",
        "研修参加のお願い",
        "アンケート協力の依頼",
        "退職のご挨拶",
    ],
    [
        "rescheduling a meeting",
        "a delayed shipment",
        "requesting a quote",
        "sending an invoice",
        "introducing myself as the new account manager",
        "thanking a client after a meeting",
        "renewing a contract",
        "a price increase",
        "confirming an order",
        "requesting time off",
        "sharing project documents",
        "a job offer",
        "inviting a client to a webinar",
        "a payment reminder",
        "a change in project scope",
    ],
    [
        "an overdue payment",
        "our office relocation",
        "scheduling a job interview",
        "changing an order quantity",
        "holiday closure dates",
        "asking staff to join a training",
        "requesting feedback on a survey",
        "announcing my resignation",
    ],
)

pool(
    "premise",
    [
        "宇宙飛行士になった猫",
        "時間を巻き戻せる時計",
        "街に残った最後の一本の桜",
        "言葉を覚えるロボットと少年",
        "雨の日にしか開かない喫茶店",
        "忘れられた灯台守",
        "夏祭りの夜の不思議な出会い",
        "魔法が使えなくなった魔女",
        "未来から届いた手紙",
        "深海に住む小さな魚",
        "祖母と孫の秘密のレシピ",
        "月に住むウサギ",
        "迷子の子犬の大冒険",
        "100年眠っていた城",
        "秘密を抱えた転校生",
    ],
    [
        "砂漠で井戸を掘る少女",
        "しゃべる冷蔵庫",
        "流れ星を拾った郵便配達員",
        "鏡の中のもう一人の自分",
        "山奥の廃校で開かれる音楽会",
        "記憶を売る商店",
        "雪だるまの一日",
        "海辺の町の最後のバス",
    ],
    [
        "a cat who becomes an astronaut",
        "a clock that turns back time",
        "the last cherry tree in the city",
        "a robot learning to talk",
        "a cafe that only opens on rainy days",
        "a forgotten lighthouse keeper",
        "a strange encounter at a summer festival",
        "a witch who lost her magic",
        "a letter from the future",
        "a tiny fish in the deep sea",
        "a grandmother's secret recipe",
        "a rabbit living on the moon",
        "a lost puppy's big adventure",
        "a castle asleep for a hundred years",
        "a new student with a secret",
    ],
    [
        "a girl digging a well in the desert",
        "a talking refrigerator",
        "a mail carrier who finds a fallen star",
        "a reflection that acts on its own",
        "a concert in an abandoned mountain school",
        "a shop that sells memories",
        "a day in the life of a snowman",
        "the last bus from a seaside town",
    ],
)

pool(
    "opening",
    [
        "「その日、町から音が消えた。」",
        "「目が覚めると、僕は猫になっていた。」",
        "「彼女が最後に残した手紙には、地図が描かれていた。」",
    ],
    [
        "「駅のホームに、誰のものでもない傘が一本立てかけてあった。」",
        "「百年ぶりに、村の鐘が鳴った。」",
    ],
    [
        '"The day the town went silent, nobody noticed at first."',
        '"When I woke up, I was a cat."',
        '"Her last letter had a map drawn on the back."',
    ],
    [
        '"There was an umbrella on the platform that belonged to no one."',
        '"For the first time in a hundred years, the village bell rang."',
    ],
)

pool(
    "concept",
    [
        "光合成",
        "インフレ",
        "ブロックチェーン",
        "量子コンピュータ",
        "ブラックホール",
        "ワクチンの仕組み",
        "円安",
        "株式投資",
        "消費税",
        "電気が家に届く仕組み",
        "雷が起きる理由",
        "虹ができる仕組み",
        "パスワードのハッシュ化",
        "機械学習",
        "クラウド",
        "地球温暖化",
        "DNA",
        "相対性理論",
        "三権分立",
        "選挙の仕組み",
        "潮の満ち引き",
        "飛行機が飛ぶ仕組み",
        "季節がある理由",
        "電子レンジの仕組み",
        "再生可能エネルギー",
        "保険",
        "複利",
        "免疫",
        "5G",
        "金利",
    ],
    [
        "月の満ち欠け",
        "暗号資産",
        "核融合",
        "国債",
        "GPS",
        "半導体",
        "抗生物質",
        "火山の噴火",
        "地震が起きる仕組み",
        "住宅ローン",
        "生成AI",
        "光の速さ",
        "年金制度",
        "日食",
        "冷蔵庫が冷える仕組み",
        "炭素税",
        "蒸気機関",
        "原子",
        "インターネット",
    ],
    [
        "photosynthesis",
        "inflation",
        "blockchain",
        "quantum computing",
        "black holes",
        "how vaccines work",
        "exchange rates",
        "the stock market",
        "sales tax",
        "how electricity gets to my house",
        "why lightning happens",
        "how rainbows form",
        "password hashing",
        "machine learning",
        "cloud computing",
        "global warming",
        "DNA",
        "relativity",
        "separation of powers",
        "how elections work",
        "tides",
        "how airplanes fly",
        "why we have seasons",
        "how microwaves work",
        "renewable energy",
        "insurance",
        "compound interest",
        "the immune system",
        "5G",
        "interest rates",
    ],
    [
        "the phases of the moon",
        "cryptocurrency",
        "nuclear fusion",
        "government bonds",
        "GPS",
        "semiconductors",
        "antibiotics",
        "volcanic eruptions",
        "earthquakes",
        "mortgages",
        "generative AI",
        "the speed of light",
        "pension systems",
        "solar eclipses",
        "how a refrigerator keeps things cold",
        "carbon taxes",
        "steam engines",
        "atoms",
        "the internet",
    ],
)

pool(
    "prog",
    [
        "CSVファイルを読み込んで合計を計算する処理",
        "二分探索",
        "フィボナッチ数列",
        "メールアドレスのバリデーション",
        "リストの重複を削除する処理",
        "日付を文字列に変換する処理",
        "APIからJSONを取得する処理",
        "ファイル一覧を再帰的に取得する処理",
        "配列を逆順にする処理",
        "素数判定",
        "ログインフォーム",
        "ユーザー一覧を取得するクエリ",
        "画像をリサイズする処理",
        "WebSocketのサーバー",
        "辞書のリストをキーでソートする処理",
    ],
    [
        "生年月日から年齢を計算する処理",
        "URLからドメインを抜き出す処理",
        "単語の出現回数を数える処理",
        "簡単なToDoアプリ",
        "月ごとの売上を集計するクエリ",
        "ランダムなパスワードを生成する処理",
        "ソート済み配列のマージ",
        "キャッシュ付きのHTTPクライアント",
    ],
    [
        "reading a CSV and summing a column",
        "binary search",
        "the Fibonacci sequence",
        "validating an email address",
        "removing duplicates from a list",
        "formatting a date as a string",
        "fetching JSON from an API",
        "listing files recursively",
        "reversing an array",
        "checking if a number is prime",
        "a login form",
        "querying all users",
        "resizing an image",
        "a WebSocket server",
        "sorting a list of dicts by key",
    ],
    [
        "calculating someone's age from a birthdate",
        "extracting the domain from a URL",
        "counting word frequencies",
        "a simple to-do app",
        "aggregating monthly sales",
        "generating a random password",
        "merging two sorted arrays",
        "an HTTP client with caching",
    ],
)

GENERIC_SYSTEM = {
    "train": [
        "You are a helpful assistant.",
        "あなたは親切なアシスタントです。",
        "Answer concisely.",
        "Always answer in Japanese.",
        "回答は日本語でお願いします。",
        "Respond in English.",
        "You are a friendly AI. Keep answers short.",
        "あなたはAIアシスタントです。丁寧に答えてください。",
        "You are an AI assistant running locally on a Mac.",
        "Reply in the same language as the user.",
        "ユーザーの質問に簡潔に答えてください。",
        "You are Gemma, a helpful model. Think step by step.",
    ],
    "dev": [
        "You are ChatGPT, a large language model.",
        "あなたは優秀なAIアシスタントです。日本語で回答してください。",
    ],
}

# ---------------------------------------------------------------------------------------------
# Templates: TEMPLATES[task][lang][split]; a template is a string or (system prompt, string).
# ---------------------------------------------------------------------------------------------
Template = str | tuple[str, str]
TEMPLATES: dict[str, dict[str, dict[str, list[Template]]]] = {}


def templates(
    task: str,
    ja_train: list[Template],
    ja_dev: list[Template],
    en_train: list[Template],
    en_dev: list[Template],
) -> None:
    TEMPLATES[task] = {
        "ja": {"train": ja_train, "dev": ja_dev},
        "en": {"train": en_train, "dev": en_dev},
    }


templates(
    "summarize",
    [
        "{m}\n\n要約して",
        "{m}\n\n三行で",
        "次の文章を三行で要約してください。\n\n{m}",
        "{m}\n\nこれ要するにどういうこと?短くまとめて",
        "以下を箇条書きでまとめてください\n{m}",
        "この記事の要点を教えて\n\n{m}",
        "{m}\n\nTL;DR",
        "{m}\n\n一言でまとめると?",
        "長文すみません、ざっくり要約お願いします。\n{m}",
        "{m}\n\n↑を50字以内で要約",
        "要約お願い!\n{m}",
        "{m}\n\nかいつまんで教えて",
        "下記の議事録を簡潔にまとめてください。\n---\n{m}\n---",
        "{m}\n\n要点だけ抜き出して",
        "{book}のあらすじを短くまとめて",
        "{book}の内容を3行で要約して",
        "{m}\n\nこの内容をサマリーにして",
        "読む時間ないから要約して\n{m}",
        "{m}\n\nまとめて",
        "以下のテキストを200文字程度に要約してください。\n{m}",
        "{mx}\n\n日本語で要約して",
        "{mlong}\n\n長いので要約して",
        "{mlong}\n\n三行で",
        "この記事をsummarizeして\n{m}",
        ("ユーザーが送った文章を3行で要約してください。", "{m}"),
        ("あなたは要約アシスタントです。", "{mlong}"),
        "{m}\n\nポイントを整理して",
        "{mx}\n\n要点を日本語で箇条書きに",
    ],
    [
        "{m}\n\n↑要点を3つに絞って",
        "この文章のポイントを短くまとめてもらえますか?\n\n{m}",
        "{m}\n\n結論だけ知りたい。短く",
        "サマリー作って\n{m}",
        "{m}\n\n100字くらいでまとめてほしい",
        "忙しい上司向けに、以下を3点にまとめてください。\n{m}",
        "{m}\n\n手短に言うと?",
        "{book}ってどんな話?あらすじをざっと教えて",
        "下の文章、要約プリーズ\n{m}",
        "{mx}\n\nざっと日本語でまとめて",
        "{m}\n\n三行まとめよろしく",
        "{mlong}\n\n↑長すぎるので要約お願いします",
        ("以下の文章を要約するのがあなたの役割です。", "{m}"),
    ],
    [
        "{m}\n\nsummarize this",
        "Can you summarize the following article?\n\n{m}",
        "{m}\n\ntl;dr",
        "TL;DR please:\n{m}",
        "{m}\n\nGive me the key points in 3 bullets.",
        "Summarize in one sentence:\n{m}",
        "{m}\n\ncan you boil this down for me",
        "Please provide a brief summary of the text below.\n---\n{m}\n---",
        "{m}\n\nsum this up in a few lines",
        "What are the main takeaways from this?\n\n{m}",
        "{m}\n\nShorten this to about 50 words.",
        "condense these notes into a short recap:\n{m}",
        "Summarize the plot of {book}",
        "Give me a quick synopsis of {book}",
        "{m}\n\nsummary pls",
        "{mx}\n\nSummarize this in English.",
        "Too long, didn't read. Short version?\n{m}",
        "{m}\n\nwhat's the gist?",
        "Write an executive summary of the following:\n{m}",
        "{m}\n\nrecap in 3 bullet points",
        "{mlong}\n\ntl;dr",
        "{mlong}\n\nSummarize the above.",
        ("Summarize whatever the user sends in three bullet points.", "{m}"),
        ("You are a summarization assistant.", "{mlong}"),
        "{m}\n\nTL;DR?",
        "{mx}\n\ngive me the key points in English",
    ],
    [
        "{m}\n\nkey takeaways only, please",
        "Could you give me the short version of this?\n\n{m}",
        "{m}\n\nBoil it down to two sentences.",
        "Need a summary for my manager, keep it under 60 words:\n{m}",
        "{m}\n\nin a nutshell?",
        "Give me a one-paragraph overview of the plot of {book}.",
        "{m}\n\nwhat's the bottom line here",
        "Please shorten this into a brief abstract.\n{m}",
        "{mx}\n\nCan you give me the main points of this in English?",
        "Skim this for me and list the 3 most important points:\n{m}",
        "{m}\n\nsummarise pls",
        "{mlong}\n\ntoo long, give me the highlights",
        ("Your job: condense the user's text into a short summary.", "{m}"),
    ],
)

templates(
    "business_mail",
    [
        "{note}\nこれを取引先向けのメールにして",
        "以下の内容で上司に送るメールを作成してください。\n{note}",
        "{note}\n↑ビジネスメールっぽく書き直して",
        "{mailtopic}のメールを書いてください。宛先は取引先の部長です。",
        "{mailtopic}についてお客様へのメールを作って",
        "件名と本文を含めて{mailtopic}のメール文面を考えて",
        "クライアントに送る{mailtopic}のメール、丁寧な文面でお願いします",
        "{note}\nこのメモをもとに社外向けメールを作成して",
        "取引先に{mailtopic}を伝えるメール、失礼のないように書いて",
        "メール作成お願いします。内容:{note}",
        "{mailtopic}のメールの例文ください",
        "先方へ送るメール下書き:{note}\nちゃんとしたメールに整えて",
        "社内の関係者各位に{mailtopic}を知らせるメールを書いて",
        "{note}\n上司に報告するメールにしてほしい。件名もつけて",
        "初めて連絡する会社に{mailtopic}のメールを送りたいです。文面を考えてもらえますか",
        "{mailtopic}の件、メールの文章考えて",
        "お客様宛に{mailtopic}のご案内メールを作成してください",
        ("あなたはビジネスメール作成のプロです。", "{note}"),
        ("You write business e-mails in Japanese.", "{note}"),
        "{note}\nこれ、取引先の山田様宛てのメールにしたい",
        "{mailtopic}についてのメールをビジネス敬語で書いて",
    ],
    [
        "{note}\nお客さん宛てにメールで伝えたい。文面作って",
        "{mailtopic}の件で、取引先に出すメールの文案を作成いただけますか。",
        "{note} ←これ、ちゃんとしたビジネスメールに直してほしい",
        "{mailtopic}について社外向けの案内メールを書いて。件名も",
        "部長にCCで送る{mailtopic}のメール、堅めの文章で",
        "{mailtopic}を伝えたいのですが、角が立たないメールの書き方を教えて",
        "{note}\nこの内容でお詫びのメール作成お願いします",
        "ビジネスメールで{mailtopic}を連絡したい",
        ("社外メールの下書きを手伝うアシスタントです。", "{note}"),
    ],
    [
        "{note}\nturn this into an email to the client",
        "Write a professional email to my manager: {note}",
        "Draft a business email about {mailtopic}.",
        "Can you write a polite email to a supplier regarding {mailtopic}?",
        "{note}\n\nmake this a formal email with a subject line",
        "Please compose an email to our customers announcing {mailtopic}.",
        "I need an email to a vendor about {mailtopic}, keep it professional",
        "email to my boss: {note}",
        "Help me write an apology email to a client about {mailtopic}.",
        "write a follow-up email after {mailtopic}",
        "Draft an email to the team about {mailtopic}",
        "{note} - can you write this up as a professional email?",
        "Compose a cold outreach email about {mailtopic}",
        "Write an email with subject line: {note}",
        "business email pls: {note}",
        "Write a short email to a client about {mailtopic}.",
        ("You are an assistant that drafts business emails.", "{note}"),
        ("ビジネスメールを英語で書くアシスタントです。", "{note}"),
    ],
    [
        "{note}\nneed to send this to a customer, can you write the email",
        "Could you draft a courteous message to our partner company about {mailtopic}?",
        "{note} <- make it sound like a proper business email",
        "Write the email body and subject line for {mailtopic}, addressed to a client's director.",
        "Put together a short, professional email for {mailtopic}.",
        "I have to email HR about {mailtopic}. Can you write it?",
        "{note}\nplease write an apology email for this",
        "Prepare a formal notice email regarding {mailtopic}.",
        ("You help people write emails to clients and colleagues.", "{note}"),
    ],
)

templates(
    "story",
    [
        "{premise}の短編小説を書いて",
        "{premise}の物語を作ってください",
        "{premise}の話を書いて。800字くらいで",
        "子供向けに{premise}のお話を作って",
        "{premise}っていう設定で小説書いてほしい",
        "ショートショート書いて。お題:{premise}",
        "{premise}をテーマに詩を書いて",
        "{premise}をテーマに俳句を3つ詠んで",
        "次の書き出しで物語を続けてください。{opening}",
        "{premise}のファンタジー小説の冒頭を書いて",
        "寝る前に読み聞かせる{premise}のお話をお願い",
        "{premise}の感動する物語が読みたい",
        "オチのある{premise}の話を書いて",
        "{premise}のラブストーリーを書いてください",
        "{m}\n\nこの出来事をもとに短い小説にして",
        "{premise}のホラー小説を書いて。怖めで",
        "{opening}\nこの続き書いて",
        ("あなたは小説家です。", "{premise}の話を書いて"),
        ("You are a creative writing assistant. Reply in Japanese.", "{premise}の物語"),
        "{premise}の童話を書いて",
        "{premise}の絵本のストーリーを考えて",
    ],
    [
        "{premise}のお話を考えてくれない?",
        "{premise}を題材に、起承転結のある物語を作成してください",
        "{premise}をテーマに短い童話をお願いします",
        "創作お願い!{premise}の話で1000字くらい",
        "{opening}から始まる小説を書いてください",
        "{premise}の心温まるストーリーを書いて",
        "{premise}で川柳を作って",
        "{premise}のSF短編を1本",
        ("物語を書くAIです。", "{premise}の話をお願い"),
    ],
    [
        "Write a short story about {premise}.",
        "tell me a bedtime story about {premise}",
        "Can you write a poem about {premise}?",
        "Write a 500-word story about {premise}.",
        "I need a creative story for my class about {premise}",
        "write a fairy tale about {premise}",
        "Write a haiku about {premise}",
        "Continue this story: {opening}",
        "Write the opening chapter of a fantasy novel about {premise}.",
        "Give me a spooky campfire story about {premise}",
        "Write a funny short story involving {premise}",
        "flash fiction prompt: {premise}. go",
        "write a love story about {premise}",
        "Compose a limerick about {premise}",
        "{m}\n\nturn this into a short story",
        "{opening}\nkeep going",
        ("You are a novelist.", "{premise}"),
        ("あなたは英語で物語を書く作家です。", "a story about {premise}"),
        "Write a picture-book story about {premise}.",
    ],
    [
        "Could you come up with a story about {premise}?",
        "Write a heartwarming tale about {premise}, around 800 words.",
        "I'd love a short children's story featuring {premise}.",
        "story time! {premise}",
        "Start a novel with this line: {opening}",
        "Write a sci-fi short about {premise}.",
        "Make up a fable about {premise} with a moral at the end.",
        "Write a sonnet about {premise}.",
        ("You write fiction on request.", "{premise}, please"),
    ],
)

templates(
    "explain_simple",
    [
        "{concept}を小学生にもわかるように説明して",
        "{concept}って何?子供でもわかるように教えて",
        "5歳児に説明するみたいに{concept}を教えて",
        "{concept}について、専門用語を使わずにやさしく説明してください",
        "初心者向けに{concept}をかみ砕いて説明して",
        "{concept}をわかりやすく説明してほしい。中学生レベルで",
        "おばあちゃんにもわかるように{concept}を説明したい。どう言えばいい?",
        "{concept}をたとえ話で簡単に説明して",
        "文系の私にもわかるように{concept}を解説してください",
        "{m}\n\n小学生にもわかるように説明して",
        "{concept}、ELI5で",
        "{concept}を超ざっくり、簡単な言葉で教えて",
        "子供に「{concept}って何?」って聞かれた。どう答えればいい?",
        "{m}\n\nこれ難しい。やさしく説明して",
        "{concept}を誰でもわかるように説明して",
        "小学生向けに{concept}を説明する文章を書いて",
        ("あなたは小学校の先生です。子供にわかる言葉で答えてください。", "{concept}って何?"),
        ("Explain everything as if to a 10-year-old. Answer in Japanese.", "{concept}について"),
        "{concept}を簡単に説明して",
        "{mx}\n\nこの内容を子供向けにやさしく説明して",
    ],
    [
        "{concept}について、小学3年生の息子に説明できるように噛み砕いてください",
        "まったくの素人なんですが、{concept}って簡単に言うとどういうものですか?",
        "{concept}を幼稚園児向けに説明するとしたら?",
        "{m}\n\n↑中学生でもわかる言葉で解説して",
        "難しい言葉なしで{concept}を教えて",
        "{concept}を身近な例えを使って、やさしく説明してもらえますか",
        "{concept}の仕組みを、子供向けの説明でお願い",
        "ELI5: {concept}",
        ("子供向け科学番組の解説者として答えてください。", "{concept}"),
    ],
    [
        "Explain {concept} like I'm five.",
        "ELI5: {concept}",
        "eli5 {concept}",
        "Can you explain {concept} in simple terms?",
        "Explain {concept} to a 10-year-old.",
        "How would you explain {concept} to a kid?",
        "I'm a total beginner. Explain {concept} without jargon.",
        "explain {concept} in plain English please",
        "Break down {concept} so a non-technical person can understand it.",
        "{m}\n\nexplain this like I'm 5",
        "My daughter asked me what {concept} is. How do I explain it simply?",
        "Use a simple analogy to explain {concept}.",
        "Give me a beginner-friendly explanation of {concept}.",
        "{m}\n\ncan you explain this in simpler words?",
        "Explain {concept} as if I had never studied science.",
        ("You are a patient teacher for young children.", "What is {concept}?"),
        ("子供にもわかる言葉で英語で説明してください。", "{concept}"),
        "simple explanation of {concept} for kids?",
    ],
    [
        "What's the simplest way to describe {concept} to my grandma?",
        "Dumb it down for me: {concept}",
        "{concept} - explain it to me like I'm in elementary school.",
        "Could you describe {concept} using an everyday example a child would get?",
        "{m}\n\nI don't get this. Explain it simply, no technical terms.",
        "Explain {concept} for a complete layperson.",
        "Help me explain {concept} to my 7-year-old.",
        "In kid-friendly language, what is {concept}?",
        ("Answer like a children's science show host.", "{concept}?"),
    ],
)

templates(
    "style_rewrite",
    [
        "{s}\nこれをギャル語にして",
        "「{s}」をギャル語に変換して",
        "{s}\n↑関西弁で言い換えて",
        "次の文を{style}に書き換えてください。\n{s}",
        "{s} ←これ{style}っぽくして",
        "この文章をもっとカジュアルな口調にして\n{s}",
        "{s}\n敬語に直してください",
        "ギャル語で「{s}」って言うとどうなる?",
        "{m}\n\nこの文章を{style}でリライトして",
        "{slang}\n↑このギャル語、普通の日本語にして",
        "「{slang}」を標準語に直して",
        "「{s}」を若者言葉に変換して",
        "もっと柔らかい言い方にして:{s}",
        "{s}\nこれ、ちょっと偉そうだからもっと丁寧な言い方にして",
        "「{s}」をおじさん構文にして",
        "文体を{style}に変えて:{m}",
        "{s}を{style}で言うと?",
        "{m}\n\nギャル語で",
        ("ユーザーの文章をギャル語に変換してください。", "{s}"),
        ("Rewrite the user's Japanese text in 関西弁.", "{s}"),
        "{s}\nもうちょいフランクな感じに言い換えて",
        "{m}\n\n口調を{style}にして書き直して",
    ],
    [
        "{s}\n↑をギャル語っぽく書き換えて",
        "この一文を{style}風にしてもらえますか?「{s}」",
        "{slang}\nこれ普通の言葉で言うと?書き直して",
        "「{s}」、{style}だったらどんな言い方になる?",
        "{m}\n\nトーンを{style}に変えてリライト",
        "{s}\nもっと堅い言い方に変えて",
        "以下を{style}に変換お願いします\n{s}",
        ("入力された文章を名古屋弁に書き換えるボットです。", "{s}"),
    ],
    [
        "Rewrite this in Gen Z slang: {s}",
        "{s}\n\nmake this sound more formal",
        "Make this more casual: {s}",
        "Rewrite the following in the style of a {persona}:\n{s}",
        "Can you make this message sound less rude? {s}",
        "{s}\n\nrephrase this in a friendlier tone",
        "Turn this into Shakespearean English: {s}",
        "Rewrite this paragraph to sound more professional:\n{m}",
        "rewrite this slang in plain English: {slang}",
        "Say this like a {persona}: {s}",
        "Rewrite in a {style} tone:\n{m}",
        "make this text sound more confident: {s}",
        "Paraphrase this to be more polite: {s}",
        "{s}\n\nrewrite this like a 1920s gangster",
        "Change the tone of this to be more enthusiastic:\n{m}",
        "{m}\n\nmake it sound like {style}",
        ("Rewrite everything the user sends as a pirate would say it.", "{s}"),
        ("ユーザーの英文をもっとカジュアルに書き直してください。", "{s}"),
        "{slang}\n\nsay that in normal words",
        "{s}\n\nreword this in {style} style",
    ],
    [
        "{s}\n\ncan you reword that in Gen Z speak?",
        'Could you rephrase this sentence as a {persona} would? "{s}"',
        "{slang}\nwhat's a normal way to say this? rewrite it",
        'How would a {persona} say "{s}"?',
        "{m}\n\nRewrite it with a {persona} voice.",
        "{s}\nmake it sound stiffer and more official",
        "Convert the following to {style} style:\n{s}",
        ("You turn the user's text into surfer-dude talk.", "{s}"),
    ],
)

templates(
    "translate",
    [
        "{mx}\n\n日本語に訳して",
        "{m}\n\n英訳して",
        "次の文章を{lang}に翻訳してください。\n{m}",
        "「{s}」を英語にして",
        "「{s}」って英語でなんて言う?",
        "{sx}\nこれ和訳お願い",
        "{m}\n↑{lang}にしてほしい",
        "これ訳して:{sx}",
        "英語に翻訳:{s}",
        "{sx} の自然な日本語訳を教えて",
        "以下のメモを英語に翻訳してください。\n{note}",
        "{s}を{lang}で言うと?",
        "{mx}\n\nこれ何て書いてある?日本語にして",
        "翻訳お願いします({lang}へ)\n{m}",
        "「{s}」を{lang}に訳して",
        "{mx}\n\n和訳して",
        "{m}\n\n英語で",
        "{sx}\n\n↑日本語訳ください",
        ("あなたはプロの翻訳者です。ユーザーの文章を英語に翻訳してください。", "{m}"),
        ("Translate the user's text into Japanese.", "{mx}"),
        ("英日翻訳アシスタント", "{sx}"),
        "{mlong}\n\n全部英訳して",
    ],
    [
        "{mx}\n\n↑日本語でお願いします(翻訳)",
        "この文を{lang}に直してもらえますか?\n{s}",
        "{s}、{lang}だとどう表現する?",
        "{m}\n\n英文にしてください",
        "{sx}\nって日本語で何て意味?訳して",
        "海外の友達に送りたいので{lang}訳お願い:{s}",
        "{mx}\n和訳プリーズ",
        "{m}\n\n{lang}版を作ってほしい",
        ("日本語→英語の翻訳係として振る舞ってください。", "{m}"),
    ],
    [
        "Translate this into Japanese:\n{m}",
        "{m}\n\nin French please",
        'How do you say "{s}" in {lang}?',
        "Translate to {lang}: {s}",
        "{mx}\n\nwhat does this say? translate to English",
        "translate: {sx}",
        "Can you translate the following into {lang}?\n{m}",
        "{s}\n\n-> {lang}",
        "Please translate this note into Japanese:\n{note}",
        'What\'s "{s}" in {lang}?',
        "{mx}\n\nEnglish please",
        "Give me a natural {lang} translation of: {s}",
        "Translate the following Japanese text to English.\n{mx}",
        "{s} - how would a native speaker say this in {lang}?",
        "{m}\n\ntranslate to {lang}",
        "{sx}\n\nmeaning in English?",
        ("You are a professional translator. Translate the user's text into French.", "{m}"),
        ("Translate everything into English.", "{mx}"),
        ("日本語から英語への翻訳者です。", "{sx}"),
        "{mlong}\n\ntranslate all of this into Japanese",
    ],
    [
        "Could you render this in {lang}?\n{m}",
        "{mx}\n\nI can't read this, can you put it into English?",
        "Need this in {lang} for a coworker: {s}",
        "{m}\n\n{lang} version please",
        'What would "{s}" be in {lang}?',
        "{sx}\nEnglish translation?",
        "Translate the text below from Japanese into English, keeping the tone.\n{mx}",
        "Convert this sentence to {lang}: {s}",
        ("You translate the user's messages into Spanish.", "{m}"),
    ],
)

templates(
    "code",
    [
        "{code}\n\nこのコードのバグを直して",
        "{trace}\n\nこのエラーの原因は?",
        "Pythonで{prog}を書いて",
        "{prog}をするJavaScriptの関数を作って",
        "{code}\nこれリファクタリングして",
        "{code}\n\nこのコード何してるか説明して",
        "{prog}のSQLを書いてください",
        "{trace}",
        "{code}\nテストコード書いて",
        "Goで{prog}を実装するにはどうすればいい?",
        "{prog}を実装したい。サンプルコードください",
        "```\n{code}\n```\n動かないんだけどなんで?",
        "{code}\n型ヒントつけて",
        "TypeScriptで{prog}を書いて",
        "このスクリプト、思った通りに動きません\n{code}",
        "{trace}\nnpm install したらこうなった。どうすれば?",
        "{prog}のコード書いて",
        ("あなたは熟練したPythonプログラマーです。", "{prog}を書いて"),
        ("You are a senior software engineer. Answer in Japanese.", "{code}"),
        "{code}\n\nこれをPythonに書き換えて",
        "{code}\nどこがおかしい?",
    ],
    [
        "{code}\n↑これ実行すると落ちます。直し方教えて",
        "{prog}をRustで書いてみて",
        "{trace}\nこれ何が悪いの?",
        "{code}\nもっと速くできる?",
        "{prog}のコードをPythonでお願いします",
        "{code}\n\nこのコードをレビューしてほしい",
        "Javaで{prog}を実装するサンプルを見せて",
        "{trace}\nデプロイしたら出た…",
        ("コードレビュー担当のエンジニアです。", "{code}"),
    ],
    [
        "{code}\n\nfix this bug",
        "{trace}\n\nwhat does this error mean?",
        "Write a Python function for {prog}.",
        "How do I do {prog} in JavaScript?",
        "{code}\n\nrefactor this",
        "{code}\n\nwhat does this code do?",
        "Write a SQL query for {prog}.",
        "{trace}",
        "{code}\nwrite unit tests for this",
        "implement {prog} in Go",
        "```\n{code}\n```\nwhy doesn't this work?",
        "Add type hints to this:\n{code}",
        "TypeScript code for {prog}?",
        "{trace}\ngot this after npm install, help",
        "Can you optimize this function?\n{code}",
        "code for {prog} pls",
        ("You are an expert Python programmer.", "{prog}"),
        ("あなたはシニアエンジニアです。英語で答えてください。", "{code}"),
        "{code}\n\nport this to Python",
        "{code}\nwhat's wrong with it?",
    ],
    [
        "{code}\nthis crashes when I run it, how do I fix it?",
        "Show me how to write {prog} in Rust.",
        "{trace}\nwhat's wrong here?",
        "{code}\ncan this be made faster?",
        "Please write Python code for {prog}.",
        "{code}\n\nreview this code please",
        "Give me a Java example of {prog}.",
        "{trace}\nthis showed up after deploying...",
        ("You review pull requests.", "{code}"),
    ],
)

templates(
    "qa",
    [
        "{concept}とは何ですか?",
        "{concept}について詳しく教えて",
        "{concept}のメリットとデメリットは?",
        "{concept}の歴史を教えて",
        "{concept}って最近どうなってるの?",
        "{concept}と関係のある仕事には何がある?",
        "{concept}について専門的に解説して",
        ("あなたは物知りなアシスタントです。", "{concept}の最新の研究動向は?"),
        "{book}の作者は誰?",
        "{book}はいつ書かれた作品?",
    ],
    [
        "{concept}ってどういう意味?",
        "{concept}の最新ニュースある?",
        "{concept}が社会に与える影響は?",
        "{concept}について調べるならどの本がいい?",
        "{book}は何年の作品?",
    ],
    [
        "What is {concept}?",
        "Tell me about {concept}.",
        "What are the pros and cons of {concept}?",
        "What's the history of {concept}?",
        "What are the latest developments in {concept}?",
        "Is {concept} good or bad for the economy?",
        "Give me a detailed technical overview of {concept}.",
        ("You are a knowledgeable assistant.", "What jobs are related to {concept}?"),
        "Who wrote {book}?",
        "When was {book} published?",
    ],
    [
        "Give me an overview of {concept}.",
        "Why does {concept} matter?",
        "How has {concept} changed over the last decade?",
        "Are there any risks associated with {concept}?",
        "What year did {book} come out?",
    ],
)


# More training-only wording, so the model learns the instruction vocabulary, not a template.
def more(task: str, ja: list[Template], en: list[Template]) -> None:
    TEMPLATES[task]["ja"]["train"].extend(ja)
    TEMPLATES[task]["en"]["train"].extend(en)


more(
    "summarize",
    [
        "{m}\n\n簡潔にまとめてください",
        "{m}\n\n要旨を教えて",
        "{m}\n\nつまり?",
        "{m}\n\n3点に要約",
        "要点を3つ挙げて\n{m}",
        "{m}\n\nこれを短くして",
        "{m}\n\n短く言うと何?",
        "次のレポートのサマリーを書いてください。\n{m}",
        "{m}\n\n見出しと3行要約をつけて",
        "以下の内容を一文で表すと?\n{m}",
        "{m}\n\n大事なとこだけ教えて",
        "{m}\n\nポイントは?",
        "{m}\n\n箇条書きで要点まとめ",
        "{m}\n\nこれ、結局何が決まったの?",
        "{mlong}\n\nざっくりでいいので内容を教えて",
        "{mlong}\n\n要点を5つ",
        "議事録の要約をお願いします\n{m}",
        "{m}\n\nこの記事を読んでない人向けに概要をまとめて",
        "{m}\n\n長い。短くして",
        "{m}\n\n要約して。箇条書きで",
        "{book}のストーリーをまとめて",
        "{book}のあらすじ教えて",
        "{m}\n\n140字にまとめて",
        "{m}\n\nSNS投稿用に短く要約して",
        "{m}\n\n概要をまとめてください",
        "{m}\n\nひとことで",
        "{m}\n\nまとめお願いします",
        "{m}\n\n内容を整理して短く",
        "{mlong}\n\n↑この記事、3行でまとめて",
        "{mlong}\n\ntl;dr",
        "{m}\n\n要約",
        "{m}\n\n読むのめんどいから要点だけ",
        "{m}\n\n結論から短く教えて",
    ],
    [
        "{m}\n\nsummarize in 2 sentences",
        "{m}\n\ncan you give me the highlights?",
        "{m}\n\nWhat's the main point?",
        "Summarize the key points:\n{m}",
        "{m}\n\nshort summary please",
        "{m}\n\ncliff notes version?",
        "{m}\n\nmake it shorter",
        "{m}\n\nKey points only.",
        "Write a one-line summary of this:\n{m}",
        "{m}\n\nsum it up",
        "{m}\n\nTLDR",
        "{m}\n\ntl;dr pls",
        "{mlong}\n\nWhat is this about, in short?",
        "{mlong}\n\ngive me the gist in 5 bullets",
        "Summarize this transcript:\n{m}",
        "{m}\n\nbullet-point summary",
        "Recap the plot of {book} in a paragraph",
        "{book} plot summary?",
        "{m}\n\nsummarize for a tweet",
        "{m}\n\nWhat did they decide? keep it brief",
        "{m}\n\nabstract please",
        "{m}\n\ngive me a brief overview of this text",
        "Digest this for me:\n{m}",
        "{m}\n\nhighlight the main ideas briefly",
        "{m}\n\nshorten",
        "{m}\n\nin a few words?",
        "{mlong}\n\nsummarize the article above in three lines",
        "{m}\n\nsummary",
        "{m}\n\nsummarize, I'm in a hurry",
        "{m}\n\nbottom line?",
        "{mlong}\n\ntoo long; give me the short version",
    ],
)

more(
    "business_mail",
    [
        "{note}\nメールにして",
        "{note}\n↑メール文にしてください",
        "{note}\nこれを先方に送る丁寧なメールにして",
        "{mailtopic}のお知らせメール",
        "お世話になっております、から始まる{mailtopic}のメールを書いて",
        "{mailtopic}についての社内向けメール、フォーマルに",
        "{note}\n上司宛メール作って",
        "{note}\nこの件、取引先へのメールの下書きお願い",
        "{mailtopic}の連絡をメールでしたい。件名と本文を",
        "{mailtopic}の返信メールを書いて",
        "{mailtopic}に関する依頼メールを作成してください",
        "メールの下書き作って。{mailtopic}",
        "{note}\nお詫びメールにしてほしい",
        "{mailtopic}のメール、テンプレートちょうだい",
        "{note}\n顧客向けのメールにして。署名もつけて",
        "取引先に送るメールの文面を考えてください。用件:{note}",
        "以下の要件でメールを書いてください\n宛先:取引先\n用件:{mailtopic}",
        "{mailtopic}の件でメール返信したい。丁寧にまとめて",
        "目上の人に送る{mailtopic}のメールを書いて",
        "{note}\nビジネスメールにして",
        "{note}\n社外向けのお知らせメールにして",
        "{mailtopic}について、お客様へ送る案内文をメール形式で",
        "{note}\n\n↑先方にメールで伝えたい。文章お願い",
    ],
    [
        "{note}\nemail please",
        "{note}\n\nwrite an email to the client about this",
        "Write an email to a client about {mailtopic}.",
        "Can you draft a reply email about {mailtopic}?",
        "I need a formal email regarding {mailtopic}",
        "Draft a professional email: {note}",
        "{note}\nturn this into a polite email to my boss",
        "write an email to HR about {mailtopic}",
        "Email template for {mailtopic}?",
        "Write a formal email about {mailtopic} to a customer",
        "{note}\n\ncompose an email with a subject line and sign-off",
        "Reply to a client email about {mailtopic}, professionally",
        "Write an internal announcement email about {mailtopic}",
        "Write a request email regarding {mailtopic}",
        "{mailtopic} - email to the client, please",
        "draft a customer-facing email: {note}",
        "please help me email my supervisor: {note}",
        "{note}\nneed this as an email to our partner",
        "Write a courteous email to the vendor: {note}",
        "professional email about {mailtopic}, short",
        "{note}\n\nemail this to the customer nicely",
        "Write an email notice to customers about {mailtopic}.",
    ],
)

more(
    "story",
    [
        "{premise}の短い物語",
        "{premise}の話を作って",
        "{premise}を主人公にした小説",
        "{premise}のショートストーリーを書いて",
        "{premise}をテーマに物語を書いて",
        "{premise}で短歌を詠んで",
        "{premise}の詩をつくって",
        "{premise}のSF小説を書いて",
        "{premise}のミステリーを書いて",
        "{premise}の昔話風の話",
        "{premise}が出てくる冒険物語を考えて",
        "{premise}の話をお願いします。結末はハッピーエンドで",
        "{premise}の小説のプロットを考えて",
        "{premise}をモチーフにした川柳を5つ",
        "{premise}の創作をお願い",
        "{premise}のコメディを書いて",
        "{opening}で始まる物語を書いて",
        "{premise}の一場面を小説風に描写して",
        "{premise}の物語を、子供向けに優しく書いて",
        "{premise}の脚本を書いて",
        "{premise}の歌詞を書いて",
        "{premise}のSF短編",
        "{premise}の短編、1本お願い",
        "{premise}のお話を書いてくれる?",
    ],
    [
        "Write a story about {premise}",
        "a short story about {premise}, please",
        "Tell me a story about {premise}.",
        "Write a sci-fi story about {premise}",
        "Write a mystery story involving {premise}",
        "Write a poem about {premise}",
        "Write a short poem about {premise}",
        "Write a fable about {premise}",
        "Write a children's story about {premise}",
        "Write a screenplay scene about {premise}",
        "Give me a plot outline for a novel about {premise}",
        "Write a comedic story about {premise}",
        "Write an adventure story starring {premise}",
        "Create a myth about {premise}",
        "Write a tale about {premise} with a happy ending",
        "Write a story that begins with {opening}",
        "Write a micro-fiction piece about {premise}",
        "Write song lyrics about {premise}",
        "Write a free verse poem about {premise}",
        "Write a story for kids about {premise}",
        "short story idea: {premise}. write it",
        "Could you write a story about {premise}?",
    ],
)

more(
    "explain_simple",
    [
        "{concept}をやさしく教えて",
        "{concept}って簡単に言うと何?",
        "{concept}を子供向けに説明して",
        "{concept}を初心者にもわかるように",
        "{concept}を素人向けに解説して",
        "{concept}をざっくり簡単に説明してくれる?",
        "{concept}、わかりやすく教えて",
        "{concept}をかんたんな言葉で",
        "{concept}を小学生に説明するとしたら?",
        "{concept}の仕組みをわかりやすく説明して",
        "{concept}を例え話で説明して",
        "{concept}を中学生向けに解説してください",
        "高校生にもわかるように{concept}を説明して",
        "{concept}を専門知識のない人に説明するには?",
        "{concept}って何?難しいことはわからないので簡単に",
        "幼稚園児でもわかるように{concept}を説明して",
        "おじいちゃんに{concept}をどう説明すればいい?",
        "{m}\n\nこれを子供にもわかるように説明して",
        "{m}\n\nわかりやすく説明して",
        "{concept}をやさしい日本語で説明して",
        "専門用語なしで{concept}を解説",
        "{concept}を一般の人向けにかみくだいて",
        "子供向けの図鑑みたいに{concept}を説明して",
        "{concept}を身近なものに例えて説明して",
        "{concept}のことを全然知らない人向けに説明して",
    ],
    [
        "Explain {concept} simply.",
        "What is {concept}, in simple words?",
        "explain {concept} for beginners",
        "Explain {concept} to someone with no background.",
        "Simple explanation of {concept}?",
        "Describe {concept} like I'm a child.",
        "Explain {concept} to my grandma.",
        "How would you explain {concept} to a 5 year old?",
        "Explain {concept} in layman's terms.",
        "Can you make {concept} easy to understand?",
        "Explain {concept} with an everyday analogy.",
        "Explain {concept} like I'm 10",
        "Teach me {concept} like I'm a kid",
        "{concept} for dummies?",
        "Explain {concept} without any technical terms",
        "{m}\n\nexplain this to a child",
        "{m}\n\nwhat does this mean, in simple words?",
        "Explain {concept} to a non-expert.",
        "ELI5 {concept} please",
        "Give a kid-friendly explanation of {concept}",
        "Explain {concept} so my grandpa gets it",
        "I'm not a science person. Explain {concept} simply.",
        "What's the easiest way to understand {concept}?",
        "Explain {concept} for an elementary school student.",
    ],
)

more(
    "style_rewrite",
    [
        "「{s}」をギャル語で言って",
        "{s}\nギャル語にして!",
        "「{s}」をもっと丁寧な言い方に",
        "{s}\n↑の文を関西弁にして",
        "{s}\nこれを{style}に",
        "「{s}」を{style}で言い換えて",
        "{s}\nもっと砕けた感じにして",
        "{s}\nビジネス向けの丁寧な表現に言い換えて",
        "「{s}」を上品な言い方に直して",
        "{m}\n\nこれをもっと柔らかい口調に書き換えて",
        "{m}\n\n{style}っぽくリライト",
        "{slang}\nこれを敬語にして",
        "{slang}\n↑おじさんでもわかる言葉に書き直して",
        "「{slang}」を普通の言い方に直して",
        "{s}\n語尾を{style}にして",
        "{s}\n上から目線にならないように言い換えて",
        "{s}\n{style}風にアレンジして",
        "「{s}」を若者っぽく言うと?",
        "{m}\n\n口語体に直して",
        "{m}\n\nもっと堅い文章にリライトして",
        "{s}\n\n{style}に変換して",
        "{s}\nもっとかわいく言い換えて",
        "「{s}」をギャルっぽく",
        "{m}\n\nトーンを明るく書き直して",
    ],
    [
        "Rewrite this to sound more polite: {s}",
        "{s}\n\nmake it sound like Gen Z",
        "rephrase in a {style} style: {s}",
        "{s}\n\nsay it in a {persona} voice",
        "Make this sound less formal:\n{m}",
        "Reword this in a more formal register:\n{m}",
        "{s}\n\nrewrite this casually",
        "Turn this into slang: {s}",
        "{slang}\n\nrewrite in formal English",
        "Rewrite this Gen Z slang in plain English: {slang}",
        "{s}\n\nmake this sound friendlier",
        "{m}\n\nRewrite this in a {style} tone.",
        "{s}\n\nmake this sound more sarcastic",
        "Rewrite this as if a {persona} said it: {s}",
        "{s}\n\ntone it down a bit",
        "{m}\n\nmake it sound less robotic",
        "Rewrite in the voice of a {persona}:\n{s}",
        "{s}\n\ncan you make this sound cooler?",
        "rewrite in gen z speak: {s}",
        "Paraphrase in plain, friendly language: {s}",
        "{s}\n\nhow would a {persona} phrase this?",
        "Restyle this as {style}: {s}",
    ],
)

more(
    "translate",
    [
        "「{s}」を{lang}に",
        "{s}\n{lang}に翻訳して",
        "{m}\n\n{lang}訳お願い",
        "{mx}\n\n日本語に翻訳してください",
        "{sx}\n↑これ日本語で何て言ってる?",
        "{sx}\n翻訳して",
        "{m}\n\n英語に直して",
        "{s}って{lang}でどう言うの?",
        "{s}を英訳するとどうなる?",
        "「{s}」の{lang}訳を教えて",
        "{note}\nこれ英語にしてほしい",
        "{m}\n\nネイティブっぽい英語に訳して",
        "{mx}\n\nこの英文の意味を日本語で",
        "{sx}\nこの英語どういう意味?訳してください",
        "{m}\n\n{lang}に変換して",
        "{lang}で「{s}」は?",
        "以下を{lang}に訳してください。\n{s}",
        "{mx}\n\n和訳",
        "{m}\n\n英語版を作って",
        "{s}\n→{lang}",
        "この文を{lang}にして:{s}",
        "{s}\n{lang}だと何て言う?",
        "{m}\n\n{lang}に直してほしい",
    ],
    [
        'Translate "{s}" into {lang}.',
        "{s}\n\ntranslate into {lang}",
        "{m}\n\n{lang} translation please",
        "{mx}\n\ntranslate this to English",
        "{sx}\n\nwhat does this mean? translate please",
        "{m}\n\nput this in {lang}",
        "How do I say {s} in {lang}?",
        "{s} in {lang}?",
        "{note}\n\ntranslate to Japanese",
        "{mx}\n\ncan you translate this Japanese?",
        "Translate this to {lang}, keep it natural:\n{m}",
        "{sx}\n\nEnglish?",
        "{s}\n\nin {lang} please",
        "{m}\n\nrender this in {lang}",
        'What is "{s}" in {lang}?',
        "{mx}\nI got this message in Japanese, what does it say in English?",
        "Please translate into {lang}:\n{s}",
        "{m}\n\n-> {lang}",
        "{sx}\ntranslate to english pls",
        "Can you put this into {lang} for me? {s}",
        "Convert this text to {lang}: {s}",
        "{m}\n\nI need this in {lang}",
    ],
)

more(
    "code",
    [
        "{code}\nこれなんでエラーになるの?",
        "{code}\nバグってる?",
        "{code}\n\nコメントを付けて",
        "{code}\n改善点を教えて",
        "{prog}をPythonで実装して",
        "{prog}をC++で書いて",
        "{prog}の関数を作って",
        "{prog}をRubyで",
        "{prog}のシェルスクリプト",
        "{trace}\n直し方わかる?",
        "{trace}\n解決方法を教えてください",
        "{trace}\nなにこれ",
        "```\n{code}\n```\nこれの計算量は?",
        "{code}\n\nこのコードの問題点を指摘して",
        "{prog}のユニットテストを書いて",
        "Reactで{prog}を作りたい",
        "Javaで{prog}",
        "{prog}をするAPIをFastAPIで作って",
        "{code}\nGoに書き換えて",
        "{prog}をRustで実装して",
        "{prog}をKotlinで書いて",
    ],
    [
        "{code}\nwhy does this fail?",
        "{code}\nany bugs?",
        "{code}\n\nadd comments",
        "{code}\nhow can I improve this?",
        "Implement {prog} in Python",
        "Write {prog} in C++",
        "write a function for {prog}",
        "{prog} in Ruby?",
        "bash script for {prog}",
        "{trace}\nhow do I fix this?",
        "{trace}\nany idea?",
        "{trace}\nwhat is this",
        "```\n{code}\n```\nwhat's the time complexity?",
        "{code}\n\npoint out the problems in this code",
        "write unit tests for {prog}",
        "Build {prog} in React",
        "{prog} in Java",
        "Create a FastAPI endpoint for {prog}",
        "{code}\nrewrite in Go",
        "Rust implementation of {prog}?",
        "Kotlin code for {prog}",
    ],
)

more(
    "qa",
    [
        "{concept}の問題点は?",
        "{concept}は今後どうなる?",
        "{concept}はいつから始まった?",
        "{concept}はなぜ重要なの?",
        "{concept}に関するおすすめの本は?",
        "{concept}について議論されている論点は?",
        "{concept}の専門家って誰?",
    ],
    [
        "What are the problems with {concept}?",
        "What's the future of {concept}?",
        "When did {concept} start?",
        "Why is {concept} important?",
        "Recommend a book about {concept}.",
        "What are the main debates around {concept}?",
        "Who are the leading experts on {concept}?",
    ],
)


# Pasted material appears with every task, so a paste by itself says nothing about the task.
more(
    "translate",
    [
        "{m}\n\n翻訳して({lang})",
        "{mlong}\n\nこれを{lang}に",
        "{mx}\n\n↑これ和訳してほしい",
        "{m}\n\n英語にしてくれる?",
    ],
    [
        "{m}\n\ntranslate this",
        "{mlong}\n\ntranslate the above into {lang}",
        "{mx}\n\nplease translate into English",
        "{m}\n\ncould you translate it to {lang}?",
    ],
)
more(
    "style_rewrite",
    [
        "{mlong}\n\n全部ギャル語にして",
        "{m}\n\n関西弁で書き直して",
        "{m}\n\nもっとくだけた文体にして",
    ],
    [
        "{m}\n\nrewrite this in a more casual tone",
        "{m}\n\nmake this sound like a pirate wrote it",
        "{m}\n\nrewrite it in Gen Z slang",
        "{m}\n\nmake the tone more formal",
        "{mlong}\n\nrewrite all of this in a friendlier voice",
        "Rewrite this as a {persona} would:\n{m}",
        "{m}\n\nchange the tone to {style}",
    ],
)
more(
    "explain_simple",
    [
        "{m}\n\n子供でもわかるように説明して",
        "{m}\n\nこれを初心者向けにかみ砕いて",
        "{mlong}\n\nこの記事の内容、中学生にもわかるように教えて",
        "{mx}\n\nこれの意味をやさしく説明して",
    ],
    [
        "{m}\n\nexplain this in plain words",
        "{m}\n\nexplain this like I'm 10",
        "{mlong}\n\nexplain the article above to a beginner",
        "{mx}\n\nwhat does this mean? explain simply",
        "{m}\n\nhelp me understand this, simply",
    ],
)
more(
    "business_mail",
    [
        "{m}\n\nこの内容をお客様向けのお知らせメールにして",
        "{m}\n\nこれを社内向けメールにまとめて送りたい。メール文面を作って",
        "{m}\n\n↑を元に取引先へ報告メールを書いて",
    ],
    [
        "{m}\n\nturn this into an announcement email to customers",
        "{m}\n\nwrite an email to the team based on this",
        "{m}\n\nuse this to write a status update email to the client",
    ],
)
more(
    "story",
    ["{m}\n\nこれを元に物語を作って", "{m}\n\nこの話を小説風にふくらませて"],
    ["{m}\n\nwrite a short story based on this", "{m}\n\nturn this into a poem"],
)
more(
    "qa",
    [
        "{m}\n\nこれって本当?",
        "{m}\n\nこの件についてどう思う?",
        "{m}\n\nこれに関連して他に知っておくべきことある?",
        "{m}\n\nこの中で一番重要なのはどれだと思う?",
        "{m}\n\nここに出てくる数字って妥当?",
    ],
    [
        "{m}\n\nIs this true?",
        "{m}\n\nWhat do you think about this?",
        "{m}\n\nanything else I should know related to this?",
        "{m}\n\nwhich part of this matters most, in your opinion?",
        "{m}\n\ndo these numbers look right?",
    ],
)
more(
    "code",
    [
        "{m}\n\nこのテキストから数字だけ抜き出すPythonコードを書いて",
        "{m}\n\nこれをJSONに変換するスクリプトを書いて",
    ],
    [
        "{m}\n\nwrite a Python script that extracts the numbers from this text",
        "{m}\n\nwrite code to parse this into JSON",
    ],
)


# Every subject pool also appears under other tasks, so subject matter says nothing about the
# task and only the instruction does (no shortcut through topic words).
more(
    "summarize",
    [
        "{concept}についての次の記事を三行で要約して\n{m}",
        "{mailtopic}の件のやりとり、要点をまとめて\n{note}\n{note}",
        "{concept}に関する講義メモを短くまとめて:{m}",
    ],
    [
        "Summarize this article about {concept} in three lines:\n{m}",
        "Sum up this thread about {mailtopic}:\n{note}\n{note}",
        "Boil down my lecture notes on {concept}: {m}",
    ],
)
more(
    "business_mail",
    [
        "{concept}に関する社内勉強会の案内メールを書いて",
        "{premise}をテーマにしたイベントの告知メールを取引先向けに作って",
        "{prog}の機能の開発が遅れていることを顧客にお詫びするメール",
        "{book}の読書会の案内を社内メールで送りたい。文面をお願い",
    ],
    [
        "Write an email inviting colleagues to a talk on {concept}.",
        "Email our clients announcing an event themed around {premise}.",
        "Write an apology email to a client: the {prog} feature will be delayed.",
        "Draft an internal email announcing a book club on {book}.",
    ],
)
more(
    "story",
    [
        "{concept}をテーマにした短編小説を書いて",
        "{concept}が出てくるSF小説を書いて",
        "{mailtopic}がきっかけで始まる恋の物語を書いて",
        "{prog}を書くプログラマーが主人公の短いお話",
    ],
    [
        "Write a short story that involves {concept}.",
        "Write a poem about {concept}.",
        "Write a story that starts with {mailtopic}.",
        "A short story about a programmer writing {prog}.",
    ],
)
more(
    "explain_simple",
    [
        "{prog}を小学生にもわかるように説明して",
        "{prog}って何?子供にもわかるように",
        "{book}のテーマを子供にもわかるように説明して",
    ],
    [
        "Explain {prog} like I'm five.",
        "What is {prog}? Explain simply for a beginner.",
        "Explain the theme of {book} to a kid.",
    ],
)
more(
    "style_rewrite",
    [
        "{note}\nこれをギャル語にして",
        "{note}\n↑これを関西弁に書き換えて",
        "「{premise}」を若者言葉っぽく言い換えて",
    ],
    [
        "{note}\n\nrewrite this in Gen Z slang",
        "{note}\n\nrewrite this like a pirate",
        'make "{premise}" sound dramatic and fancy',
    ],
)
more(
    "translate",
    [
        "「{concept}」って英語で何て言う?",
        "{note}\n英訳して",
        "「{premise}」を英語にすると?",
        "{mailtopic}を{lang}に訳すと?",
    ],
    [
        "How do you say {concept} in Japanese?",
        "{note}\n\ntranslate into Japanese",
        'Translate "{premise}" into {lang}.',
        "What's {mailtopic} in {lang}?",
    ],
)
more(
    "code",
    [
        "{concept}をシミュレーションするPythonコードを書いて",
        "{mailtopic}のメールを自動送信するスクリプトを書いて",
        "{book}の本文から単語の出現回数を数えるコード",
    ],
    [
        "Write a Python simulation of {concept}.",
        "Write a script that automatically sends emails about {mailtopic}.",
        "Code to count word frequencies in the text of {book}.",
    ],
)
more(
    "qa",
    [
        "{premise}が出てくる有名な本ってある?",
        "{mailtopic}のマナーで気をつけることは?",
        "{premise}って現実にありえる?",
        "{prog}ってどんな場面で使われるの?",
    ],
    [
        "Are there famous books about {premise}?",
        "What's the etiquette for {mailtopic}?",
        "Is {premise} possible in real life?",
        "Where is {prog} used in practice?",
    ],
)


# Phrasebook: the instruction vocabulary of each task, composed part by part (verb, object,
# manner, ...), sampled into training templates. It teaches words, not whole sentences.
PHRASEBOOK: dict[tuple[str, str], list[list[str]]] = {
    ("explain_simple", "en"): [
        [
            "Explain {concept} ",
            "Can you explain {concept} ",
            "Describe {concept} ",
            "Break down {concept} ",
            "Walk me through {concept} ",
            "Help me understand {concept} ",
            "Teach me about {concept} ",
            "What is {concept}? Explain it ",
            "How does {concept} work? Explain it ",
            "Tell me what {concept} is, ",
        ],
        [
            "like I'm five",
            "like I'm 5 years old",
            "to a child",
            "for a kid",
            "in simple terms",
            "in plain language",
            "for a total beginner",
            "for a layperson",
            "without jargon",
            "using a simple analogy",
            "with an everyday example",
            "so my grandma could follow",
            "in the simplest way possible",
            "at a kindergarten level",
            "for someone with no background",
            "in words a 10-year-old would get",
            "the easy way",
            "in kid-friendly words",
            "as simply as you can",
            "for a non-technical person",
            "step by step for a newbie",
            "dumbed down",
        ],
        ["", ".", "?", " please", ", thanks"],
    ],
    ("explain_simple", "ja"): [
        [
            "{concept}を",
            "{concept}について",
            "{concept}の仕組みを",
            "{concept}って何か",
            "{concept}のことを",
        ],
        [
            "小学生にもわかるように",
            "子供でもわかるように",
            "5歳児にもわかるように",
            "初心者向けに",
            "素人にもわかるように",
            "専門用語を使わずに",
            "たとえ話を使って",
            "身近な例で",
            "やさしい言葉で",
            "かみ砕いて",
            "簡単に",
            "わかりやすく",
            "おばあちゃんでもわかるように",
            "中学生向けに",
            "ざっくり簡単に",
            "誰にでもわかるように",
            "基礎の基礎から",
            "難しい言葉なしで",
            "ど素人向けに",
            "子供向けに",
        ],
        [
            "説明して",
            "教えて",
            "解説してください",
            "説明してもらえますか",
            "教えてほしい",
            "説明して!",
            "説明お願い",
        ],
    ],
    ("style_rewrite", "en"): [
        [
            "Rewrite this ",
            "Rephrase this ",
            "Reword this ",
            "Can you rewrite the following ",
            "Say this ",
            "Restyle this text ",
            "Redo this message ",
            "Write this again ",
        ],
        [
            "in Gen Z slang",
            "like a {persona}",
            "in a {style} tone",
            "as a {persona} would say it",
            "more formally",
            "more casually",
            "in a friendlier way",
            "more politely",
            "in {style} style",
            "in the voice of a {persona}",
            "with more attitude",
            "in a more professional tone",
            "in plain everyday English",
            "so it sounds less stiff",
            "in a more upbeat tone",
            "in {style}",
        ],
        [": {s}", ":\n{s}", ":\n{m}", '. "{s}"'],
    ],
    ("style_rewrite", "ja"): [
        [
            "「{s}」を",
            "{s}\n↑これを",
            "次の文を",
            "{m}\n\nこの文章を",
            "この一言を",
            "「{slang}」を",
        ],
        [
            "ギャル語に",
            "{style}に",
            "{style}っぽく",
            "{style}風に",
            "もっと丁寧な言い方に",
            "カジュアルな口調に",
            "柔らかい表現に",
            "堅い文章に",
            "若者っぽい言葉に",
            "標準語に",
            "砕けた言い方に",
            "上品な言葉遣いに",
        ],
        [
            "変換して",
            "言い換えて",
            "書き換えて",
            "直して",
            "リライトして",
            "してほしい",
            "してください",
            "して!",
        ],
    ],
    ("translate", "en"): [
        [
            "Translate ",
            "Can you translate ",
            "Please translate ",
            "Put ",
            "Render ",
            "Could you translate ",
        ],
        ["this ", "the following ", "this sentence ", "this text ", "my message "],
        ["into {lang}", "to {lang}", "in {lang}", "from English into {lang}"],
        [": {s}", ":\n{s}", ":\n{m}", '. "{s}"', " please: {s}"],
    ],
    ("translate", "ja"): [
        ["「{s}」を", "{s}\nこれを", "次の文章を", "{m}\n\nこれを", "このメッセージを"],
        ["{lang}に", "{lang}へ"],
        [
            "翻訳して",
            "訳して",
            "直して",
            "してください",
            "訳してもらえる?",
            "翻訳お願いします",
            "翻訳してほしい",
        ],
    ],
    ("summarize", "en"): [
        [
            "Summarize ",
            "Sum up ",
            "Condense ",
            "Boil down ",
            "Give me a summary of ",
            "Recap ",
            "Shorten ",
            "Give me the gist of ",
            "Give me the highlights of ",
            "Give me the key points of ",
            "List the main points of ",
            "Distill ",
        ],
        [
            "this",
            "the following",
            "the text below",
            "this article",
            "these notes",
            "this thread",
            "this transcript",
        ],
        [
            "",
            " in 3 bullets",
            " in one sentence",
            " briefly",
            " in under 50 words",
            " for my boss",
            " in a few lines",
            " in a paragraph",
        ],
        [":\n{m}", ":\n{mlong}", ". {m}"],
    ],
    ("summarize", "ja"): [
        ["この記事を", "以下を", "この文章を", "次の議事録を", "このスレッドを", "このメモを"],
        [
            "三行で",
            "簡潔に",
            "短く",
            "箇条書きで",
            "100字で",
            "一言で",
            "ざっくり",
            "3つのポイントに",
            "",
        ],
        [
            "要約して",
            "まとめて",
            "要約してください",
            "まとめてほしい",
            "サマリーにして",
            "要約お願い",
        ],
        ["\n{m}", "\n{mlong}", ":{m}"],
    ],
    ("business_mail", "en"): [
        [
            "Write ",
            "Draft ",
            "Compose ",
            "Put together ",
            "Help me write ",
            "Can you write ",
            "I need ",
        ],
        [
            "an email",
            "a professional email",
            "a formal email",
            "a polite email",
            "a business email",
            "a short email",
            "a courteous message",
            "an email reply",
            "a business letter",
        ],
        [
            " to a client",
            " to my boss",
            " to a supplier",
            " to a customer",
            " to our partner company",
            " to the team",
            " to HR",
            "",
        ],
        [" about {mailtopic}", " regarding {mailtopic}", " about this: {note}", ": {note}"],
    ],
    ("business_mail", "ja"): [
        ["取引先", "お客様", "上司", "社内", "先方", "部長", "クライアント", "関係各位"],
        ["に送る", "宛ての", "向けの"],
        [
            "{mailtopic}のメール",
            "{mailtopic}に関するメール",
            "メール",
            "ビジネスメール",
            "連絡メール",
        ],
        [
            "を書いて",
            "を作成してください",
            "の文面を考えて",
            "を作って",
            "の下書きをお願い",
            "を書いてほしい",
        ],
        ["", "\n{note}", "。内容:{note}"],
    ],
    ("story", "en"): [
        [
            "Write ",
            "Tell me ",
            "Create ",
            "Make up ",
            "Come up with ",
            "Compose ",
            "Can you write ",
            "I'd like ",
        ],
        [
            "a story",
            "a short story",
            "a bedtime story",
            "a fairy tale",
            "a poem",
            "a haiku",
            "a sci-fi story",
            "a mystery",
            "a fable",
            "a tale",
            "the opening of a novel",
            "flash fiction",
            "a ghost story",
            "a sonnet",
            "song lyrics",
            "a short play",
        ],
        [" about {premise}", " featuring {premise}", " involving {premise}", " based on {premise}"],
    ],
    ("story", "ja"): [
        [
            "{premise}の",
            "{premise}をテーマにした",
            "{premise}が主人公の",
            "{premise}を題材にした",
            "{premise}が出てくる",
        ],
        [
            "物語",
            "短編小説",
            "お話",
            "童話",
            "詩",
            "SF小説",
            "ミステリー",
            "ショートショート",
            "絵本のストーリー",
            "小説",
            "短歌",
            "川柳",
            "ファンタジー",
            "脚本",
        ],
        [
            "を書いて",
            "を作って",
            "を考えて",
            "をお願い",
            "を書いてください",
            "を創作して",
            "が読みたい",
        ],
    ],
    ("code", "en"): [
        [
            "Write ",
            "Implement ",
            "Show me ",
            "Give me ",
            "Can you write ",
            "I need ",
            "Code up ",
            "Create ",
        ],
        [
            "a Python function for ",
            "a JavaScript function for ",
            "Go code for ",
            "a Rust implementation of ",
            "Java code for ",
            "a SQL query for ",
            "a bash script for ",
            "TypeScript code for ",
            "a C++ function for ",
            "a code example of ",
        ],
        ["{prog}"],
    ],
    # General questions are the fallback's home: everyday frames x everyday subjects.
    ("qa", "en"): [
        [
            "How can I ",
            "What's the best way to ",
            "Any tips to ",
            "Is it a good idea to ",
            "Should I ",
            "How long does it take to ",
            "How much does it cost to ",
            "What do I need to ",
            "Where can I learn to ",
        ],
        [
            "get better sleep",
            "save money on groceries",
            "learn to swim as an adult",
            "keep my car running longer",
            "grow basil indoors",
            "plan a trip to Iceland",
            "get rid of ants in the kitchen",
            "pick a good watermelon",
            "stop procrastinating",
            "run a half marathon",
            "repaint a bedroom",
            "make friends in a new city",
            "clean a cast iron pan",
            "choose a bike for commuting",
            "prepare for a job interview",
            "train a puppy",
        ],
        ["?", "", "? any advice?"],
    ],
    ("qa", "ja"): [
        ["", "ちょっと質問。", "教えてほしいんだけど、", "素朴な疑問なんですが、"],
        [
            "よく眠るには",
            "食費を節約するには",
            "大人から泳げるようになるには",
            "車を長持ちさせるには",
            "バジルを室内で育てるには",
            "アイスランド旅行の計画を立てるには",
            "キッチンのアリを退治するには",
            "甘いスイカを選ぶには",
            "先延ばし癖を直すには",
            "ハーフマラソンを走るには",
            "部屋の壁を塗り替えるには",
            "新しい街で友達を作るには",
            "鉄のフライパンの手入れは",
            "通勤用の自転車を選ぶには",
            "子犬のしつけは",
        ],
        [
            "どうすればいい?",
            "何から始めればいい?",
            "コツはある?",
            "どのくらい時間がかかる?",
            "いくらくらいかかる?",
            "何が必要?",
            "どうしたらいいですか?",
        ],
    ],
    ("code", "ja"): [
        [
            "Python",
            "JavaScript",
            "Go",
            "Rust",
            "Java",
            "SQL",
            "シェルスクリプト",
            "TypeScript",
            "C++",
            "Swift",
        ],
        ["で{prog}を"],
        [
            "書いて",
            "実装して",
            "作って",
            "書くには?",
            "実装する方法を教えて",
            "書くサンプルコードちょうだい",
            "書いてみて",
        ],
    ],
}


def phrasebook_templates(k: int = 40) -> None:
    """Add `k` sampled phrase combinations per (task, language) to the training templates."""
    rng = random.Random(f"{SEED}/phrasebook")
    for (task, lang), parts in PHRASEBOOK.items():
        combos: set[str] = set()
        for _ in range(k * 20):
            if len(combos) >= k:
                break
            combos.add("".join(rng.choice(part) for part in parts))
        TEMPLATES[task][lang]["train"].extend(sorted(combos))


phrasebook_templates()


# ---------------------------------------------------------------------------------------------
# Hand-written requests: HAND[task][lang][split]; a string, or (system prompt, string).
# ---------------------------------------------------------------------------------------------
HAND: dict[str, dict[str, dict[str, list[Template]]]] = {}


def hand(
    task: str,
    ja_train: list[Template],
    ja_dev: list[Template],
    en_train: list[Template],
    en_dev: list[Template],
) -> None:
    HAND[task] = {
        "ja": {"train": ja_train, "dev": ja_dev},
        "en": {"train": en_train, "dev": en_dev},
    }


hand(
    "summarize",
    [
        "この前の会議、1時間半もあったのに結論これだけ?って感じだったので議事録を三行にまとめてほしい。\n・A案とB案を比較\n・コストはB案が安い\n・ただしB案は納期が2週間長い\n・次回までに各部署で検討",
        "さっき送ったメールのスレッド長すぎて追えない。誰が何を決めたのかだけまとめて",
        "YouTubeの動画の文字起こし貼るので要点まとめて!\nえーっと、今日はですね、節約術について話したいと思います。まず一つ目は固定費の見直し、二つ目は…",
        "論文のアブストを日本語で3行にまとめてください:We propose a method for routing requests to local language models based on task profiles measured on the user's own machine.",
        "三行で",
        "要約よろ",
        "この長文のtl;drちょうだい",
        "ニュースの要点を箇条書きで3つ",
        "以下のチャットログから決定事項だけ抽出して\n田中: 来週の発表どうする?\n佐藤: 資料は私が作ります\n田中: じゃあ発表は鈴木さんで\n鈴木: 了解です",
        "今読んでる本の第3章、内容が多すぎて頭に入らない。要点を整理してほしい。章の本文はこれ→「人はなぜ習慣を変えられないのか。その答えは脳の報酬系にある…」",
    ],
    [
        "先週の全体会議の録音を文字起こししたんだけど長すぎる。決まったことと宿題だけ抜き出してまとめてくれる?\n部長: 来期の目標は売上1.2倍\n課長: 人員は据え置きで\n部長: 新規顧客は月5社",
        "このSlackのスレッド、流れが速すぎて追いつけない。結局どうなったのか簡潔に教えて",
        "ポッドキャストの書き起こしです。ポイントを3つにまとめてください。\nはい、今回のテーマは朝活です。朝の時間を使うと集中力が…",
        "英語のプレスリリースを日本語で短くまとめて:Acme Corp today announced a partnership with a regional bank to offer instant loans to small businesses.",
        "要約だけして。解説は要らない",
        "今日のニュースまとめて、みたいなときに使う要約機能ってどう頼めばいい?とりあえずこれ要約して→「政府は来年度から児童手当の所得制限を撤廃する方針を固めた。」",
    ],
    [
        "The meeting ran for 90 minutes and I still don't know what we decided. Can you summarize these notes?\n- compared vendor A vs B\n- B cheaper but slower\n- decision deferred to next week",
        "This email thread is 40 messages long. Who decided what? Keep it short.",
        "Here's the transcript of a YouTube video, give me the main points:\nso today we're talking about budgeting, first thing you wanna do is track every expense for a month...",
        "Summarize this abstract in two sentences: We propose a method for routing requests to local language models using per-task profiles measured on the user's own hardware.",
        "tl;dr",
        "summarize",
        "can u summarize this real quick",
        "3 bullet summary of the article below pls",
        "Pull out just the action items from this chat log:\nAnna: I'll do the slides\nBen: I can present\nAnna: cool, deadline is Thursday",
        "I'm reading chapter 3 of a self-help book and it's dense. Give me the key ideas: \"Habits persist because the brain's reward system...\"",
    ],
    [
        "I recorded our all-hands and transcribed it. Way too long. Just give me the decisions and the homework:\nCEO: target is 1.2x revenue\nVP: headcount stays flat",
        "Slack thread moved too fast for me. What was the outcome, briefly?",
        "Podcast transcript below. Three main points please.\nAlright, this week we're talking about morning routines and why they help focus...",
        "Condense this press release into one line: Acme Corp today announced a partnership with a regional bank to offer instant loans to small businesses.",
        "Just the summary, no commentary.",
    ],
)

hand(
    "business_mail",
    [
        "明日の打ち合わせを延期したいんだけど、取引先にどうメールすればいい?理由は社内事情で",
        "上司に有給の申請メールを送りたい。来週の金曜日に休みたい",
        "お客様からのクレームに対するお詫びメールを作成してください。商品の配送が3日遅れました。",
        "「資料ありがとうございました。確認して来週中にお返事します」って内容をビジネスメールにして",
        "取引先の佐藤様宛に、新商品の案内メールを書いてください。来月発売のスマートウォッチです。",
        "メモ:先方に値上げ伝える、4月から5%、理由は原材料費高騰\nこれで取引先向けのメール作って",
        "転職先の会社に入社日の調整メールを送りたい。4月1日ではなく4月15日にしてほしい",
        "社外の人に初めてメールを送るときの書き出しと締めを含めて、打ち合わせ依頼のメールを作って",
        "先日はありがとうございました的なお礼メール、展示会でブースに来てくれた人向けに",
        "課長に出張報告のメールを書きたい。大阪の取引先2社を訪問、受注見込みあり",
    ],
    [
        "取引先の担当者が変わったので、新しい担当の方に挨拶メールを送りたい。文面をお願いできますか",
        "部下のミスで発注漏れがあった。お客様への謝罪メールを作りたい。再発防止策も入れて",
        "「見積書を添付します。ご不明点があればお知らせください」をちゃんとしたメールの形にして",
        "来月の勉強会の講師を社外の先生にお願いするメールを書いて。謝礼は3万円",
        "メモ→ 先方の請求書、宛名の社名が間違ってる。再発行をお願いしたい\nこれを丁寧なメールにして",
    ],
    [
        "I need to postpone tomorrow's meeting with a client. How should I word the email? Reason: internal scheduling conflict",
        "Write an email to my manager asking for next Friday off.",
        "Please draft an apology email to a customer whose order arrived 3 days late.",
        'turn "thanks for the docs, I\'ll review and get back to you next week" into a proper business email',
        "Write an email to Mr. Sato at our partner company introducing our new smartwatch launching next month.",
        "notes: tell the client prices go up 5% from April, reason is raw material costs. write the email",
        "Email to my new employer asking to move my start date from April 1 to April 15.",
        "write a meeting request email to someone I've never contacted before, with a proper greeting and sign-off",
        "thank-you email for people who visited our booth at the expo",
        "Email my boss a short trip report: visited two clients in Osaka, one likely to order.",
    ],
    [
        "Our contact at the supplier changed. Write a short intro email to the new person.",
        "We missed an order because of an internal mistake. Draft an apology email to the customer, including how we'll prevent it.",
        'Make "attached is the quote, let me know if you have questions" into a polished email.',
        "Write an email inviting an outside expert to speak at our study session next month; honorarium is $300.",
        "notes -> their invoice has our company name wrong, need a reissue. make it a polite email",
    ],
)

hand(
    "story",
    [
        "祖母と父の恋を描いた短い物語を書いて。ちょっと切ない感じで",
        "小学生の娘が寝る前にお話して!って言うので、ドラゴンとパン屋さんのお話を作って",
        "オリジナルの異世界転生ものの冒頭を書いてほしい。主人公は社畜のSE",
        "「マジやばくない?」が口癖の女子高生が主人公の青春小説を書いて",
        "猫視点で飼い主の一日を描くエッセイ風の物語",
        "TRPGのシナリオのあらすじと導入を作って。舞台は霧の港町",
        "夏をテーマにした短い詩を書いてほしい",
        "クリスマスに読む心温まる短編を書いて",
    ],
    [
        "娘が「うさぎとロケットのお話して」ってせがむので、5分で読めるお話を書いてください",
        "社会人一年目の主人公が、満員電車で不思議な老人に出会う短編を書いて",
        "秋の夕暮れをテーマにした詩をお願い",
        "ミステリー小説のトリックと冒頭シーンを考えて。舞台は雪山のペンション",
        "ゲームのNPCが自我に目覚める話を書いてほしい",
    ],
    [
        "Write a short, bittersweet story about my grandparents falling in love.",
        "My 6-year-old wants a bedtime story about a dragon who runs a bakery. Can you make one up?",
        "Write the opening of an isekai novel where the hero is an overworked software engineer.",
        'Write a coming-of-age story about a high school girl who says "literally" every sentence.',
        "A day in the life of a house cat, told from the cat's point of view",
        "Create a tabletop RPG adventure hook set in a foggy harbor town.",
        "write me a short poem about summer",
        "A heartwarming short story to read on Christmas Eve, please.",
    ],
    [
        "My kid keeps asking for a story about a bunny who builds a rocket. Something I can read in 5 minutes?",
        "Write a short story where a first-year office worker meets a mysterious old man on a crowded train.",
        "A poem about autumn evenings, please.",
        "Come up with a locked-room mystery set in a snowed-in mountain lodge, and write the opening scene.",
        "Write a story about a video game NPC who becomes self-aware.",
    ],
)

hand(
    "explain_simple",
    [
        "パスワードがハッシュ化されて保存される理由を、子供にもわかるように説明してください",
        "小5の息子に「なんで空は青いの?」って聞かれて答えられなかった。わかりやすく教えて",
        "ITに詳しくない親に、Wi-Fiとは何かを説明したい。やさしい言葉で",
        "株って何?ってレベルなので、ほんとに基礎からやさしく",
        "AIって何なの?専門用語なしで、おばあちゃんでもわかるように教えて",
        "小学生にもわかるように",
        "ELI5",
        "中学生にもわかるように、LLMがどうやって文章を作ってるのか説明して",
    ],
    [
        "うちの子(6歳)に、なんで夜になると暗くなるのか説明したい。どう話せばいい?",
        "パソコン苦手な父に、クラウドに写真を保存するってどういうことか伝えたい。簡単な言い方ある?",
        "投資ってよくわからないので、幼稚園児に話すくらいの感じで教えて",
        "ChatGPTみたいなAIの仕組みを、専門知識ゼロの人向けに",
        "子供でもわかるように言うと?",
    ],
    [
        "Explain why passwords are stored hashed, in a way a child could understand.",
        "My 10-year-old asked why the sky is blue and I couldn't answer. Help me explain it simply.",
        "I want to explain what Wi-Fi is to my parents who aren't tech-savvy. Keep it simple.",
        "I literally don't know what a stock is. Explain from zero, super simple.",
        "What is AI? No jargon, explain like you're talking to my grandma.",
        "ELI5",
        "explain like I'm 5",
        "Explain how LLMs write text so a middle schooler could follow.",
    ],
    [
        "How do I explain to my 6-year-old why it gets dark at night?",
        "My dad is bad with computers. What's a simple way to tell him what saving photos to the cloud means?",
        "Investing confuses me. Explain it like you'd explain it to a preschooler.",
        "How does a chatbot like ChatGPT work? Assume I know nothing about tech.",
        "say it in words a kid would understand",
    ],
)

hand(
    "style_rewrite",
    [
        "「マジやばくない?」ってギャル語、普通の敬語にするとどうなる?",
        "とりま、明日の会議の資料をギャル語で書き直して。「明日の会議では新製品の売上目標について議論します」",
        "彼氏へのLINE、ちょっとキツい言い方になってるから柔らかくして「なんで返信くれないの?」",
        "この文章をもっと子供っぽい口調にして:本日は晴天なり",
        "会社の朝礼スピーチを関西弁でおもしろくしてほしい",
        "ギャル語で",
        "関西弁にして",
        "このツイート、もっとバズりそうなノリに書き換えて:新しいカフェに行きました。美味しかったです。",
        "敬語がおかしくないか直して、丁寧な言い方に書き換えて:了解しました、後で見ておきます",
    ],
    [
        "「ぴえん」とか「ガチ勢」とか使って、今日の天気予報の文章を若者っぽく書き直して",
        "友達へのメッセージ、冷たく見えるからもう少し優しい言い回しにして「別にいいけど」",
        "このキャッチコピーをお嬢様言葉にして:毎日使える便利なバッグ",
        "自己紹介文を江戸っ子口調に変えて:はじめまして、趣味は釣りです",
        "ギャル語から普通の言葉に戻して",
    ],
    [
        'what would "this is so cool" sound like in Gen Z slang? rewrite it',
        'Rewrite my meeting announcement in Gen Z slang: "Tomorrow\'s meeting will cover Q3 sales targets."',
        'my text to my bf sounds harsh, make it softer: "why aren\'t you replying?"',
        "make this sound like a kid said it: Today the weather is fine.",
        "Rewrite my team standup intro as a pirate would say it.",
        "make it sound more professional",
        "rewrite in a casual tone",
        'Rewrite this tweet so it sounds more hype: "Went to a new cafe. It was good."',
        'fix the tone of this, too blunt: "Noted. Will look later."',
    ],
    [
        'Rewrite today\'s weather forecast in Gen Z slang, use words like "slay" and "vibe".',
        'This message to my friend sounds cold, reword it to be warmer: "whatever, fine"',
        "Rewrite this tagline as a posh aristocrat would say it: A handy bag for every day",
        "Rewrite my self-intro like a Wild West cowboy: Hi, I'm Sam, I like fishing.",
        "turn the slang back into normal English",
    ],
)

hand(
    "translate",
    [
        "「とりま」って英語でなんて言えばいい?ニュアンスも含めて訳して",
        "英訳して",
        "和訳して",
        "この英文メールを日本語に訳してください。Thank you for your prompt reply. We will ship the item tomorrow.",
        "海外のお客さんに「少々お待ちください」って伝えたい。英語で何て言う?",
        "I'm Japanese. Please translate the following into natural Japanese: The quick brown fox jumps over the lazy dog.",
        "韓国語に翻訳して:いつもありがとう",
        "このエラーメッセージ日本語にして:Permission denied",
        "「いただきます」を英語で自然に言うとしたら?",
        "中国語(簡体字)で「駅はどこですか」",
    ],
    [
        "「よろしくお願いします」ってフランス語でどう言う?",
        "イタリア語にしてほしい:美味しかったです、ありがとう",
        "この歌詞を英語に訳してみて:君の笑顔が僕の太陽",
        "英文和訳お願い:Please find attached the revised schedule for next week.",
        "Googleの翻訳だと不自然なので、自然な英語にして:お疲れ様です",
    ],
    [
        'How would you translate "torima" (Japanese slang) into English, with the nuance?',
        "translate to English",
        "translate into Japanese",
        "Translate this Japanese email for me: ご返信ありがとうございます。明日発送いたします。",
        'How do I say "please wait a moment" in Japanese to a customer?',
        "in French",
        "Translate into natural German: The meeting has been moved to Thursday.",
        'what does "itadakimasu" mean in English? translate it',
        "Korean translation please: thank you as always",
        "Put this into Spanish: Where is the train station?",
    ],
    [
        'How do you say "yoroshiku onegaishimasu" in English naturally?',
        "Italian please: That was delicious, thank you.",
        "Translate these song lyrics into Japanese: your smile is my sunshine",
        "Japanese to English please: 来週の改訂版スケジュールを添付します。",
        "Machine translation sounds stiff. Give me a natural English version of お疲れ様です.",
    ],
)

hand(
    "code",
    [
        "Pythonのリストとタプルの違いは?",
        "gitで直前のコミットを取り消す方法",
        "ReactのuseEffectが2回呼ばれるのはなぜ?",
        "dockerでポートがすでに使われてるって言われる。どうすれば?",
        "正規表現でメールアドレスにマッチさせたい",
        "VSCodeでPythonの仮想環境を選ぶには?",
        "この関数、O(n^2)になってる気がする。改善方法ある?",
        "```python\nimport numpy as np\nx = np.array([1,2,3])\nprint(x.shape[1])\n```\nIndexErrorが出ます",
        "pip install したら error: externally-managed-environment って出た",
        "SQLでLEFT JOINとINNER JOINの違いを例で",
        "LM StudioのAPIをPythonから叩くコード書いて",
        "MLXでモデルを読み込むサンプルコード",
    ],
    [
        "git rebaseとmergeってどう使い分けるの?",
        "Pythonのasync/awaitがよく分からない。サンプルで教えて",
        "Dockerfileのビルドが毎回遅い。キャッシュを効かせるには?",
        "TypeScriptでanyを使わずに書く方法",
        "Kubernetesのpodがずっと CrashLoopBackOff なんだけど何を確認すればいい?",
    ],
    [
        "What's the difference between a list and a tuple in Python?",
        "how do I undo my last git commit",
        "Why does useEffect run twice in React?",
        "docker says port is already allocated, what do I do",
        "regex to match an email address",
        "How do I select a Python venv in VS Code?",
        "I think this function is O(n^2). How can I speed it up?",
        "```python\nimport numpy as np\nx = np.array([1,2,3])\nprint(x.shape[1])\n```\ngetting an IndexError",
        "pip install fails with error: externally-managed-environment",
        "Explain LEFT JOIN vs INNER JOIN with an example",
        "Write Python code that calls the LM Studio API",
        "sample code to load a model with MLX",
    ],
    [
        "When should I use git rebase instead of merge?",
        "I don't get async/await in Python. Show me with an example.",
        "My Docker builds are slow every time. How do I make the layer cache work?",
        "How do I avoid `any` in TypeScript?",
        "My Kubernetes pod is stuck in CrashLoopBackOff, what should I check?",
    ],
)

hand(
    "qa",
    [
        "おすすめの東京の観光地を教えて",
        "今日の夕飯、何にしようか迷ってる。何かアイデアある?",
        "富士山の高さは何メートル?",
        "ダイエットに効果的な運動は?",
        "iPhoneとAndroidどっちがいい?",
        "転職するべきか悩んでいます。どう思いますか?",
        "織田信長が亡くなったのはいつ?",
        "猫と犬、飼うならどっちがいい?",
        "新幹線で東京から大阪まで何時間?",
        "英語の勉強法でおすすめはある?",
        "確定申告っていつまで?",
        "地球から月までの距離は?",
        "世界で一番長い川はどこ?",
        "部屋の湿気を取る方法を教えて",
        "こんにちは",
        "ありがとう、助かった!",
        "LM Studioでおすすめのモデルは?",
        "24GBのMacでどのくらいのサイズのLLMが動く?",
        "白ワインに合う料理は?",
        "風邪のときは何を食べるといい?",
        "ノーベル賞を受賞した日本人を何人か挙げて",
        "北海道旅行、何月がベスト?",
        "ピアノを大人から始めるのは遅い?",
        "水は1日どれくらい飲むべき?",
        "クレジットカードの選び方を教えて",
        "在宅勤務で集中するコツは?",
        "人生の意味って何だと思う?",
        "12×15は?",
        "ドラゴンボールの作者は誰?",
        "オリンピックは何年ごとに開催される?",
        "洗濯物を早く乾かす方法",
        "コーヒーと紅茶、どっちがカフェイン多い?",
        "面接でよく聞かれる質問は?",
        "時差ボケを治す方法ある?",
        "賃貸と持ち家、どっちが得?",
        "初めての一人暮らしで必要なものリスト",
        "gemma-3-12bとqwen3-vl-8bどっちが賢い?",
        "明日の東京の天気は?",
        "おすすめのSF映画ある?",
        "ねえ、暇なんだけど何かしゃべろう",
    ],
    [
        "沖縄で絶対行くべき場所はどこ?",
        "日本で一番高いビルは?",
        "朝型になるにはどうすればいい?",
        "ワンルームで観葉植物を育てるコツは?",
        "徳川家康ってどんな人?",
        "新NISAって始めたほうがいい?",
        "週末に家族で楽しめる遊びを提案して",
        "カレーを美味しくする隠し味ある?",
        "運転免許の更新って何が必要?",
        "おはよう!今日もよろしく",
        "エベレストの標高は?",
        "肩こりを軽くするストレッチある?",
        "ローカルLLMとクラウドのAI、どっちを使うべき?",
        "17の二乗はいくつ?",
        "大阪で安くて美味しいお好み焼き屋知ってる?",
    ],
    [
        "What's the capital of Australia?",
        "Any tips for falling asleep faster?",
        "What should I make for dinner tonight?",
        "How tall is Mount Fuji?",
        "What are good exercises for losing weight?",
        "iPhone or Android?",
        "Should I quit my job to start a business?",
        "When did World War II end?",
        "How many ounces in a cup?",
        "Cats or dogs?",
        "How long is the flight from New York to London?",
        "What's a good way to learn Spanish?",
        "When is the tax filing deadline in the US?",
        "How far away is the moon?",
        "Recommend some good sci-fi books",
        "What's the longest river in the world?",
        "How do I get rid of mold in the bathroom?",
        "hi",
        "thanks, that helped!",
        "Which local LLM runs best on a 24GB Mac?",
        "What wine goes with salmon?",
        "What should I eat when I have a cold?",
        "Name some famous Renaissance painters.",
        "Best time of year to visit Japan?",
        "Is it too late to learn piano at 40?",
        "How much water should I drink a day?",
        "How do I choose a credit card?",
        "Tips for staying focused when working from home?",
        "What is the meaning of life?",
        "what's 17 times 23",
        "Who wrote Pride and Prejudice?",
        "How often are the Olympics held?",
        "How do I dry laundry faster indoors?",
        "Does tea have more caffeine than coffee?",
        "Common interview questions?",
        "How do I beat jet lag?",
        "Is it better to rent or buy a house?",
        "Checklist for moving into my first apartment",
        "What's the difference between a crocodile and an alligator?",
        "is gemma-3-12b smarter than qwen3-vl-8b?",
    ],
    [
        "What are the must-see places in Hawaii?",
        "What's the tallest building in the world?",
        "How can I become a morning person?",
        "How do I keep houseplants alive in a small apartment?",
        "Who was Abraham Lincoln?",
        "Should I open a Roth IRA?",
        "Suggest some fun weekend activities for a family.",
        "Any secret ingredient to make chili taste better?",
        "What do I need to renew my driver's license?",
        "good morning!",
        "How high is Mount Everest?",
        "Stretches for a stiff neck?",
        "Should I run LLMs locally or use a cloud API?",
        "what's 19 squared",
        "Where can I find cheap good pizza in Chicago?",
    ],
)


def more_hand(task: str, ja: list[Template], en: list[Template]) -> None:
    HAND[task]["ja"]["train"].extend(ja)
    HAND[task]["en"]["train"].extend(en)


more_hand(
    "code",
    [
        "nginxでリバースプロキシを設定する方法",
        "kubectlでpodのログを見るコマンドは?",
        "AWSのS3にファイルをアップロードするPythonコード",
        "pandasでgroupbyした結果を平均したい",
        "Homebrewで入れたPythonのバージョンを切り替えたい",
        "SSHの鍵ってどうやって作るの?",
        "CORSエラーが出て API が叩けない",
        "Next.jsとNuxt、どっちを使うべき?",
        "venvとcondaの違いって何?",
        "GitHub Actionsでテストを自動実行したい",
        "Macでポート8080を使ってるプロセスを調べるには",
        "JSONをパースしてCSVに変換したい",
        "Pythonで型ヒントを使う意味ある?",
        "SQLiteとPostgreSQL、個人開発ならどっち?",
        "Rustの所有権がよくわからない",
        "MLXでLLMを動かすときのメモリ使用量を減らしたい",
        "OpenAI互換のAPIにcurlでリクエストする例",
        "cronで毎朝9時にスクリプトを実行したい",
        "docker compose up で DB に繋がらない",
        "TypeError: 'NoneType' object is not subscriptable ってどういう意味?",
    ],
    [
        "How do I set up nginx as a reverse proxy?",
        "kubectl command to see pod logs?",
        "Python code to upload a file to S3",
        "pandas: average after groupby?",
        "How do I switch Python versions installed with Homebrew?",
        "How do I create an SSH key?",
        "getting a CORS error when calling my API",
        "Next.js or Nuxt?",
        "venv vs conda?",
        "Run tests automatically with GitHub Actions",
        "How do I find which process is using port 8080 on a Mac?",
        "convert JSON to CSV in Python",
        "Are Python type hints worth it?",
        "SQLite or Postgres for a side project?",
        "I don't understand Rust ownership",
        "reduce memory use when running an LLM with MLX",
        "example curl request to an OpenAI-compatible API",
        "run a script every morning at 9 with cron",
        "docker compose up can't reach the database",
        "what does TypeError: 'NoneType' object is not subscriptable mean",
    ],
)

more_hand(
    "qa",
    [
        "最近話題の本でおすすめある?",
        "梅雨の時期に洗濯物が臭くならない方法は?",
        "日本で一番大きい湖は?",
        "引っ越しの手続きって何が必要?",
        "ノートパソコン買うならMacとWindowsどっち?",
        "東京から日帰りで行ける温泉ある?",
        "プレゼンで緊張しないコツは?",
        "子供の習い事、何がいい?",
        "犬の散歩は1日何回がいいの?",
        "鎌倉幕府ができたのは何年?",
        "フランスの首都は?",
        "お米の美味しい炊き方を教えて",
        "結婚式のご祝儀っていくら包めばいい?",
        "メモリ24GBのMacで画像生成AIは動く?",
        "LLMのパラメータ数が多いほど賢いの?",
        "睡眠時間は何時間が理想?",
        "電気代を節約する方法ある?",
        "円周率って何桁まで分かってるの?",
        "今年のノーベル平和賞は誰?",
        "日本の人口は何人?",
        "ふぅ、今日も疲れた",
        "元気?",
        "君の名前は?",
    ],
    [
        "Any good books that came out recently?",
        "How do I stop laundry from smelling musty?",
        "What's the largest lake in Japan?",
        "What paperwork do I need when moving?",
        "Mac or Windows laptop?",
        "Any hot springs near Tokyo for a day trip?",
        "How do I not get nervous during a presentation?",
        "What after-school activities are good for kids?",
        "How many times a day should I walk my dog?",
        "When did the Roman Empire fall?",
        "What's the capital of France?",
        "How do I cook rice properly?",
        "How much should I give as a wedding gift?",
        "Can a 24GB Mac run image generation models?",
        "Are LLMs with more parameters always smarter?",
        "How many hours of sleep is ideal?",
        "How can I lower my electricity bill?",
        "How many digits of pi do we know?",
        "Who won the Nobel Peace Prize this year?",
        "What's the population of Japan?",
        "ugh, long day",
        "how are you?",
        "what's your name?",
    ],
)

more_hand(
    "explain_simple",
    [
        "インターネットの仕組みを、小学生の甥っ子に話すつもりでやさしく教えて",
        "円安ってニュースでよく聞くけど、素人にもわかるように教えて",
        "税金って何のためにあるの?子供に聞かれたので簡単な言葉で",
        "電気自動車の仕組み、ITとか詳しくない人向けにざっくり",
        "物理が苦手な高校生向けに、重力をやさしく説明して",
        "お金の仕組みを、おこづかいに例えて子供に説明して",
        "初心者なので、ローカルLLMって何かを簡単に教えてください",
        "量子力学を一般人向けにかみ砕いて",
        "遺伝子の話、専門用語抜きで教えて",
        "ハッシュ関数をたとえ話でやさしく説明して",
    ],
    [
        "Explain how the internet works like you're talking to my 8-year-old nephew.",
        "I keep hearing about a weak yen. Explain it for a total layperson.",
        "Why do we pay taxes? My kid asked. Simple words please.",
        "How do electric cars work? I'm not technical, keep it basic.",
        "Explain gravity to a high schooler who hates physics.",
        "Explain how money works to a child using pocket money as the example.",
        "I'm new to this: what's a local LLM, in simple terms?",
        "quantum mechanics for the average person, please",
        "genes, explained without the jargon",
        "Use an analogy to explain a hash function simply.",
    ],
)

more_hand(
    "style_rewrite",
    [
        "「お疲れ様です。本日の会議資料を共有します」をギャル語にすると?",
        "マジやばくない?を丁寧語で言い換えて",
        "このLINE、堅すぎるからもっとゆるく:承知いたしました。後ほど確認いたします。",
        "店のメニュー紹介をお嬢様言葉でやって:当店自慢のハンバーグです",
        "上司に送る文をもっと丁寧にしたい「これやっといてください」",
    ],
    [
        'Rewrite "Please find the meeting materials attached" in Gen Z slang.',
        'say "this is insane" in a more polite way',
        "this text is too stiff, loosen it up: Acknowledged. I will review it later.",
        "Rewrite our menu blurb like a posh lady would: Our famous hamburger steak.",
        'make this sound nicer before I send it to my boss: "do this"',
    ],
)

more_hand(
    "translate",
    [
        "この英文を訳して→ I'm looking forward to working with you.",
        "「お疲れ様」って英語にできる?",
        "台湾の友達に送る、中国語に翻訳して:また会おうね",
        "スペイン語で「乾杯」",
        "Thank youを色んな言語で",
        "英訳お願いします:本日はお越しいただきありがとうございました",
    ],
    [
        "translate this Japanese for me → よろしくお願いします",
        'Is there an English equivalent of "otsukaresama"? translate it',
        "Translate to Traditional Chinese for my friend in Taiwan: see you again soon",
        "How do you say cheers in Spanish?",
        '"thank you" in a bunch of languages',
        "Please translate into Japanese: Thank you for visiting us today.",
    ],
)


more_hand(
    "summarize",
    [
        "インタビュー記事の文字起こしです。話の要点だけ教えて\nQ: 起業のきっかけは?\nA: 大学時代に友人と…",
        "プレスリリース貼ります。一文でまとめて:当社は本日、新サービスの提供を開始しました。",
        "このスレッド、結局どうなったの?手短に",
        "決定事項とTODOだけ拾って",
        "長いレポートなので、エグゼクティブサマリーを書いて",
        "今日の授業のノート、復習用に短くまとめたい\n・産業革命はイギリスから\n・蒸気機関の改良\n・工場制機械工業",
        "このブログ記事、要点を3行で。URLじゃなくて本文貼ります→ 最近、朝5時に起きる生活を始めて1か月が経ちました…",
        "あとで読む時間ないから、このニュースの中身をさくっと教えて",
    ],
    [
        "Here's an interview transcript. What are the key points?\nQ: Why did you start the company?\nA: Back in college...",
        "One-sentence version of this press release: We are excited to announce the launch of our new service today.",
        "What was the outcome of this thread? Briefly.",
        "Pull out the decisions and the to-dos only.",
        "This report is long. Write an executive summary.",
        "Turn my lecture notes into a short review sheet:\n- industrial revolution began in Britain\n- steam engine improvements",
        "Give me the 3-line version of this blog post: It's been a month since I started waking up at 5am...",
        "I don't have time to read this news piece, what's in it?",
        "Condense the following into the main decisions and owners:\nAnna owns slides, Ben presents",
        "podcast notes are too long, trim them down to the essentials",
        "what were the highlights of this meeting transcript?",
        "Shorten the following paragraph to a single sentence.",
    ],
)

more_hand(
    "style_rewrite",
    [
        "「承知しました」をもっとフレンドリーに言うと?",
        "この文章、怒ってるみたいに見えるから優しい雰囲気にして:至急対応してください",
        "自己紹介を中二病っぽくして:山田です。趣味は読書です",
        "ツイートを関西のおばちゃん風に:今日は暑いですね",
        "この説明文、硬すぎるのでブログっぽいくだけた文体にして",
        "「マジ卍」みたいな言葉、今の若者言葉に置き換えて書き直して",
    ],
    [
        'How would a pirate phrase "please be on time"?',
        'What would a cowboy say instead of "let\'s go home"? rewrite it',
        'Make this sound like a Shakespeare play: "I miss you"',
        'reword this so it doesn\'t sound passive-aggressive: "as per my last email"',
        'My message sounds angry. Make it gentler: "Fix this now."',
        "rewrite my bio in a sarcastic tone: I'm Sam and I like reading",
        "Make this product description sound more fun and casual",
        "Turn this formal notice into a chill, casual message",
        "convert this to teen texting style: are you coming to the party tonight",
        "Write this line the way a noir detective would narrate it: The office was empty.",
    ],
)

more_hand(
    "explain_simple",
    [
        "NFTってよく聞くけど、全然わからない。中学生でも理解できるように",
        "ブロックチェーン、5歳でもわかるように",
        "難しいことは抜きにして、インフレって結局なに?",
        "子供向けに、なぜ海はしょっぱいのか説明するなら?",
    ],
    [
        "NFTs make no sense to me. Explain like I'm in middle school.",
        "blockchain but explain it like I'm five",
        "Skip the technical stuff. What is inflation really?",
        "How would I explain to a kid why the sea is salty?",
        "Explain what an API is to someone who has never coded, with a simple example.",
        "What is machine learning? Dumb version please.",
        "kid-level explanation of why we need sleep",
        "Explain it like I'm a total newbie: what's a VPN?",
    ],
)

more_hand(
    "story",
    [
        "文化祭で演じる10分の劇の台本を書いて。テーマは友情",
        "推しキャラが主人公の二次創作っぽい短編を書いて(オリジナルキャラで)",
        "就活に疲れた大学生が主人公の短いエッセイ風物語",
        "AIが恋をする話が読みたい",
    ],
    [
        "Write a 10-minute play script for a school festival, theme: friendship.",
        "I want a story about an AI that falls in love.",
        "Write a short fanfic-style story with original characters set in a magic academy.",
        "Write a limerick about my cat knocking things off the table.",
        "Make up a ghost story for a sleepover.",
        "Write a story in second person about waking up on Mars.",
    ],
)

more_hand(
    "code",
    [
        "このエラーどうすればいい?ModuleNotFoundError: No module named 'numpy'",
        "Pythonでファイルを1行ずつ読むには?",
        "JavaScriptのmapとforEachの違い",
        "正規表現で郵便番号にマッチさせる書き方",
    ],
    [
        "ModuleNotFoundError: No module named 'numpy' - how do I fix it?",
        "How do I read a file line by line in Python?",
        "map vs forEach in JavaScript?",
        "regex for a US zip code",
        "Why is my React component re-rendering so much?",
        "How do I make my Docker image smaller?",
        "What's the best way to handle secrets in a Kubernetes deployment?",
        "How do I squash commits in git?",
        "what's the difference between == and === in JS",
    ],
)

more_hand(
    "qa",
    [
        "家族で行ける週末のお出かけスポットある?",
        "腰痛に効くストレッチ教えて",
        "株と投資信託、初心者はどっちがいい?",
    ],
    [
        "What are some fun things to do with kids this weekend?",
        "Any stretches for lower back pain?",
        "Stocks or index funds for a beginner?",
        "What's a good gift for a coworker who's leaving?",
        "Is it worth buying an electric car in 2026?",
        "What's the best way to store fresh herbs?",
        "Can you recommend a podcast about history?",
        "How do I negotiate a higher salary?",
    ],
)

more_hand(
    "translate",
    [
        "旅行先のタイで使いたいので「トイレはどこですか」をタイ語で",
        "この中国語、意味わかる?日本語にして:谢谢你的帮助",
    ],
    [
        'I\'m going to Thailand, how do I say "where is the bathroom" in Thai?',
        "What does this Chinese mean in English? 谢谢你的帮助",
        "translate my message into Korean: happy birthday!",
        "Put this sentence into Portuguese please: I'll call you tomorrow.",
        "Can you translate this Spanish? ¿Dónde está la estación?",
        "German translation of: The package arrived damaged.",
    ],
)

more_hand(
    "business_mail",
    [
        "社長宛てに、プロジェクト完了の報告メールを書いて",
        "お客様からの問い合わせに返信するメール:在庫は来週入荷予定",
    ],
    [
        "Write a project completion report email to our CEO.",
        "Reply to a customer inquiry by email: the item will be back in stock next week.",
        "Write a polite email declining a vendor's proposal.",
        "Email a client to confirm the meeting agenda for Thursday.",
        "Draft a message to a partner company asking for an extension on the deadline.",
        "I need to email a customer that their refund was processed. Keep it professional.",
    ],
)


# ---------------------------------------------------------------------------------------------
# The blind held-out set. Written after the model was designed against `dev`, with its own
# templates, subjects and hand-written requests; never used to tune anything.
# ---------------------------------------------------------------------------------------------
def held(slot: str, ja: list[str], en: list[str]) -> None:
    SLOTS.setdefault(slot, {"ja": {}, "en": {}})
    SLOTS[slot]["ja"]["heldout"], SLOTS[slot]["en"]["heldout"] = ja, en


held(
    "m",
    [
        "区営プールは今年の夏、老朽化したろ過装置の交換工事のため7月いっぱい閉鎖される。8月からは夜間営業も始まり、仕事帰りの社会人も利用しやすくなる予定だ。",
        "先月から始めた家庭菜園、ミニトマトは毎日収穫できるほど育ったけど、きゅうりはうどんこ病にやられて全滅。来年は風通しを良くして再挑戦したい。",
        "オンライン診療の利用が広がっている。通院の負担が減る一方で、対面でなければわからない症状の見落としを懸念する医師も多い。",
        "【打ち合わせメモ】\n・展示会ブースのレイアウト確定\n・配布用チラシ2000部を発注\n・当日のシフトは営業部4名で回す\n・予算超過分は次月で調整",
        "電動キックボードのシェアサービスが都心で急増している。手軽な移動手段として人気だが、歩道走行や放置による事故・苦情も増えており、ルールの周知が課題となっている。",
        "週末に初めてボルダリングジムに行った。思ったより腕がパンパンになって、3本目で握力がなくなった。でも一つ課題をクリアできたときの達成感はすごかった。",
    ],
    [
        "The public pool will close for all of July while its aging filtration system is replaced. From August it will open in the evenings too, making it easier for people to swim after work.",
        "Started a vegetable garden last month. The cherry tomatoes are going wild, but powdery mildew wiped out every cucumber. Next year I'll space the plants out more for airflow.",
        "Telehealth visits are becoming common. They save patients a trip, but many doctors worry that some symptoms are easy to miss without an in-person exam.",
        "Booth prep notes:\n- layout finalized\n- ordered 2,000 flyers\n- four sales reps will staff the booth in shifts\n- any budget overrun gets absorbed next month",
        "Shared e-scooters have exploded in the city center. Riders love them, but complaints about sidewalk riding and scooters dumped on corners keep piling up.",
        "Tried a bouldering gym for the first time this weekend. My forearms were toast by the third climb, but topping out on one problem felt amazing.",
    ],
)
held(
    "note",
    [
        "来週の出張、日程が1日延びることになった。ホテルの延泊手配お願いしたい",
        "先方から値引き要請あり。5%までなら対応可",
        "新しい担当者の紹介、来月から鈴木が引き継ぎ",
        "システムメンテで明日22時〜翌2時まで停止",
    ],
    [
        "business trip extended by one day, need the hotel booking extended",
        "client asked for a discount, we can go up to 5%",
        "introducing Suzuki as the new contact from next month",
        "system maintenance tomorrow 10pm-2am, service down",
    ],
)
_TEST_CODE = [
    "def fizzbuzz(n):\n    for i in range(n):\n        if i % 3 == 0: print('Fizz')\n        elif i % 5 == 0: print('Buzz')\n        elif i % 15 == 0: print('FizzBuzz')",
    "SELECT * FROM users WHERE created_at > '2024-01-01' ORDER BY name LIMIT 10 OFFSET -1;",
    "const total = items.reduce((sum, x) => sum + x.price);",
    "x = input('age: ')\nif x > 18:\n    print('adult')",
]
_TEST_TRACE = [
    "Traceback (most recent call last):\n  File \"main.py\", line 3, in <module>\n    if x > 18:\nTypeError: '>' not supported between instances of 'str' and 'int'",
    "TypeError: Reduce of empty array with no initial value\n    at Array.reduce (<anonymous>)\n    at cart.js:12:23",
    "ERROR 1064 (42000): You have an error in your SQL syntax; check the manual near 'OFFSET -1' at line 1",
]
held("code", _TEST_CODE, _TEST_CODE)
held("trace", _TEST_TRACE, _TEST_TRACE)
held(
    "s",
    [
        "明日の朝ごはんはパンにしよう",
        "レポートの締め切りを延ばしてもらえませんか",
        "駐車場がいっぱいで入れませんでした",
        "この映画、思ったより面白かった",
    ],
    [
        "Let's have bread for breakfast tomorrow.",
        "Could I get an extension on the report deadline?",
        "The parking lot was full so I couldn't get in.",
        "This movie was better than I expected.",
    ],
)
held(
    "slang",
    ["この服エモすぎてしんどい、即買いした", "それガチ草なんだけど"],
    ["this song slaps, on repeat fr", "lowkey obsessed with this cafe ngl"],
)
held(
    "style",
    ["ギャル語", "京都弁", "丁寧語", "オネエ口調", "昭和のアイドル風"],
    ["Gen Z slang", "formal", "overly enthusiastic", "corporate"],
)
held("persona", [], ["pirate captain", "wizard", "used-car salesman", "sports announcer"])
held(
    "lang",
    ["英語", "フランス語", "韓国語", "スペイン語", "ドイツ語"],
    ["Japanese", "French", "Spanish", "German", "Korean"],
)
held(
    "book",
    ["ノルウェイの森", "吾輩は猫である", "アナと雪の女王"],
    ["1984", "To Kill a Mockingbird", "Frozen"],
)
held(
    "mailtopic",
    [
        "出張日程の延長",
        "値引きのご相談",
        "担当者変更のご連絡",
        "システムメンテナンスのお知らせ",
        "サンプル送付のお願い",
    ],
    [
        "extending a business trip",
        "a discount request",
        "a change of contact person",
        "scheduled system maintenance",
        "requesting product samples",
    ],
)
held(
    "premise",
    [
        "空を飛べなくなったペンギン",
        "毎晩同じ夢を見る少年",
        "宇宙人が営むラーメン屋",
        "失くした手袋の片方の旅",
        "最後の恐竜と小さな女の子",
    ],
    [
        "a penguin who forgot how to fly",
        "a boy who has the same dream every night",
        "a ramen shop run by aliens",
        "the journey of a lost glove",
        "the last dinosaur and a little girl",
    ],
)
held(
    "opening",
    ["「目覚まし時計が、三日続けて午前三時に鳴った。」"],
    ['"The alarm clock rang at 3 a.m. three nights in a row."'],
)
held(
    "concept",
    [
        "円周率",
        "ビッグバン",
        "酸性雨",
        "不動産投資",
        "ニュートリノ",
        "電池の仕組み",
        "為替介入",
        "ウイルスと細菌の違い",
        "ディープラーニング",
        "蜃気楼",
        "オーロラ",
    ],
    [
        "pi",
        "the Big Bang",
        "acid rain",
        "real estate investing",
        "neutrinos",
        "how batteries work",
        "currency intervention",
        "the difference between viruses and bacteria",
        "deep learning",
        "mirages",
        "the northern lights",
    ],
)
held(
    "prog",
    [
        "CSVの列を並び替える処理",
        "パスワードの強度チェック",
        "JSONを整形して出力する処理",
        "ページネーション付きのAPI",
        "画像のサムネイル生成",
    ],
    [
        "reordering CSV columns",
        "checking password strength",
        "pretty-printing JSON",
        "a paginated API endpoint",
        "generating image thumbnails",
    ],
)
GENERIC_SYSTEM["heldout"] = [
    "You are a helpful, concise assistant.",
    "あなたは有能なアシスタントです。",
]


def held_templates(task: str, ja: list[Template], en: list[Template]) -> None:
    TEMPLATES[task]["ja"]["heldout"], TEMPLATES[task]["en"]["heldout"] = ja, en


held_templates(
    "summarize",
    [
        "{m}\n\n↑かいつまんで3行くらいにしてくれる?",
        "要するに何が書いてあるのか知りたいです。\n{m}",
        "{m}\n\nこれのまとめ、箇条書きで頼む",
        "以下の記事を、会議で共有できるよう簡潔に要約してください\n\n{m}",
        "{book}のあらすじを200字程度で",
        "{mlong}\n\n長文なので要点だけお願いします",
        "{m}\n\nざっくりまとめると?",
    ],
    [
        "{m}\n\ncan you give me a quick rundown of this?",
        "I need the short version of the following for a standup:\n{m}",
        "{m}\n\nsummarize in bullet points",
        "Here's an article. Please summarize it in plain terms, 3 sentences max.\n\n{m}",
        "What's the plot of {book} in a few sentences?",
        "{mlong}\n\nwhat are the main points?",
        "{m}\n\nTL;DR this for me",
    ],
)
held_templates(
    "business_mail",
    [
        "{note}\n↑この件、先方にメールで連絡したいので文面お願いします",
        "{mailtopic}について、取引先にお送りするメールを作ってもらえますか",
        "上司に{mailtopic}の件を報告するメールを書きたい",
        "{note}\n失礼のない社外メールにしてください。署名は不要です",
        "{mailtopic}のメール文例を、件名付きで",
        "お客様向けに{mailtopic}をお知らせするメールを丁寧に書いて",
    ],
    [
        "{note}\ncan you turn this into an email to the client?",
        "Please write a professional email to a partner about {mailtopic}.",
        "I need to email my manager about {mailtopic}. Draft it for me.",
        "{note}\n\nWrite this up as a polite external email, no signature needed.",
        "Give me an email template with a subject line for {mailtopic}.",
        "Write a courteous customer email informing them of {mailtopic}.",
    ],
)
held_templates(
    "story",
    [
        "{premise}のお話を書いてほしいな",
        "{premise}をテーマにした短い物語をお願いします。最後に少し泣けるやつ",
        "小学生向けの読み物として、{premise}の物語を作ってください",
        "{opening}という一文で始まる短編を書いて",
        "{premise}の詩を一つ",
        "{premise}が活躍する冒険小説の第1章を書いて",
    ],
    [
        "Could you write me a story about {premise}?",
        "A short, slightly sad story about {premise}, please.",
        "Write a children's story about {premise} for 2nd graders.",
        "Write a short story that opens with: {opening}",
        "Give me a poem about {premise}.",
        "Write chapter one of an adventure novel starring {premise}.",
    ],
)
held_templates(
    "explain_simple",
    [
        "{concept}について、小学生の子供に聞かれたときのためにわかりやすい説明を考えて",
        "{concept}をできるだけ簡単な言葉で説明してください",
        "{concept}って正直よくわかってない。超初心者向けに教えて",
        "{m}\n\nこれ、子供にも伝わるように言い換えて説明して",
        "{concept}をたとえ話で、誰でもわかるように",
        "専門知識ゼロの人に{concept}を説明するならどう言う?",
    ],
    [
        "My kid asked me about {concept}. Give me a simple explanation I can tell her.",
        "Explain {concept} in the simplest words you can.",
        "I honestly don't understand {concept}. Explain it for a complete beginner.",
        "{m}\n\nexplain this so a child would understand",
        "Explain {concept} with an analogy anyone would get.",
        "How would you explain {concept} to someone with zero background?",
    ],
)
held_templates(
    "style_rewrite",
    [
        "「{s}」をギャル語っぽくして",
        "{s}\nこれを{style}で言ってみて",
        "「{slang}」を普通の丁寧な日本語に書き直して",
        "{m}\n\nこの文章の口調を{style}に変えて",
        "{s}\n↑もう少し柔らかい言い方に変えて",
        "「{s}」を{style}に変換して",
    ],
    [
        "Make this sound like Gen Z slang: {s}",
        "{s}\n\nsay this like a {persona} would",
        'Rewrite "{slang}" in normal, polite English.',
        "{m}\n\nchange the tone of this to {style}",
        "{s}\n\nreword this to sound softer",
        "Rewrite this sentence in a {style} tone: {s}",
    ],
)
held_templates(
    "translate",
    [
        "「{s}」を{lang}に翻訳して",
        "{sx}\nこれ日本語にして",
        "{m}\n\n英語に訳してもらえますか",
        "{s}って{lang}でなんて言えばいい?",
        "{mx}\n\n和訳をお願いします",
        "{lang}に直して:{s}",
    ],
    [
        'Translate "{s}" into {lang}.',
        "{sx}\n\nwhat does this say in English?",
        "{m}\n\ncan you translate this into Japanese?",
        'How would I say "{s}" in {lang}?',
        "{mx}\n\nPlease translate into English.",
        "{lang} please: {s}",
    ],
)
held_templates(
    "code",
    [
        "{code}\nこのコード、どこが間違ってる?",
        "{trace}\nこのエラーの直し方を教えて",
        "{prog}をPythonで書いてください",
        "{code}\n\nもっときれいに書き直して",
        "{prog}をJavaScriptで実装したい。コード例ある?",
        "{trace}",
    ],
    [
        "{code}\nwhat's wrong with this code?",
        "{trace}\nhow do I fix this error?",
        "Write Python code for {prog}.",
        "{code}\n\nclean this up",
        "How would I implement {prog} in JavaScript? Code example please.",
        "{trace}",
    ],
)
held_templates(
    "qa",
    [
        "{concept}について教えてください",
        "{book}っていつ出た作品?",
        "{concept}の最新の研究にはどんなものがある?",
    ],
    [
        "Tell me about {concept}.",
        "When did {book} come out?",
        "What's the latest research on {concept}?",
    ],
)


def held_hand(task: str, ja: list[Template], en: list[Template]) -> None:
    HAND[task]["ja"]["heldout"], HAND[task]["en"]["heldout"] = ja, en


held_hand(
    "summarize",
    [
        "昨日の役員会の議事録、長すぎるので要点を3つに絞ってください\n・新工場の建設を承認\n・海外子会社の再編は継続審議\n・配当は据え置き",
        "この口コミをまとめて、良い点と悪い点を一行ずつで\n「店員さんは親切。料理は美味しいけど提供が遅い。駐車場が狭い。」",
        "読む時間ないんだけど、このメールのスレッドで結局何が決まったか教えて\nA: 金曜リリースで\nB: QAが間に合わない\nA: じゃあ月曜",
        "講演の書き起こしです。要点を簡潔に。\n本日はAIと教育についてお話しします。まず、AIは教師の代わりにはなりません…",
        "三行でお願い",
        "長文失礼。これ要約してもらっていい?\n新しいスマートウォッチは血中酸素と睡眠の質を測れる。バッテリーは約10日もち、価格は2万円台。",
    ],
    [
        "Our board minutes are way too long. Narrow them down to three points:\n- new plant approved\n- subsidiary restructuring deferred\n- dividend unchanged",
        'Summarize this review as one line of pros and one of cons: "Staff were friendly. Food was great but slow. Tiny parking lot."',
        "No time to read this email thread. What did they end up deciding?\nA: ship Friday\nB: QA won't be done\nA: Monday then",
        "Transcript of a talk. Keep it short, main points only.\nToday I want to talk about AI in education. First, AI will not replace teachers...",
        "give me the short of it",
        "Sorry for the wall of text, can you summarize? The new smartwatch tracks blood oxygen and sleep quality, lasts about 10 days, and costs around $180.",
    ],
)
held_hand(
    "business_mail",
    [
        "取引先に、打ち合わせの議事録を送るメールを書いてください。次回は来月10日です",
        "上司に残業申請のメールを送りたい。今週木曜、2時間ほど",
        "お客様に、注文いただいた商品が欠品で発送が遅れることをお詫びするメールを作って",
        "内定辞退のメールを企業の人事担当者に送りたい。丁寧な文面で",
    ],
    [
        "Write an email to a client sending the meeting minutes. Next meeting is on the 10th next month.",
        "I need to email my boss asking to work two hours overtime this Thursday.",
        "Draft an apology email to a customer: the item they ordered is out of stock and will ship late.",
        "Write a polite email to a company's HR declining their job offer.",
    ],
)
held_hand(
    "story",
    [
        "引退した競走馬が主人公の、ちょっと切ない短編小説を書いて",
        "娘に読み聞かせたいので、虹を集める小人のお話を作って",
        "雨の日の図書館を舞台にした恋愛小説の冒頭を書いて",
        "猫とカラスの友情をテーマに詩を書いてください",
    ],
    [
        "Write a bittersweet short story about a retired racehorse.",
        "Make up a story about a little gnome who collects rainbows, for my daughter.",
        "Write the opening of a romance set in a library on a rainy day.",
        "Write a poem about the friendship between a cat and a crow.",
    ],
)
held_hand(
    "explain_simple",
    [
        "子供に「なんで飛行機は落ちないの?」って聞かれた。簡単に説明するには?",
        "スマホの位置情報ってどうやってわかるの?機械音痴の母にもわかるように",
        "インフレとデフレの違いを小学生向けに説明して",
        "ブロックチェーン、何回聞いてもわからない。めちゃくちゃ簡単に教えて",
    ],
    [
        "My son asked why planes don't fall out of the sky. How do I explain it simply?",
        "How does my phone know where I am? Explain it so my tech-averse mom gets it.",
        "Explain the difference between inflation and deflation for elementary schoolers.",
        "I've heard blockchain explained ten times and still don't get it. Make it super simple.",
    ],
)
held_hand(
    "style_rewrite",
    [
        "「お世話になっております。ご確認のほどよろしくお願いいたします」をギャル語にしたらどうなる?",
        "この自己紹介を関西弁にして:こんにちは、田中です。趣味は料理です",
        "「マジ無理」を上品な敬語に言い換えて",
        "彼女へのLINEがそっけないので、もっと優しい言い方にしたい:了解",
    ],
    [
        'What would "Thank you for your continued support. Please review at your convenience." sound like in Gen Z slang?',
        "Rewrite my self-intro with a Southern drawl: Hi, I'm Tanaka and I love cooking.",
        'Say "this is so not happening" in a polite, formal way.',
        'My text to my girlfriend sounds cold. Make it sweeter: "ok"',
    ],
)
held_hand(
    "translate",
    [
        "「お先に失礼します」って英語で自然に言うと?",
        "このメールを韓国語に訳してほしい:来週ソウルに行きます。会えたら嬉しいです",
        "英文和訳お願いします:We regret to inform you that the event has been canceled.",
        "スペイン語で「お会計お願いします」は何て言う?",
    ],
    [
        'How do you naturally say "osaki ni shitsurei shimasu" in English?',
        "Translate this into Korean: I'm coming to Seoul next week, would love to meet.",
        "Please translate into Japanese: We regret to inform you that the event has been canceled.",
        "How do I ask for the check in Spanish?",
    ],
)
held_hand(
    "code",
    [
        "Pythonで辞書をキーでソートする方法",
        "git pushしたら rejected って言われた。どうすれば?",
        "Reactでフォームの入力値を管理する一番簡単な方法は?",
        "SQLで重複した行を削除したい",
    ],
    [
        "How do I sort a dictionary by key in Python?",
        "git push says rejected, what do I do?",
        "What's the simplest way to handle form input in React?",
        "How do I delete duplicate rows in SQL?",
    ],
)
held_hand(
    "qa",
    [
        "京都で紅葉がきれいなお寺はどこ?",
        "ダイエット中でも食べていいおやつある?",
        "ノートPCのバッテリーを長持ちさせるコツは?",
        "世界で一番人口が多い国は?",
        "引っ越しの見積もりって何社くらい取るべき?",
        "猫が水を飲まないんだけど大丈夫?",
        "有給休暇って何日まで繰り越せる?",
        "今週末おすすめの映画ある?",
        "日本の消費税っていつから10%?",
        "朝ごはん抜くのって体に悪い?",
        "お疲れ!今日はどうだった?",
        "東京タワーの高さは?",
        "電子書籍と紙の本、どっちが目に優しい?",
        "初心者におすすめのキャンプ場は?",
        "AppleWatchってどの機種を選べばいい?",
        "ローカルLLMを動かすならどのMacがいい?",
        "梅干しって体にいいの?",
        "ワクチン接種後にお酒を飲んでもいい?",
        "大谷翔平の出身地はどこ?",
        "確定拠出年金って入るべき?",
        "冷凍したご飯はどのくらい持つ?",
    ],
    [
        "Which temples in Kyoto have the best autumn leaves?",
        "Any snacks that are okay while dieting?",
        "How can I make my laptop battery last longer?",
        "What's the most populous country in the world?",
        "How many moving quotes should I get?",
        "My cat won't drink water, is that okay?",
        "How many vacation days can I carry over?",
        "Any good movies out this weekend?",
        "When did Japan's consumption tax go up to 10%?",
        "Is skipping breakfast bad for you?",
        "hey! how was your day?",
        "How tall is Tokyo Tower?",
        "Are e-books or paper books easier on the eyes?",
        "Good campsites for beginners?",
        "Which Apple Watch should I get?",
        "Which Mac is best for running local LLMs?",
        "Are pickled plums healthy?",
        "Can I drink alcohol after a vaccine shot?",
        "Where is Shohei Ohtani from?",
        "Should I sign up for a 401k?",
        "How long does frozen rice keep?",
    ],
)


# ---------------------------------------------------------------------------------------------
# Composition
# ---------------------------------------------------------------------------------------------
_SLOT = re.compile(r"\{(\w+)\}")
_OTHER = {"ja": "en", "en": "ja"}


def slot_value(rng: random.Random, slot: str, lang: str, split: str) -> str:
    """A value for one template slot, from the pools of this language and split."""
    if slot == "mlong":  # a long paste: several articles of the same split back to back
        items = SLOTS["m"][lang][split]
        return "\n\n".join(rng.sample(items, k=min(len(items), rng.randint(4, 7))))
    if slot in ("mx", "sx", "notex"):
        return rng.choice(SLOTS[slot[:-1]][_OTHER[lang]][split])
    return rng.choice(SLOTS[slot][lang][split])


def fill(rng: random.Random, template: Template, lang: str, split: str) -> tuple[str, str]:
    """(system, text) of one template with its slots filled."""
    system, text = template if isinstance(template, tuple) else ("", template)
    text = _SLOT.sub(lambda m: slot_value(rng, m.group(1), lang, split), text)
    return system, text


def vary(rng: random.Random, text: str, lang: str) -> str:
    """Light surface noise users produce: trailing spaces, please/お願い, no final period."""
    r = rng.random()
    if r < 0.08:
        return re.sub(r"[。.!?!?]+$", "", text)
    if r < 0.12:
        return text + rng.choice(
            [" お願いします", "!", " 🙏"] if lang == "ja" else [" pls", " thanks", " 🙏"]
        )
    if r < 0.15:
        return "  " + text + "\n"
    return text


def compose(rng: random.Random, task: str, lang: str, split: str) -> list[dict[str, str]]:
    """N_PER[split] examples of one task and language: hand-written first, then templates."""
    rows: list[dict[str, str]] = []
    seen: set[str] = set()

    def add(system: str, text: str) -> None:
        if text in seen:
            return
        seen.add(text)
        if not system and rng.random() < (0.2 if split == "train" else 0.1):
            system = rng.choice(GENERIC_SYSTEM[split])
        row = {"text": text, "task": task, "lang": lang}
        if system:
            row["system"] = system
        rows.append(row)

    for item in HAND[task][lang][split]:
        add(*(item if isinstance(item, tuple) else ("", item)))
    tmpls = list(TEMPLATES[task][lang][split])
    for _ in range(200):
        rng.shuffle(tmpls)
        for t in tmpls:
            if len(rows) >= N_PER[split]:
                return rows
            system, text = fill(rng, t, lang, split)
            add(system, vary(rng, text, lang))
    return rows


def ngrams(text: str, n: int = 5) -> set[str]:
    t = "".join(ch for ch in text.lower() if ch not in string.whitespace)
    return {t[i : i + n] for i in range(max(1, len(t) - n + 1))}


def max_overlap(held: list[dict[str, str]], train: list[dict[str, str]]) -> list[float]:
    """Per held-out example, the largest share of its character 5-grams found in any single
    training example (1.0 = some training example contains the whole held-out text)."""
    grams = [ngrams(r["text"]) for r in train]
    index: dict[str, list[int]] = {}
    for i, gs in enumerate(grams):
        for g in gs:
            index.setdefault(g, []).append(i)
    out = []
    for r in held:
        hs = ngrams(r["text"])
        hits: dict[int, int] = {}
        for g in hs:
            for i in index.get(g, ()):
                hits[i] = hits.get(i, 0) + 1
        out.append(max(hits.values(), default=0) / max(1, len(hs)))
    return out


def main() -> int:
    out: dict[str, list[dict[str, str]]] = {}
    for split in N_PER:
        rng = random.Random(
            f"{SEED}/{split}"
        )  # each split its own stream: edits to one keep the others
        rows = [
            r for task in TASKS for lang in ("ja", "en") for r in compose(rng, task, lang, split)
        ]
        rng.shuffle(rows)
        out[split] = rows
    train_texts = {r["text"] for r in out["train"]}
    enc = msgspec.json.Encoder()
    worst_all = 0.0
    for split, rows in out.items():
        if split != "train":
            rows[:] = [r for r in rows if r["text"] not in train_texts]
        # train.jsonl is run-time data (the package ships it); dev and heldout stay here.
        folder = TRAIN_DIR if split == "train" else HERE
        with open(folder / f"{split}.jsonl", "wb") as f:
            for r in rows:
                f.write(enc.encode(r) + b"\n")
        print(f"{split}: {len(rows)} examples")
        if split == "train":
            continue
        overlap = max_overlap(rows, out["train"])
        worst = sorted(zip(overlap, (r["text"] for r in rows), strict=True), reverse=True)[:3]
        worst_all = max(worst_all, worst[0][0])
        print(f"  {split} vs train, largest share of 5-grams found in one training example:")
        for score, text in worst:
            print(f"    {score:.2f}  {text[:70]!r}")
    return 0 if worst_all < 0.8 else 1


if __name__ == "__main__":
    sys.exit(main())
