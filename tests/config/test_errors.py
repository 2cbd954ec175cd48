"""API addresses answer errors in JSON, like the rest of the API; pages keep HTML."""

import json

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("address", ["/api/nothing-here/", "/api/items/%C2%84", "/api/mlops/x/"])
def test_an_api_address_no_route_matches_is_a_json_404(client, address):
    response = client.get(address)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_a_page_address_no_route_matches_is_an_html_404(client):
    response = client.get("/nothing-here/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_an_api_server_error_is_json(rf):
    from config.errors import server_error

    api = server_error(rf.get("/api/items"))
    page = server_error(rf.get("/shop/"))

    assert api.status_code == 500 and api["Content-Type"] == "application/json"
    assert "detail" in json.loads(api.content)
    assert page.status_code == 500 and page["Content-Type"].startswith("text/html")


def test_the_demo_shows_its_own_404_page_not_the_debug_url_list(client, settings):
    settings.DEBUG = True
    settings.FRIENDLY_ERRORS = True

    response = client.get("/no-such-page/")

    body = response.content.decode()
    assert response.status_code == 404
    assert "Page not found" in body and "Go to the start page" in body
    assert "URLconf" not in body  # DEBUG's page lists the URL patterns


def test_the_api_keeps_its_json_404_in_the_demo(client, settings):
    settings.DEBUG = True
    settings.FRIENDLY_ERRORS = True

    response = client.get("/api/no-such-thing/")

    assert response.status_code == 404 and response.json() == {"detail": "Not found."}
