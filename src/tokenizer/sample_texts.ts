// Short sample texts for `deno task tok eval`, one per kind the reference compares
// (news, korean, code, math, science). Written for this project; the reference's own
// samples are not copied. Compression ratios on them are only comparable between
// tokenizers, not with the reference's printed numbers.

export const SAMPLE_TEXTS: Record<string, string> = {
  news: `RIVERTON, Ore. — The Riverton County Water Board voted 5-2 on Tuesday evening to fund a
$48 million upgrade of the Millbrook treatment plant, ending a two-year dispute over how the
aging facility should be replaced.

The plan, first proposed in March 2023, will add a membrane filtration stage and a second
intake on the Calder River. Board chair Ellen Marsh said the vote "gives 61,000 residents a
system that can handle the dry summers we now see every few years."

Construction is scheduled to begin in October and to finish by late 2027. During the work,
the county expects short, planned interruptions of service in the northern districts; crews
will post notices at least 72 hours in advance. Residents with questions can call the board's
information line at (541) 555-0184 or attend a public session on June 12 at the Riverton
library, 310 Alder Street.

Two board members opposed the measure, citing a projected 9% increase in monthly water bills.
"Nobody disputes that the plant needs work," said member Tomás Ibarra. "The question is who
pays, and how fast." A low-income rebate program will be reviewed at the board's July meeting.`,

  korean: `가을이 오면 우리 마을 뒷산은 온통 붉은색과 노란색으로 물든다. 아침마다 할머니는
작은 바구니를 들고 산길을 오르시는데, 떨어진 밤을 줍기 위해서다. 나는 어릴 때부터 그 길을
함께 걸었다. 할머니는 나무 이름을 하나씩 가르쳐 주셨고, 바람이 불면 잠시 멈춰 서서 숲의
소리를 들으라고 하셨다.

요즘은 도시에서 일하느라 자주 내려가지 못한다. 그래도 전화를 드리면 할머니는 늘 올해 밤이
얼마나 굵은지, 감나무에 감이 몇 개나 달렸는지 자세히 이야기해 주신다. 다음 달에는 꼭 시간을
내서 함께 산에 오르기로 약속했다. 그날은 휴대폰을 내려놓고, 오래전처럼 천천히 걸으며 바람
소리를 듣고 싶다.`,

  code: `def count_pairs(words: dict[tuple[int, ...], int]) -> dict[tuple[int, int], int]:
    """Count adjacent symbol pairs, weighting each word by its frequency."""
    counts: dict[tuple[int, int], int] = {}
    for symbols, freq in words.items():
        for left, right in zip(symbols, symbols[1:]):
            counts[(left, right)] = counts.get((left, right), 0) + freq
    return counts


def apply_merge(symbols: tuple[int, ...], pair: tuple[int, int], new_id: int) -> tuple[int, ...]:
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return tuple(out)


def learn(words, num_merges):
    merges = []
    for step in range(num_merges):
        counts = count_pairs(words)
        if not counts:
            break
        best = max(counts, key=lambda p: (counts[p], -p[0], -p[1]))
        merges.append(best)
        words = {apply_merge(w, best, 256 + step): f for w, f in words.items()}
    return merges`,

  math: `\\begin{theorem}
For every integer $n \\ge 1$, the sum of the first $n$ odd numbers is a perfect square:
\\[ \\sum_{k=1}^{n} (2k - 1) = n^2. \\]
\\end{theorem}

\\begin{proof}
We argue by induction on $n$. For $n = 1$ the left side is $2 \\cdot 1 - 1 = 1 = 1^2$.
Assume the identity holds for some $n = m \\ge 1$. Then
\\begin{align*}
\\sum_{k=1}^{m+1} (2k - 1) &= \\left( \\sum_{k=1}^{m} (2k - 1) \\right) + \\bigl(2(m+1) - 1\\bigr) \\\\
  &= m^2 + 2m + 1 \\\\
  &= (m + 1)^2,
\\end{align*}
which is the claim for $n = m + 1$. By induction the identity holds for all $n \\ge 1$.
\\end{proof}

A picture gives the same result: an $m \\times m$ square of dots grows into an
$(m+1) \\times (m+1)$ square by adding an L-shaped border of $2m + 1$ dots.`,

  science: `Ocean tides are driven mainly by the Moon's gravity, with a smaller contribution from
the Sun. Because gravitational pull weakens with distance, the side of the Earth facing the
Moon is pulled slightly more strongly than the planet's center, and the far side slightly
less. The difference stretches the oceans into two bulges, one toward the Moon and one away
from it. As the Earth rotates beneath these bulges, most coastlines see two high tides and
two low tides roughly every 24 hours and 50 minutes.

When the Sun, Moon and Earth line up, at new and full moon, their effects add and produce
spring tides with a larger range. At the quarter moons the pulls partly cancel, giving the
weaker neap tides. Local geography then shapes what an observer actually sees: a funnel-shaped
bay can amplify the range to more than ten meters, while some enclosed seas have tides of only
a few centimeters. Tidal friction also slows the Earth's rotation very gradually, lengthening
the day by about two milliseconds per century, and pushes the Moon about 3.8 centimeters
farther away each year.`,
};
