"""The pure parts of the API gateway (controller.api.apigw): route matching with path
parameters, Swagger import and export, path and verb checks."""

import pytest

from controller.api.apigw import (
    Route,
    check_path,
    check_verb,
    match_route,
    response_type_of,
    routes_from_swagger,
    swagger_of,
)
from controller.errors import ApiError

BOOK = Route("/isbn/{isbn}", "GET", "guest", "library/book", "json")
LIST = Route("/isbn/all", "GET", "guest", "library/all", "http")
ROOT = Route("/hello", "POST", "guest", "hello", "json")


def test_literal_paths_win_over_templates_and_parameters_are_extracted():
    apis = [("/books", [BOOK, LIST]), ("/", [ROOT])]
    assert match_route(apis, "/books/isbn/all", "GET") == (LIST, {})
    assert match_route(apis, "/books/isbn/978-3", "GET") == (BOOK, {"isbn": "978-3"})
    assert match_route(apis, "/books/isbn/978-3", "POST") is None
    assert match_route(apis, "/hello", "POST") == (ROOT, {})
    assert match_route(apis, "/booksx/isbn/1", "GET") is None


def test_swagger_round_trip():
    swagger = swagger_of("/books", "Books", [BOOK, LIST], "http://h/api/v1/web")
    assert swagger["paths"]["/isbn/{isbn}"]["get"]["x-openwhisk"]["url"] == (
        "http://h/api/v1/web/guest/library/book.json"
    )
    base, name, routes = routes_from_swagger(swagger, "guest")
    assert (base, name, sorted(routes, key=lambda r: r.path)) == ("/books", "Books", [LIST, BOOK])
    with pytest.raises(ApiError, match="x-openwhisk"):
        routes_from_swagger({"basePath": "/x", "paths": {"/a": {"get": {}}}}, "guest")


def test_paths_verbs_and_response_types():
    assert check_path("/hello/", "base path") == "/hello"
    for bad in ("hello", "/a//b", "/a/../b"):
        with pytest.raises(ApiError):
            check_path(bad, "relative path")
    assert check_verb("get") == "GET"
    with pytest.raises(ApiError, match="not valid"):
        check_verb("fetch")
    assert response_type_of("http://h/api/v1/web/ns/default/a.http") == "http"
    assert response_type_of("http://h/x", "text") == "text"
