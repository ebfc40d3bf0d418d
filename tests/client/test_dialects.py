from __future__ import annotations

from urllib.parse import unquote

import pytest

from reconciler.client.dialects import endpoints_for
from reconciler.config import Dialect, Target
from reconciler.errors import InvalidOption


def target(base_url: str = "https://bp.example.com", dialect: Dialect = "classic", *, tenant: str = "acme",
           list_name: str = "List_1.txt", campaign: str = "Camp_1") -> Target:
    return Target(base_url=base_url, tenant=tenant, list_name=list_name, campaign=campaign, dialect=dialect)


@pytest.mark.parametrize(("dialect", "query", "page", "token"), [
    ("classic",
     "https://bp.example.com/admin/ws/t/acme/callinglist/get/List_1.txt/Camp_1",
     "https://bp.example.com/admin/ws/t/acme/callinglist/getAll/List_1.txt/Camp_1",
     None),
    ("v2",
     "https://bp.example.com/configapi/v2/callinglist/get/List_1.txt/Camp_1",
     "https://bp.example.com/configapi/v2/callinglist/getAll/List_1.txt/Camp_1",
     "https://bp.example.com/configapi/v2/oauth/token"),
])
def test_each_dialect_has_its_endpoints(dialect: Dialect, query: str, page: str, token: str | None) -> None:
    endpoints = endpoints_for(target(dialect=dialect))
    assert str(endpoints.query) == query
    assert str(endpoints.page) == page
    assert (str(endpoints.token) if endpoints.token else None) == token


@pytest.mark.parametrize("base_url", [
    "https://bp.example.com", "https://bp.example.com/", "https://bp.example.com//",
])
def test_a_trailing_slash_on_the_base_url_is_ignored(base_url: str) -> None:
    assert endpoints_for(target(base_url)).query.raw_path == "/admin/ws/t/acme/callinglist/get/List_1.txt/Camp_1"


@pytest.mark.parametrize("base_url", ["https://proxy.example.com/bp", "https://proxy.example.com/bp/"])
def test_a_path_prefix_on_the_base_url_is_kept(base_url: str) -> None:
    endpoints = endpoints_for(target(base_url, "v2"))
    assert endpoints.query.raw_path == "/bp/configapi/v2/callinglist/get/List_1.txt/Camp_1"
    assert endpoints.token is not None and endpoints.token.raw_path == "/bp/configapi/v2/oauth/token"


def test_a_port_is_kept() -> None:
    assert str(endpoints_for(target("http://127.0.0.1:8443")).page).startswith("http://127.0.0.1:8443/admin/")


HOSTILE = "a/../b?x#y é"


@pytest.mark.parametrize("dialect", ["classic", "v2"])
def test_every_name_is_exactly_one_path_segment_whatever_it_holds(dialect: Dialect) -> None:
    endpoints = endpoints_for(target(dialect=dialect, tenant=HOSTILE, list_name=HOSTILE, campaign="../" + HOSTILE))
    for url in (endpoints.query, endpoints.page):
        segments = url.raw_path.split("/")
        assert [unquote(s) for s in segments[-2:]] == [HOSTILE, "../" + HOSTILE]
        assert url.raw_query_string == "" and url.raw_fragment == ""
        assert ".." not in segments and "." not in segments
        if dialect == "classic":
            assert segments[1:6] == ["admin", "ws", "t", "a%2F..%2Fb%3Fx%23y%20%C3%A9", "callinglist"]
    assert endpoints.query.raw_path.endswith("/get/a%2F..%2Fb%3Fx%23y%20%C3%A9/..%2Fa%2F..%2Fb%3Fx%23y%20%C3%A9")


@pytest.mark.parametrize(("field", "option"), [("list_name", "--list"), ("campaign", "--campaign"),
                                               ("tenant", "--tenant")])
@pytest.mark.parametrize("name", [".", ".."])
def test_a_name_that_is_a_dot_segment_is_refused(field: str, option: str, name: str) -> None:
    with pytest.raises(InvalidOption) as raised:
        endpoints_for(target(**{field: name}))  # type: ignore[arg-type]
    assert raised.value.option == option


@pytest.mark.parametrize("base_url", ["https://bp.example.com/?debug=1", "https://bp.example.com/#x", "http://"])
def test_a_base_url_with_a_query_or_without_host_is_refused(base_url: str) -> None:
    with pytest.raises(InvalidOption) as raised:
        endpoints_for(target(base_url))
    assert raised.value.option == "--base-url"
