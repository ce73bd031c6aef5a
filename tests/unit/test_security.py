"""Hostile input without the model: rendering, input checks, limits, names, exports, parsing."""
from __future__ import annotations

import csv
import io
import threading
import time
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from tutor.conflicts import Conflict, ConflictKind
from tutor.errors import Busy, InputError
from tutor.export import attempts_csv_text
from tutor.files import file_stem
from tutor.grading import Grade, ReferencePoints
from tutor.limits import MAX_TEXT_CHARS, LoginThrottle, RequestLimiter, check_text
from tutor.notes import parse_markdown
from tutor.progress import Attempt
from tutor.ui.render import card_html, cell_html, escape, grade_html, inline_html, markdown_html

from ..conftest import HOSTILE_NOTES

HOSTILE = HOSTILE_NOTES
# Everything the renderer may emit, and the attributes it may carry.
ALLOWED_TAGS = {"div", "p", "h3", "h4", "ul", "ol", "li", "strong", "em", "del", "s", "code", "pre", "a", "span",
                "table", "thead", "tbody", "tr", "th", "td", "blockquote", "hr", "br", "sub"}
ALLOWED_ATTRIBUTES = {"href", "target", "rel", "class", "style", "start"}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _inert(fragment: str) -> str:
    """Assert `fragment` holds only the renderer's own markup; return its text."""
    assert "\n\n" not in fragment, "a blank line would end Gradio's HTML block"
    parser = _Tags()
    parser.feed(fragment)
    for tag, attributes in parser.tags:
        assert tag in ALLOWED_TAGS, f"<{tag}> in {fragment[:200]}"
        assert set(attributes) <= ALLOWED_ATTRIBUTES, f"<{tag} {attributes}>"
        if "href" in attributes:
            assert attributes["href"].startswith(("http://", "https://", "mailto:", "#")), attributes
            assert attributes.get("rel") == "noopener noreferrer nofollow"
        if "style" in attributes:
            assert attributes["style"].startswith("text-align:"), attributes
    return "".join(parser.text)


def test_every_hostile_note_renders_as_inert_text():
    cards, skipped = parse_markdown(HOSTILE.read_text(encoding="utf-8"), "hostile_notes.md")
    assert len(cards) == 4 and not skipped
    for card in cards:
        for fragment in (markdown_html(card.answer), inline_html(card.question), card_html(card),
                         *map(inline_html, card.key_points)):
            _inert(fragment)
    shown = _inert(markdown_html(cards[0].answer))
    assert '<img src="http://evil.test/img.png" onerror="window.__pwned = 1">' in shown
    assert '<svg><image href="http://evil.test/svg-image.png"/></svg>' in shown


def test_grade_feedback_shows_each_notes_points_under_its_source_as_inert_text():
    evil = '<img src=x onerror="window.__pwned = 1">'
    counted = ReferencePoints("team#1", "team.md:3", ["K 和 V 被缓存"], [f"MQA {evil}"])
    own = ReferencePoints("mine#2", f"mine{evil}.md:9", [], [f"我的要点 {evil}"])
    fields = ("KV Cache?", "team#1", 60, "部分正确 partial", counted.covered, counted.missed, "ref", "team.md:3")
    html = grade_html(Grade(*fields, [counted, own]))
    parser = _Tags()
    parser.feed(html)
    assert {tag for tag, _ in parser.tags} <= ALLOWED_TAGS | {"details", "summary"}  # no <img>
    shown = "".join(parser.text)
    assert shown.index("K 和 V 被缓存") < shown.index("also in your notes") < shown.index(f"mine{evil}.md:9")
    assert f"✗ 我的要点 {evil}" in shown
    assert "also in your notes" not in grade_html(Grade(*fields, [counted]))
    wrong = Conflict(f"UDP 面向连接 {evil}", f"TCP 面向连接 {evil}", "UDP", f"TCP{evil}")
    parser = _Tags()
    parser.feed(grade_html(Grade(*fields, [counted], [wrong])))
    assert {tag for tag, _ in parser.tags} <= ALLOWED_TAGS | {"details", "summary"}
    shown = "".join(parser.text)
    assert f"你说「UDP 面向连接 {evil}」，笔记里这是 TCP{evil} 的：「TCP 面向连接 {evil}」" in shown
    assert shown.index("与笔记不符") < shown.index("K 和 V 被缓存")  # a wrong fact first
    code = Grade(*fields[:4], [f"```\nx = 1\n\nprint({evil})\n```", "```\ny = a*b*c  # __init__\n```",
                               "$$a\n= b$$"], *fields[5:])  # code points: escaped, as code; a formula is not code
    parser = _Tags()
    parser.feed(grade_html(code))
    assert {tag for tag, _ in parser.tags} <= ALLOWED_TAGS | {"details", "summary"}
    assert [tag for tag, _ in parser.tags].count("pre") == 2
    shown = "".join(parser.text)
    assert f"x = 1\nprint({evil})" in shown and "y = a*b*c  # __init__" in shown
    wrong_number = Conflict(f"查找是 O(1){evil}", f"查找是 O(log n){evil}", "O(1)", f"O(log n){evil}",
                            kind=ConflictKind.QUANTITY)
    parser = _Tags()
    parser.feed(grade_html(Grade(*fields, [counted], [wrong_number])))
    assert f"你说「查找是 O(1){evil}」，笔记里是 O(log n){evil}：「查找是 O(log n){evil}」" in "".join(parser.text)
    assert set(Grade(*fields, [counted, own], [wrong]).to_dict()) == {  # the JSON contract is unchanged
        "question", "card_id", "score", "verdict", "covered", "missed", "reference", "source"}


@pytest.mark.parametrize("source, expected", [
    ("![pic](http://evil.test/a.png)", '<a href="http://evil.test/a.png"'),  # an image becomes a link
    ("![pic][r]\n\n[r]: http://evil.test/r.png", '<a href="http://evil.test/r.png"'),
    ("![local](figure.png)", "<span>🖼 local</span>"),
    ("[run](javascript:alert(1))", "&#91;run&#93;(javascript&#58;alert(1))"),  # not a link at all
    ("``<b>bold?</b>`", "&#96;&#96;&#60;b&#62;bold?&#60;/b&#62;&#96;"),  # unmatched backticks: text
    ("`a < b`", "<code>a &#60; b</code>"),
    ("$a<b$ and $$c>d$$", "$a&#60;b$ and $$c&#62;d$$"),  # math stays math, escaped
    ("costs 5 $ each", "<span>&#36;</span>"),  # a lone dollar cannot pair with another
    ("```\nx\n\n<img src=x>\n```", "x&#10;&#10;&#60;img src=x&#62;"),  # no blank line, no tag
    ("**bold** and *it*", "<strong>bold</strong> and <em>it</em>"),
    ("see http://evil.test/x, www.evil.test, a@evil.test", "http&#58;//evil.test/x, www&#46;evil.test, a&#64;evil.test"),
    ("[out](/logout) [far](//evil.test/x) [ok](https://arxiv.org)", "<span>out</span> <span>far</span> <a href="),
])
def test_markdown_features_and_payloads(source, expected):
    fragment = markdown_html(source)
    _inert(fragment)
    assert expected in fragment


def test_plain_text_keeps_its_lines_without_a_blank_line_and_cells_are_not_lists():
    assert escape("第一行\n\n第二行") == "第一行<br><br>第二行"
    assert cell_html("1. 第一步") == "<span>1. 第一步</span>" and cell_html("- 要点").startswith("<span>")


def test_plain_text_escape_neutralises_markdown_syntax():
    text = "<script>alert(1)</script> ![x](http://evil.test) *a* _b_ `c` | $d$"
    escaped = escape(text)
    for syntax in "<>![]*_`|$":
        assert syntax not in escaped.replace("<span>", "").replace("</span>", "")
    assert _inert(f"<p>{escaped}</p>") == text


def test_text_checks_give_one_clear_error_per_kind_of_bad_input():
    assert check_text("  为什么需要位置编码？ \x00\x07 ", "the question") == "为什么需要位置编码？"
    for value, message in [
        ("\ud800", "not valid text"), ("a\udcffb", "not valid text"), (12, "must be text, not int"),
        (["q"], "must be text, not list"), ({"q": 1}, "must be text, not dict"), (None, "is missing"),
        ("   ", "is empty"), ("\x00\x01", "is empty"), ("啊" * (MAX_TEXT_CHARS + 1), "too long"),
    ]:
        with pytest.raises(InputError, match=message):
            check_text(value, "the question")


def test_one_user_cannot_hold_more_than_their_share():
    limiter = RequestLimiter(per_user=2)
    with limiter.hold("alice"), limiter.hold("alice"):
        with pytest.raises(Busy, match="2 requests running"):
            with limiter.hold("alice"):
                pass
        with limiter.hold("bob"):  # others are not affected
            pass
    with limiter.hold("alice"), limiter.hold("alice"):  # released again
        pass


def test_failed_logins_back_off_exponentially_and_success_clears_the_user():
    now = [0.0]
    throttle = LoginThrottle(free_attempts=5, first_delay=1.0, max_delay=300.0, clock=lambda: now[0])
    keys = ("user:alice", "address:10.0.0.1")
    for _ in range(5):
        assert throttle.admit(*keys) == 0  # admitted, and counted as failed until it succeeds
    assert throttle.admit(*keys) == pytest.approx(1.0)  # refused unseen
    assert throttle.wait("user:alice") == pytest.approx(1.0) and throttle.wait("address:10.0.0.2") == 0
    delays = []
    for _ in range(12):
        now[0] += throttle.wait(*keys)
        assert throttle.admit(*keys) == 0
        delays.append(throttle.wait(*keys))
    assert delays[:4] == [2.0, 4.0, 8.0, 16.0] and delays[-1] == 300.0  # doubling, capped
    assert sum(delays) > 25 * 60  # 17 guesses now take over 25 minutes, not a tenth of a second
    now[0] += 300
    assert throttle.admit(*keys) == 0
    throttle.succeeded("user:alice")
    assert throttle.wait("user:alice") == 0 and throttle.wait("address:10.0.0.1") > 0


def test_guesses_in_parallel_count_like_guesses_in_a_row():
    throttle = LoginThrottle(free_attempts=5)
    admitted = []
    barrier = threading.Barrier(60)

    def guess():
        barrier.wait()
        admitted.append(throttle.admit("user:alice", "address:10.0.0.9") == 0)

    threads = [threading.Thread(target=guess) for _ in range(60)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sum(admitted) == 5  # the other 55 were refused without a look at the password


def test_one_account_cannot_reset_an_addresss_failures_and_old_failures_fade():
    now = [0.0]
    throttle = LoginThrottle(free_attempts=5, window=900.0, clock=lambda: now[0])
    address = "address:10.0.0.1"
    for victim in ("user:alice", "user:carol", "user:dave", "user:erin"):
        throttle.admit(victim, address)  # four wrong guesses at other people's passwords
    throttle.admit("user:mallory", address)
    throttle.succeeded("user:mallory")  # mallory's own login works...
    throttle.forgive(address)
    throttle.admit("user:frank", address)  # ...and does not wipe the four guesses
    assert throttle.admit("user:grace", address) > 0
    now[0] += 901 + 300  # a quarter of an hour without failures: forgotten
    assert throttle.admit("user:grace", address) == 0


def test_upload_names_never_collide_and_never_escape():
    names = ["team notes", "team_notes", "team%20notes", "a b", "a_b", "a.b", ".hidden", "..", "../x", "草稿 v2", ""]
    stems = [file_stem(n) for n in names]
    assert len(set(stems)) == len(stems)
    for stem in stems:
        assert "/" not in stem and "\\" not in stem and not stem.startswith(".")
    assert file_stem("草稿") == "草稿" and file_stem("notes.v2") == "notes.v2"
    long_a, long_b = file_stem("x" * 300 + "a"), file_stem("x" * 300 + "b")
    assert long_a != long_b and len(long_a) <= 120


def test_exported_csv_cannot_run_formulas():
    moment = datetime(2026, 11, 30, tzinfo=UTC)
    attempts = [Attempt("alice", "n.md#1", "=cmd|' /C calc'!A0", '=HYPERLINK("http://evil.test","x")', "question",
                        "- 第一点\n+ 第二点", 40, "Hard", moment),
                Attempt("alice", "n.md#2", "Attention", "@SUM(A1)", "question", "plain answer", 90, "Easy", moment)]
    text = attempts_csv_text(attempts)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), row
    assert rows[1][4] == "'=HYPERLINK(\"http://evil.test\",\"x\")" and rows[1][8] == "'- 第一点\n+ 第二点"
    assert rows[2][8] == "plain answer" and rows[2][6] == "90"


def test_repeated_headings_parse_in_linear_time():
    """Thousands of identical headings cost what as many different ones cost (it was
    quadratic: 8,000 took 12 s); a ratio in one run, not a wall-clock bound."""
    count = 20_000
    same = "".join("## 同一个问题？\n答案文字足够长可以评分。\n" for _ in range(count))
    different = "".join(f"## 问题 {i}？\n答案文字足够长可以评分。\n" for i in range(count))

    def seconds(text: str) -> tuple[float, list]:
        started = time.perf_counter()
        cards, _ = parse_markdown(text, "x.md")
        return time.perf_counter() - started, cards

    (repeated, cards), (distinct, _) = seconds(same), seconds(different)
    assert len({c.id for c in cards}) == count and cards[2].id.endswith("-3")
    assert repeated < 3 * distinct + 0.5, (repeated, distinct)


def test_the_model_gate_serves_interactive_calls_before_background_slices():
    from tutor.embeddings import _GATE, background_priority

    order: list[str] = []
    release = threading.Event()

    def hold_the_model():
        with _GATE.turn():
            release.wait(5)

    def call(name: str, background: bool):
        def run():
            if background:
                with background_priority(), _GATE.turn():
                    order.append(name)
            else:
                with _GATE.turn():
                    order.append(name)
        return threading.Thread(target=run)

    holder = threading.Thread(target=hold_the_model)
    holder.start()
    time.sleep(0.05)
    threads = [call("index-1", True), call("index-2", True), call("ask-1", False), call("ask-2", False)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)  # arrival order: index-1, index-2, ask-1, ask-2
    release.set()
    for thread in [holder, *threads]:
        thread.join(5)
    assert order == ["ask-1", "ask-2", "index-1", "index-2"]
