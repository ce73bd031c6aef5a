"""What every handler of the web UI shares: the tutor, the logins, the per-user request
share, each browser session's state, and `bind`, which turns a module-level handler
`f(view, *inputs, request)` into the function Gradio calls with `*inputs`."""
from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field

import gradio as gr

from ..errors import Busy
from ..interview import Interview
from ..limits import RequestLimiter
from ..notes import Card
from ..progress import LOCAL_USER
from ..service import Learner, Tutor
from ..users import Accounts

REQUESTS_PER_USER = 2


@dataclass
class Session:
    """Per-browser-session state (gr.State gives every visitor their own). The page creates
    it unbound (`Session.unbound`, once per browser session, shared by events that run at
    the same time: a question typed while the page is still loading must not lose its
    interview to the load event's fresh state); the first handler binds it to the login."""

    user: str = ""
    last_card: Card | None = None  # what "详细一点" expands
    interview: Interview | None = None
    practise_ids: list[str] = field(default_factory=list)  # the weakest cards the progress tab shows
    shown_cards: list[str] = field(default_factory=list)  # the card ids of the knowledge table's rows
    again_ids: list[str] = field(default_factory=list)  # the last interview's cards that went less than well

    @classmethod
    def unbound(cls) -> Session:
        # gr.State needs a function here, not the class: Gradio serialises a dataclass
        # class given as a value (asdict fails) instead of calling it
        return cls()


@dataclass
class UI:
    tutor: Tutor
    accounts: Accounts | None = None
    limiter: RequestLimiter = field(default_factory=lambda: RequestLimiter(REQUESTS_PER_USER))

    def user_of(self, request: gr.Request | None) -> str:
        """The logged-in user (never a request parameter); one local user without logins."""
        if self.accounts is None:
            return LOCAL_USER
        name = getattr(request, "username", None)
        if not name or name not in self.accounts.passwords:
            raise gr.Error("请先登录 Please log in")
        return name

    def session_of(self, state: Session | None, request: gr.Request | None) -> Session:
        user = self.user_of(request)
        if isinstance(state, Session) and not state.user:
            state.user = user
        # a tab's state never carries over to another login
        return state if isinstance(state, Session) and state.user == user else Session(user)

    def learner(self, session: Session) -> Learner:
        return self.tutor.learner(session.user)

    def caller(self, request: gr.Request | None) -> str:
        """Whose share of the server a request uses: the login, or (without logins) the
        client's address (a session id is the client's to choose)."""
        if self.accounts is not None:
            return "user:" + self.user_of(request)
        client = getattr(request, "client", None)
        return "address:" + str(getattr(client, "host", None) or "unknown")

    def guarded(self, handler, on_busy=None):
        """At most REQUESTS_PER_USER requests per caller at once; more are refused at once
        (waiting would hold a worker others need): a toast, or `on_busy(error)`'s value."""
        @functools.wraps(handler)
        def run(*args, **kwargs):
            request = next((a for a in (*args, *kwargs.values()) if isinstance(a, gr.Request)), None)
            try:
                with self.limiter.hold(self.caller(request)):
                    return handler(*args, **kwargs)
            except Busy as error:
                if on_busy is None:
                    raise gr.Error(f"请稍候 busy: {error}") from None
                return on_busy(error)
        return run


def bind(handler, *values):
    """`handler` with its first parameters fixed to `values`, as a plain function whose
    signature lists only the rest: Gradio reads that signature to pass the inputs, the
    request and event data, and to describe API endpoints."""
    signature = inspect.signature(handler)
    parameters = list(signature.parameters.values())
    fixed = {p.name for p in parameters[: len(values)]}

    @functools.wraps(handler)
    def call(*args, **kwargs):
        return handler(*values, *args, **kwargs)

    call.__signature__ = signature.replace(parameters=parameters[len(values):])
    call.__annotations__ = {k: v for k, v in handler.__annotations__.items() if k not in fixed}
    return call
