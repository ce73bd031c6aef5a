"""UI handlers called as Gradio calls them, with hostile input (private events can be sent
by any client through the queue, not only by the page)."""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import pytest

from tutor.ui.chat import on_message
from tutor.ui.context import UI, Session
from tutor.ui.knowledge import on_card
from tutor.users import Accounts


def view_of(ui: UI) -> SimpleNamespace:
    return SimpleNamespace(ui=ui, **{name: name for name in (
        "state", "chatbot", "message", "related", "summary_table", "summary_chart")})


def request(host: str = "10.0.0.7", user: str | None = None, session: str = "s1") -> SimpleNamespace:
    return SimpleNamespace(client=SimpleNamespace(host=host), username=user, session_hash=session)


@pytest.mark.parametrize("message", ["\ud800abc", "/interview \udcff 3", "啊" * 2001])
def test_bad_chat_text_is_refused_and_never_echoed(message):
    view = view_of(UI(tutor=None))
    with pytest.warns(UserWarning):
        outputs = on_message(view, message, [], None, request())
    assert set(outputs) == {"state"}  # nothing goes back to the page: not the box, not the chat


def test_a_card_click_with_forged_event_data_shows_nothing():
    ui = UI(tutor=SimpleNamespace(card=lambda card_id: None))
    for index in ("x", None, [], [None], -1, 99):
        event = SimpleNamespace(index=index)
        assert "未找到" in on_card(SimpleNamespace(ui=ui), None, event, request())


def test_a_requests_share_is_the_login_or_else_the_address_never_a_session_id():
    anonymous = UI(tutor=None)
    assert anonymous.caller(request(session="a")) == anonymous.caller(request(session="b")) == "address:10.0.0.7"
    assert anonymous.caller(request(host="10.0.0.8")) != anonymous.caller(request())
    logins = UI(tutor=None, accounts=Accounts({"alice": "pw"}))
    assert logins.caller(request(user="alice", host="1.1.1.1")) == logins.caller(request(user="alice")) == "user:alice"
    with pytest.raises(gr.Error):
        logins.caller(request(user="mallory"))


def test_the_events_of_one_page_share_its_session_in_whatever_order_they_finish():
    """The page's load event and an /interview typed before it finished both get the
    page's one Session: the one that finishes last must not replace the other's state."""
    ui = UI(tutor=None, accounts=Accounts({"alice": "pw", "bob": "pw"}))
    page_state = Session.unbound()
    load_event = ui.session_of(page_state, request(user="alice"))
    interview_event = ui.session_of(page_state, request(user="alice"))
    assert load_event is interview_event is page_state and page_state.user == "alice"
    assert ui.session_of(page_state, request(user="bob")) is not page_state  # never another login's
