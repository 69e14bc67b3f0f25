"""Chromium via Playwright (sync API): launch, one context per run, domain policy routes, network log."""

from __future__ import annotations

import contextlib
import html
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from openhelm_agent.evidence import EvidenceWriter, NetworkEntry, now_iso
from openhelm_agent.log import get_logger
from openhelm_agent.policy import DomainPolicy

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Download, Page, Request, Response, Route

log = get_logger("openhelm_agent.browser")

CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
VIEWPORT = {"width": 1280, "height": 800}
BLOCKED_STATUS = 451
# The local sandbox's egress proxy marks the responses it refuses with this header (egress_proxy.py).
PROXY_BLOCKED_HEADER = "x-openhelm-blocked"
TUNNEL_FAILED = "ERR_TUNNEL_CONNECTION_FAILED"
# BrowserSession.crashed_url when the whole browser went away rather than one page.
BROWSER_GONE = "(browser)"


def _proxy(proxy: str | None) -> dict[str, str] | None:
    return {"server": proxy} if proxy else None


@contextmanager
def launched_browser(chromium_path: str, proxy: str | None = None) -> Iterator[Browser]:
    """Start Playwright and a headless Chromium; both are stopped on exit, whatever happens."""
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            args=list(CHROMIUM_ARGS),
            proxy=_proxy(proxy),  # type: ignore[arg-type]
            timeout=60_000,
        )
        try:
            yield browser
        finally:
            try:
                browser.close()
            except Exception as exc:  # a dead browser must not hide the run's outcome
                log.warning("browser close failed", extra={"error": str(exc)})
    finally:
        playwright.stop()


def blocked_page(url: str, reason: str) -> str:
    """The HTML shown instead of a page the domain policy refuses."""
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Blocked by policy</title></head>"
        "<body><h1>Blocked by policy</h1>"
        f"<p>OpenHelm did not load <code>{html.escape(url)}</code>: {html.escape(reason)}.</p>"
        "<p>This run's domain policy does not allow this site. Do not retry it.</p></body></html>"
    )


class BrowserSession:
    """One run's browser context: policy routing, network log, and the page the agent acts on."""

    def __init__(
        self,
        browser: Browser,
        policy: DomainPolicy,
        evidence: EvidenceWriter,
        *,
        context_proxy: str | None = None,
        proxied: bool = False,
        storage_state: dict[str, Any] | None = None,
    ) -> None:
        self.policy = policy
        self.evidence = evidence
        self.crashed_url: str | None = None
        self._closing = False
        self._browser = browser
        self._proxied = proxied or context_proxy is not None
        self._pages: list[Page] = []
        self._new_page_notices: list[str] = []
        self.blocked_navigations: list[str] = []
        self._blocked_fulfilled: set[str] = set()
        self.blocked_urls: set[str] = set()
        self._pending_downloads: list[Download] = []
        self.context = browser.new_context(
            service_workers="block",
            viewport=VIEWPORT,  # type: ignore[arg-type]
            accept_downloads=True,
            proxy=_proxy(context_proxy),  # type: ignore[arg-type]
            # Cookies (session cookies without an expiry included) and local storage per origin.
            storage_state=storage_state,  # type: ignore[arg-type]
        )
        # The whole browser gone (the OOM killer may pick it rather than a renderer): every later
        # action would fail the same way, so the run ends (loop.py checks crashed_url).
        browser.on("disconnected", lambda _browser: self._on_browser_gone())
        self.context.route("**/*", self._route)
        self.context.on("page", self._on_page)
        self._inflight = 0
        self.context.on("request", self._request_started)
        self.context.on("requestfinished", self._request_ended)
        self.context.on("requestfailed", self._request_failed)
        self.context.new_page()

    @property
    def page(self) -> Page:
        """The page the agent acts on: the most recently opened tab that is still open."""
        open_pages = [p for p in self._pages if not p.is_closed()]
        if not open_pages:
            self.context.new_page()
            open_pages = [p for p in self._pages if not p.is_closed()]
        return open_pages[-1]

    def _on_page(self, page: Page) -> None:
        if self._pages:
            self._new_page_notices.append("A new tab opened and is now the current page.")
        self._pages.append(page)
        page.on("response", lambda response: self._on_response(page, response))
        page.on("crash", lambda crashed: self._on_crash(crashed))
        page.on("download", lambda download: self._pending_downloads.append(download))

    def crash(self, probe: bool = False) -> str | None:
        """What crashed (a page's URL, or BROWSER_GONE), if anything did: the crash events, or a
        browser that is no longer connected although the event has not been seen yet.

        ``probe``: first give Playwright's loop a moment (a timer in its driver, nothing sent to the
        browser), so crash events that came while this thread was busy elsewhere (a model call) are
        seen. For failure paths only: it costs ~50 ms.
        """
        if probe and self.crashed_url is None and not self._closing:
            with contextlib.suppress(Exception):  # a closed page or a gone driver: crash() below says
                self.page.wait_for_timeout(50)
        if self.crashed_url is None and not self._closing:
            try:
                if not self._browser.is_connected():
                    self.crashed_url = BROWSER_GONE
            except Exception:  # asking a broken connection: it is gone
                self.crashed_url = BROWSER_GONE
        return self.crashed_url

    def _on_browser_gone(self) -> None:
        if not self._closing and self.crashed_url is None:
            self.crashed_url = BROWSER_GONE
            log.warning("browser disconnected")

    def _on_crash(self, page: Page) -> None:
        # A renderer that dies (most often: the page used more memory than the sandbox has) leaves a
        # tab that answers nothing; the run cannot go on with it.
        self.crashed_url = page_url(page) or "about:blank"
        log.warning("page crashed", extra={"url": self.crashed_url})

    def _request_started(self, _request: Request) -> None:
        self._inflight += 1

    def _request_ended(self, _request: Request) -> None:
        self._inflight = max(0, self._inflight - 1)

    def _request_failed(self, request: Request) -> None:
        self._request_ended(request)
        try:
            # Through a proxy, a refused CONNECT (https/wss) is all Chromium sees of the egress proxy's
            # 403: log the navigation as blocked. (An upstream the proxy could not reach fails the
            # same way; the proxy's own log tells the two apart.)
            refused = self._proxied and TUNNEL_FAILED in (request.failure or "")
            if refused and self._is_top_level(request) and request.url not in self.blocked_urls:
                self._log_network(request.url, None, True)
                self.blocked_navigations.append(request.url)
                self.blocked_urls.add(request.url)
        except Exception as exc:  # events must never break the run
            log.warning("requestfailed event failed", extra={"error": str(exc)})

    def wait_for_quiet(self, quiet_ms: float = 150, max_ms: float = 1000) -> None:
        """Give the page a moment after an action: until no request has been in flight for ``quiet_ms``
        (XHR-driven updates, delayed navigations), at most ``max_ms``. Errors are ignored."""
        page = self.page
        waited = quiet = 0.0
        step = 50.0
        try:
            while waited < max_ms and quiet < quiet_ms:
                page.wait_for_timeout(step)
                waited += step
                quiet = quiet + step if self._inflight == 0 else 0.0
        except Exception:  # the page closed or navigated away under us
            return

    def keep_downloads(self) -> list[str]:
        """Keep the downloads the page started since the last call (each waited for until it ends);
        a line for the model per download, kept or not."""
        pending, self._pending_downloads = self._pending_downloads, []
        return [self.evidence.keep_download(download) for download in pending]

    def take_notices(self) -> list[str]:
        """Tab changes and blocked navigations since the last call (for the model)."""
        notices = self._new_page_notices
        self._new_page_notices = []
        for url in self.blocked_navigations:
            notices.append(f"Navigation to {url} was blocked by the domain policy; do not retry it.")
        self.blocked_navigations = []
        return notices

    def _log_network(self, url: str, status: int | None, blocked: bool) -> None:
        try:
            self.evidence.write_network(NetworkEntry(url=url, time=now_iso(), status=status, blocked=blocked))
        except OSError as exc:
            log.warning("network log write failed", extra={"error": str(exc)})

    def _on_response(self, page: Page, response: Response) -> None:
        try:
            request = response.request
            if not request.is_navigation_request() or response.frame != page.main_frame:
                return
            if response.status == BLOCKED_STATUS and response.url in self._blocked_fulfilled:
                self._blocked_fulfilled.discard(response.url)
                return  # already logged by the route handler
            # Refused by the sandbox's egress proxy (local sandbox, plain http): the proxy marks its 403.
            by_proxy = bool(response.headers.get(PROXY_BLOCKED_HEADER))
            self._log_network(response.url, response.status, by_proxy)
            if by_proxy:
                self.blocked_navigations.append(response.url)
                self.blocked_urls.add(response.url)
        except Exception as exc:  # events must never break the run
            log.warning("response event failed", extra={"error": str(exc)})

    @staticmethod
    def _is_top_level(request: Request) -> bool:
        try:
            return request.is_navigation_request() and request.frame.parent_frame is None
        except Exception:  # service-worker and detached-frame requests have no frame
            return False

    def _route(self, route: Route, request: Request) -> None:
        try:
            decision = self.policy.check_url(request.url)
            if decision.allowed:
                route.continue_()
                return
            top_level = self._is_top_level(request)
            self._log_network(request.url, BLOCKED_STATUS if top_level else None, True)
            if top_level:
                # Fulfil rather than abort: an aborted navigation leaves chrome-error:// behind and the
                # next goto from there fails; a real page tells the model (and the screenshot) why.
                self.blocked_navigations.append(request.url)
                self.blocked_urls.add(request.url)
                self._blocked_fulfilled.add(request.url)
                route.fulfill(
                    status=BLOCKED_STATUS,
                    content_type="text/html",
                    body=blocked_page(request.url, decision.reason),
                )
            else:
                route.abort("blockedbyclient")
        except Exception as exc:  # the page may have closed under the request
            log.info("route handling failed", extra={"error": str(exc)})

    def close(self) -> None:
        self._closing = True
        try:
            self.context.close()
        except Exception as exc:
            log.warning("context close failed", extra={"error": str(exc)})


def safe_title(page: Page) -> str:
    try:
        return page.title()
    except Exception:  # mid-navigation
        return ""


def page_url(page: Page) -> str:
    try:
        return page.url
    except Exception:
        return ""


def short_error(exc: BaseException, limit: int = 400) -> str:
    """First line of a Playwright error (without its call log), bounded."""
    text = str(exc).split("Call log:", 1)[0].strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return first[:limit]
