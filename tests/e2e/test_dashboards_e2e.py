"""The dashboards in a real browser (system Chromium): sign in, open every page, screenshots.

The app runs on loopback with the demo data (``analysis.simulation.demo``); every request it makes
goes through ``page.route``: anything not addressed to the app's own server is aborted and
recorded, and the test fails if there was any. On the literacy page the map must draw at least
the 31 mainland provinces (counted from the features MapLibre rendered), and Plotly's "download
as PNG" must give a PNG, for a bar chart and for the map, without the network.

Screenshots: ``tests/artifacts/<test name>/`` (desktop, and the literacy page on a phone).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest

import access
from access.settings import AccessSettings
from analysis.simulation import demo
from tests.browser_support import DESKTOP, PHONE

PASSWORD = "correct horse battery staple"  # noqa: S105 - a test password
CHEAP = {"argon2_time_cost": 1, "argon2_memory_kib": 8, "argon2_parallelism": 1}
ENV = {
    "SURVEY_ACCESS_ARGON2_TIME_COST": "1",
    "SURVEY_ACCESS_ARGON2_MEMORY_KIB": "8",
    "SURVEY_ACCESS_ARGON2_PARALLELISM": "1",
}
PAGES = (  # (navigation title, page title, url path)
    ("概览", "概览", "dashboard-overview"),
    ("金融素养水平", "金融素养水平", "dashboard-literacy"),
    ("题目分析", "题目分析", "dashboard-items"),
    ("教育效果", "金融教育效果", "dashboard-effectiveness"),
    ("权重", "权重", "dashboard-weighting"),
    ("数据质量", "数据质量", "dashboard-quality"),
)


def demo_data(root: Path) -> Path:
    """The demo data ``./run.sh`` starts with (``analysis.simulation.demo``: cfl, oecd_infe
    and an edu_quiz before/after, break-offs as drafts) and an analyst account."""
    demo(root)
    access.add_user("ana.lyst", PASSWORD, role="analyst", name="Ana",
                    settings=AccessSettings(data_dir=root, **CHEAP))
    return root


class Dashboard:
    """The app in one browser page, with every outside request blocked and recorded."""

    def __init__(self, browser, server, viewport) -> None:
        self.server = server
        self.context = browser.new_context(viewport=viewport, accept_downloads=True,
                                           locale="zh-CN")
        self.page = self.context.new_page()
        self.outside: list[str] = []
        self.page.route("**/*", self._route)

    def _route(self, route) -> None:
        host = urlparse(route.request.url).hostname
        if host in ("127.0.0.1", "localhost") or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def open(self, path: str = "") -> None:
        self.page.goto(f"{self.server.url}/{path}")
        self.page.wait_for_selector("[data-testid=stMainBlockContainer]", timeout=60_000)
        self.settle()

    def settle(self, timeout: float = 120_000) -> None:
        """Wait until the app has finished running the script."""
        self.page.wait_for_function(
            "() => !document.querySelector('[data-testid=stStatusWidget]')",
            timeout=timeout,
        )
        self.page.wait_for_timeout(400)

    def sidebar(self):
        content = self.page.locator("[data-testid=stSidebarContent]")
        box = content.bounding_box() if content.count() else None
        if box is None or box["x"] < 0:  # collapsed (on a phone it sits left of the screen)
            self.page.locator("[data-testid=stExpandSidebarButton]").click()
            content.wait_for(state="visible")
            self.page.wait_for_timeout(800)  # the sidebar slides in
        return content

    def close_sidebar(self) -> None:
        """Fold the sidebar away (on a phone it covers the page)."""
        content = self.page.locator("[data-testid=stSidebarContent]")
        box = content.bounding_box() if content.count() else None
        if box is not None and box["x"] >= 0:
            self.page.locator("[data-testid=stSidebarCollapseButton] button").click()
            self.page.wait_for_timeout(800)

    def sign_in(self) -> None:
        sidebar = self.sidebar()
        sidebar.get_by_text("工作人员登录").click()
        sidebar.get_by_label("用户名").fill("ana.lyst")
        sidebar.get_by_label("密码", exact=True).fill(PASSWORD)
        sidebar.get_by_role("button", name="登录").click()
        self.page.wait_for_selector("[data-testid=stSidebarNav]", timeout=60_000)
        self.settle()

    def go(self, nav_title: str, page_title: str) -> None:
        self.sidebar().locator("[data-testid=stSidebarNav]").get_by_text(
            nav_title, exact=True).click()
        self.page.get_by_role("heading", name=page_title).first.wait_for(timeout=120_000)
        self.settle()
        self.page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)

    def screenshot(self, path: Path) -> None:
        """The whole page (the app scrolls inside its main block, so the window is made as
        tall as the content for the picture)."""
        size = self.page.viewport_size
        height = self.page.evaluate(
            "() => document.querySelector('[data-testid=stMain]').scrollHeight")
        self.page.set_viewport_size({"width": size["width"], "height": int(height)})
        self.page.wait_for_timeout(1500)
        self.page.screenshot(path=str(path), full_page=True)
        self.page.set_viewport_size(size)
        self.page.wait_for_timeout(500)

    def main_text(self) -> str:
        return str(self.page.locator("[data-testid=stMain]").inner_text())

    def close(self) -> None:
        self.context.close()


# Province codes of the polygons MapLibre drew (Plotly gives each feature the location as id).
RENDERED_PROVINCES = """() => {
  const plots = [...document.querySelectorAll('.js-plotly-plot')];
  for (const gd of plots) {
    const sub = gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
    if (!sub || !sub.map) continue;
    const fills = sub.map.queryRenderedFeatures().filter(f => f.layer.id.endsWith('-fill'));
    return [...new Set(fills.map(f => f.id))];
  }
  return null;
}"""


def download_png(dash: Dashboard, plot_index: int, artifacts: Path, name: str) -> bytes:
    """Click the mode bar's "download as PNG" of the plot and return the file's bytes."""
    plot = dash.page.locator(".js-plotly-plot").nth(plot_index)
    plot.scroll_into_view_if_needed()
    plot.hover()
    button = plot.locator(".modebar-btn[data-title='Download plot as a PNG']")
    button.wait_for(state="visible", timeout=10_000)
    with dash.page.expect_download(timeout=60_000) as info:
        button.click()
    target = artifacts / f"{name}.png"
    info.value.save_as(target)
    return target.read_bytes()


@pytest.mark.browser
def test_dashboards_in_the_browser(app_server_factory, browser, artifacts, tmp_path):
    server = app_server_factory(data_dir=demo_data(tmp_path / "data"), env=ENV)
    dash = Dashboard(browser, server, DESKTOP)
    try:
        dash.open()
        assert "金融素养水平" not in dash.main_text()
        dash.sign_in()
        for number, (nav_title, page_title, path) in enumerate(PAGES, start=1):
            dash.go(nav_title, page_title)
            text = dash.main_text()
            assert "Traceback" not in text and "Error" not in text, text[:500]
            dash.screenshot(artifacts / f"desktop-{number}-{path}.png")

        dash.go("金融素养水平", "金融素养水平")
        dash.page.wait_for_function(
            "() => [...document.querySelectorAll('.js-plotly-plot')].some(gd => "
            "gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot && "
            "gd._fullLayout.map._subplot.map && gd._fullLayout.map._subplot.map.loaded())",
            timeout=60_000,
        )
        codes = dash.page.evaluate(RENDERED_PROVINCES)
        mainland = {c for c in codes if c not in (71, 81, 82)}
        assert len(mainland) >= 31, sorted(codes)
        png = download_png(dash, 0, artifacts, "download-national-bars")
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000
        maps = [i for i in range(dash.page.locator(".js-plotly-plot").count())
                if dash.page.locator(".js-plotly-plot").nth(i).locator(".maplibregl-canvas, "
                                                                       "canvas").count()]
        png = download_png(dash, maps[0], artifacts, "download-map")
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000
        assert dash.outside == [], dash.outside
    finally:
        dash.close()


@pytest.mark.browser
def test_literacy_on_a_phone_and_no_dashboard_by_url(app_server_factory, browser, artifacts,
                                                     tmp_path):
    server = app_server_factory(data_dir=demo_data(tmp_path / "data"), env=ENV)
    stranger = Dashboard(browser, server, PHONE)
    try:
        for _, page_title, path in PAGES:
            stranger.open(path)
            text = stranger.main_text()
            assert page_title not in text and not stranger.page.locator(".js-plotly-plot").count()
        stranger.screenshot(artifacts / "respondent-by-url.png")
        assert stranger.outside == [], stranger.outside
    finally:
        stranger.close()
    phone = Dashboard(browser, server, PHONE)
    try:
        phone.open()
        phone.sign_in()
        phone.go("金融素养水平", "金融素养水平")
        phone.close_sidebar()
        phone.screenshot(artifacts / "phone-literacy.png")
        assert phone.outside == [], phone.outside
    finally:
        phone.close()
